//! `dynasim streams tail TABLE`: prints a table's stream records as they arrive, for people
//! watching their application. It reads the table's latest stream the way the Kinesis adapter
//! does: every shard, a child only once its parent is drained, polling open shards.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

/// A well-formed SigV4 header scoped to `region` (the endpoint checks the shape and answers
/// from that region's catalog; signatures are not verified).
fn authorization(region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDDYNASIMTAIL/20260101/{region}/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"
    )
}

/// The server and the region asked.
struct Endpoint<'a> {
    url: &'a str,
    region: &'a str,
}

pub struct Tail {
    pub endpoint: String,
    /// The region whose table it is.
    pub region: String,
    pub table: String,
    /// Start at each shard's oldest record instead of after its newest.
    pub from_start: bool,
    /// Print each record as its JSON.
    pub json: bool,
    /// Stop after this many records.
    pub count: Option<u64>,
    pub interval_ms: u64,
}

/// One call: `target` is `DynamoDB_20120810` or `DynamoDBStreams_20120810`.
fn call(
    endpoint: &Endpoint<'_>,
    target: &str,
    operation: &str,
    body: &Value,
) -> Result<Value, String> {
    let authorization = authorization(endpoint.region);
    let address = endpoint
        .url
        .strip_prefix("http://")
        .ok_or("the endpoint must start with http://")?
        .trim_end_matches('/');
    let mut stream =
        TcpStream::connect(address).map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let body = body.to_string();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: {target}.{operation}\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the server sent no HTTP response")?;
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if head.starts_with("HTTP/1.1 200") {
        return Ok(json);
    }
    let kind = json["__type"].as_str().unwrap_or("error");
    let kind = kind.rsplit('#').next().unwrap_or(kind);
    Err(format!(
        "{operation}: {kind}: {}",
        json["message"].as_str().unwrap_or("")
    ))
}

fn streams(endpoint: &Endpoint<'_>, operation: &str, body: Value) -> Result<Value, String> {
    call(endpoint, "DynamoDBStreams_20120810", operation, &body)
}

/// Every shard of the stream, all pages.
fn shards(endpoint: &Endpoint<'_>, arn: &str) -> Result<Vec<Value>, String> {
    let mut all = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut body = json!({"StreamArn": arn});
        if let Some(s) = &start {
            body["ExclusiveStartShardId"] = json!(s);
        }
        let description = streams(endpoint, "DescribeStream", body)?["StreamDescription"].take();
        all.extend(
            description["Shards"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match description["LastEvaluatedShardId"].as_str() {
            Some(id) => start = Some(id.to_string()),
            None => return Ok(all),
        }
    }
}

/// A record as one line: time, event, keys, and the images it carries.
fn line(record: &Value) -> String {
    let body = &record["dynamodb"];
    let mut text = format!(
        "{} {:<6} {}",
        body["SequenceNumber"].as_str().unwrap_or(""),
        record["eventName"].as_str().unwrap_or(""),
        body["Keys"]
    );
    for image in ["OldImage", "NewImage"] {
        if let Some(value) = body.get(image) {
            text.push_str(&format!(" {image}={value}"));
        }
    }
    if record.get("userIdentity").is_some() {
        text.push_str(" (Time to Live)");
    }
    text
}

/// What the tail knows of each shard: its iterator while it is read, or that it is drained.
enum Reading {
    At(String),
    Drained,
}

/// Prints a GetRecords answer's records; whether `options.count` is reached.
fn print(options: &Tail, answer: &Value, printed: &mut u64) -> bool {
    let mut out = std::io::stdout().lock();
    for record in answer["Records"].as_array().into_iter().flatten() {
        let text = if options.json {
            record.to_string()
        } else {
            line(record)
        };
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
        *printed += 1;
        if options.count.is_some_and(|c| *printed >= c) {
            return true;
        }
    }
    false
}

pub fn tail(options: &Tail) -> ExitCode {
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dynasim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Tail) -> Result<(), String> {
    let endpoint = &Endpoint {
        url: &options.endpoint,
        region: &options.region,
    };
    let table = call(
        endpoint,
        "DynamoDB_20120810",
        "DescribeTable",
        &json!({"TableName": options.table}),
    )?;
    let arn = table["Table"]["LatestStreamArn"]
        .as_str()
        .ok_or_else(|| format!("table {} has no stream", options.table))?
        .to_string();
    let mut reading: BTreeMap<String, Reading> = BTreeMap::new();
    let mut known_at_start: Option<BTreeSet<String>> = None;
    let mut printed = 0;
    loop {
        let shards = shards(endpoint, &arn)?;
        let ids: BTreeSet<String> = shards
            .iter()
            .filter_map(|s| s["ShardId"].as_str().map(String::from))
            .collect();
        let at_start = known_at_start.get_or_insert_with(|| ids.clone());
        for shard in &shards {
            let id = shard["ShardId"].as_str().unwrap_or("").to_string();
            if reading.contains_key(&id) {
                continue;
            }
            // A child waits for its parent (if the stream still has it) to be drained.
            let parent = shard["ParentShardId"].as_str();
            if parent.is_some_and(|p| {
                ids.contains(p) && !matches!(reading.get(p), Some(Reading::Drained))
            }) {
                continue;
            }
            let latest = !options.from_start && at_start.contains(&id);
            let kind = if latest { "LATEST" } else { "TRIM_HORIZON" };
            let body = json!({"StreamArn": arn, "ShardId": id, "ShardIteratorType": kind});
            let iterator = streams(endpoint, "GetShardIterator", body)?["ShardIterator"]
                .as_str()
                .unwrap_or("")
                .to_string();
            reading.insert(id, Reading::At(iterator));
        }
        for state in reading.values_mut() {
            let Reading::At(iterator) = state else {
                continue;
            };
            let answer = streams(endpoint, "GetRecords", json!({"ShardIterator": iterator}))?;
            if print(options, &answer, &mut printed) {
                return Ok(());
            }
            *state = match answer["NextShardIterator"].as_str() {
                Some(next) => Reading::At(next.to_string()),
                None => Reading::Drained,
            };
        }
        std::thread::sleep(Duration::from_millis(options.interval_ms));
    }
}
