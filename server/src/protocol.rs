//! The DynamoDB JSON 1.0 protocol: from an HTTP request's parts to an engine request, and from
//! an engine answer to an HTTP response. No sockets here: [`Service::handle`] is a plain
//! function, so tests can drive it directly and the simulator can host it.

use crate::auth;
use crate::durability::Durability;
use dynasim_engine::api::*;
use dynasim_engine::error::{Error, ErrorKind};
use dynasim_engine::limits::REQUEST_BODY_BYTES_MAX;
use dynasim_engine::{Config, Engine};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The operations of DynamoDB's current API that dynasim does not implement yet. They answer
/// a clear error rather than "unknown operation"; `docs/compatibility.md` lists them.
pub const NOT_IMPLEMENTED: [&str; 37] = [
    "BatchExecuteStatement",
    "CreateBackup",
    "CreateGlobalTable",
    "DeleteBackup",
    "DeleteResourcePolicy",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DescribeTableReplicaAutoScaling",
    "DescribeTimeToLive",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExecuteStatement",
    "ExecuteTransaction",
    "ExportTableToPointInTime",
    "GetResourcePolicy",
    "ImportTable",
    "ListBackups",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "PutResourcePolicy",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "SearchVectors",
    "TransactGetItems",
    "TransactWriteItems",
    "UpdateContinuousBackups",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateKinesisStreamingDestination",
    "UpdateTableReplicaAutoScaling",
    "UpdateTimeToLive",
];

pub use crate::message::{HttpRequest, HttpResponse};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// Responses larger than this are compressed when the client accepts it (obs: 4 KB).
const COMPRESS_ABOVE_BYTES: usize = 4096;

/// Where the service reads time from: the real clock (simulated under madsim).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One engine behind a lock, plus what the wire needs around it.
pub struct Service {
    engine: Mutex<Engine>,
    /// With `--data-dir`: the log every change goes to before its answer.
    durability: Option<Durability>,
    request_count: AtomicU64,
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    crate::json::decode(body)
}

fn decode_request(operation: &str, body: &[u8]) -> Result<Request, Error> {
    Ok(match operation {
        "CreateTable" => Request::CreateTable(decode(body)?),
        "DescribeTable" => Request::DescribeTable(decode(body)?),
        "ListTables" => Request::ListTables(decode(body)?),
        "UpdateTable" => Request::UpdateTable(decode(body)?),
        "DeleteTable" => Request::DeleteTable(decode(body)?),
        "DescribeLimits" => {
            decode::<Empty>(body)?;
            Request::DescribeLimits
        }
        "DescribeEndpoints" => {
            decode::<Empty>(body)?;
            Request::DescribeEndpoints
        }
        "TagResource" => Request::TagResource(decode(body)?),
        "UntagResource" => Request::UntagResource(decode(body)?),
        "ListTagsOfResource" => Request::ListTagsOfResource(decode(body)?),
        "PutItem" => Request::PutItem(decode(body)?),
        "GetItem" => Request::GetItem(decode(body)?),
        "UpdateItem" => Request::UpdateItem(decode(body)?),
        "DeleteItem" => Request::DeleteItem(decode(body)?),
        "BatchGetItem" => Request::BatchGetItem(decode(body)?),
        "BatchWriteItem" => Request::BatchWriteItem(decode(body)?),
        "Query" => Request::Query(decode(body)?),
        "Scan" => Request::Scan(decode(body)?),
        "UpdateContributorInsights" => Request::UpdateContributorInsights(decode(body)?),
        "DescribeContributorInsights" => Request::DescribeContributorInsights(decode(body)?),
        "ListContributorInsights" => Request::ListContributorInsights(decode(body)?),
        other if NOT_IMPLEMENTED.contains(&other) => {
            return Err(Error::operation_not_implemented(other));
        }
        _ => return Err(Error::unknown_operation()),
    })
}

/// Decompresses a request body sent with `Content-Encoding`, refusing more than the body limit.
fn decompress(encoding: &str, body: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let limit = REQUEST_BODY_BYTES_MAX as u64 + 1;
    let result = match encoding {
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        "deflate" => {
            // HTTP's "deflate" is zlib-wrapped; some clients send raw deflate. Accept both.
            let zlib = flate2::read::ZlibDecoder::new(body)
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(body)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        "identity" | "" => return Ok(body.to_vec()),
        other => {
            return Err(Error::content_encoding_unsupported(other));
        }
    };
    result.map_err(|_| Error::content_encoding_invalid(encoding))?;
    if out.len() > REQUEST_BODY_BYTES_MAX {
        return Err(Error::request_too_large());
    }
    Ok(out)
}

/// The JSON body of an error answer.
pub fn error_body(error: &Error) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), error.kind.type_name().into());
    if !error.message.is_empty() {
        body.insert("message".into(), error.message.clone().into());
    }
    if let Some(item) = &error.item {
        body.insert(
            "Item".into(),
            serde_json::to_value(item).expect("items serialize"),
        );
    }
    if !error.throttling_reasons.is_empty() {
        // The service model spells the member in lower camel case on ThrottlingException.
        let member = if error.kind == ErrorKind::Throttling {
            "throttlingReasons"
        } else {
            "ThrottlingReasons"
        };
        let reasons: Vec<serde_json::Value> = error
            .throttling_reasons
            .iter()
            .map(|r| serde_json::json!({"reason": r.reason, "resource": r.resource}))
            .collect();
        body.insert(member.into(), reasons.into());
    }
    serde_json::to_vec(&body).expect("maps serialize")
}

impl Service {
    pub fn new(config: Config) -> Service {
        Service::with_engine(Engine::new(config))
    }

    /// A service around an engine built elsewhere (with a realism profile, say).
    pub fn with_engine(engine: Engine) -> Service {
        Service {
            engine: Mutex::new(engine),
            durability: None,
            request_count: AtomicU64::new(0),
        }
    }

    /// A service whose engine was recovered by `log` (`Durable::open`): every change is
    /// appended to the log, and every answer waits until what it shows is durable.
    pub fn with_log(engine: Engine, log: dynasim_engine::storage::durable::Durable) -> Service {
        Service {
            engine: Mutex::new(engine),
            durability: Some(Durability::new(log)),
            request_count: AtomicU64::new(0),
        }
    }

    /// The address DescribeEndpoints reports (known once the listener is bound).
    pub fn set_endpoint_address(&self, address: String) {
        let mut engine = match self.engine.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        engine.set_endpoint_address(address);
    }

    /// At shutdown: snapshots the engine, so that the next start replays no log.
    pub fn close(&self) {
        if let Some(durability) = &self.durability {
            let engine = match self.engine.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            durability.snapshot(&engine);
        }
    }

    /// Runs `f` with the engine locked (for `/metrics` and tests).
    pub fn with_engine_locked<T>(&self, f: impl FnOnce(&Engine) -> T) -> T {
        let engine = match self.engine.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&engine)
    }

    /// Does the engine's time-driven work due by `now_ms` and returns when more is next due
    /// (the engine's `handle_timeout`, then `poll_timeout`).
    pub fn handle_timeout(&self, now_ms: u64) -> Option<u64> {
        let mut engine = match self.engine.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        engine.handle_timeout(now_ms);
        if let Some(durability) = &self.durability {
            // Time-driven changes answer nobody; the next sync makes them durable.
            durability.append(&mut engine);
        }
        engine.poll_timeout()
    }

    fn request_id(&self) -> String {
        request_id(self.request_count.fetch_add(1, Ordering::Relaxed))
    }

    /// Executes one engine request, turning a panic into an InternalServerError so that one
    /// bad request cannot take the server down.
    pub fn execute(&self, request: Request, now_ms: u64) -> Result<Response, Error> {
        let (result, wait) = self.execute_logged(request, now_ms);
        self.settle_blocking(result, wait)
    }

    /// A result once the log position it waits for is durable (synced on this thread).
    fn settle_blocking<T>(&self, result: Result<T, Error>, wait: Option<u64>) -> Result<T, Error> {
        match (&self.durability, wait) {
            (Some(durability), Some(lsn)) if !durability.wait_blocking(lsn) => {
                Err(storage_failed())
            }
            _ => result,
        }
    }

    /// [`execute`](Self::execute) without waiting: the result, and the log position that
    /// must be durable before it is given to the client.
    fn execute_logged(
        &self,
        request: Request,
        now_ms: u64,
    ) -> (Result<Response, Error>, Option<u64>) {
        if self
            .durability
            .as_ref()
            .is_some_and(|d| d.failure().is_some())
        {
            return (Err(storage_failed()), None);
        }
        let mut engine = match self.engine.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let table = request.table_name().map(str::to_string);
        let started = std::time::Instant::now();
        let result =
            match std::panic::catch_unwind(AssertUnwindSafe(|| engine.execute(request, now_ms))) {
                Ok(result) => result,
                Err(_) => Err(Error::internal()),
            };
        let latency_us = started.elapsed().as_micros() as u64;
        engine.record_request(
            table.as_deref(),
            result.as_ref().err().map(|e| e.kind),
            latency_us,
            now_ms,
        );
        match &self.durability {
            None => (result, None),
            Some(durability) => match durability.append(&mut engine) {
                Some(lsn) => (result, Some(lsn)),
                None => (Err(storage_failed()), None),
            },
        }
    }

    /// Answers one HTTP request (syncing the log on this thread when there is one).
    pub fn handle(&self, request: &HttpRequest, now_ms: u64) -> HttpResponse {
        let (response, wait) = self.handle_logged(request, now_ms);
        match self.settle_blocking(Ok(response), wait) {
            Ok(response) => response,
            Err(error) => http_response(request, Err(error), &self.request_id()),
        }
    }

    /// Answers one HTTP request, waiting for the log without blocking the runtime: requests
    /// that arrive meanwhile share the next sync.
    pub async fn handle_async(&self, request: &HttpRequest, now_ms: u64) -> HttpResponse {
        let (response, wait) = self.handle_logged(request, now_ms);
        match (&self.durability, wait) {
            (Some(durability), Some(lsn)) if !durability.wait(lsn).await => {
                http_response(request, Err(storage_failed()), &self.request_id())
            }
            _ => response,
        }
    }

    fn handle_logged(&self, request: &HttpRequest, now_ms: u64) -> (HttpResponse, Option<u64>) {
        let request_id = self.request_id();
        if request.method == "GET" && request.path == "/metrics" {
            let text = self.with_engine_locked(crate::metrics::render);
            let response = finish(
                200,
                text.into_bytes(),
                "text/plain; version=0.0.4",
                &request_id,
                "",
            );
            return (response, None);
        }
        if request.method == "GET" && request.path == "/metrics/series" {
            let text = self.with_engine_locked(crate::metrics::series);
            let response = finish(200, text.into_bytes(), "application/json", &request_id, "");
            return (response, None);
        }
        if request.method == "GET" && request.path == "/" {
            let response = finish(
                200,
                b"healthy: dynasim ".to_vec(),
                "text/plain",
                &request_id,
                "",
            );
            return (response, None);
        }
        let (answer, wait) = match decode_http(request, now_ms) {
            Ok(decoded) => self.execute_logged(decoded, now_ms),
            Err(error) => (Err(error), None),
        };
        let body = answer.map(|response| match response {
            Response::NoBody => Vec::new(),
            response => serde_json::to_vec(&response).expect("responses serialize"),
        });
        (http_response(request, body, &request_id), wait)
    }
}

/// The answer once the data directory has failed (see `durability`).
fn storage_failed() -> Error {
    Error::new(
        ErrorKind::InternalServerError,
        "The server could not make the change durable: its data directory failed. Restart it.",
    )
}

/// The HTTP response for an answer (a JSON body) or an error, compressed when the request
/// accepts it.
pub fn http_response(
    request: &HttpRequest,
    body: Result<Vec<u8>, Error>,
    request_id: &str,
) -> HttpResponse {
    let accept = request
        .header("accept-encoding")
        .unwrap_or("")
        .to_ascii_lowercase();
    let (status, body) = match body {
        Ok(body) => (200, body),
        Err(error) => {
            let status = if error.kind == ErrorKind::UnknownOperation && request.method != "POST" {
                404
            } else {
                error.kind.http_status()
            };
            (status, error_body(&error))
        }
    };
    finish(status, body, CONTENT_TYPE, request_id, &accept)
}

/// Checks an HTTP request's method, path, content type, target and signature shape, and
/// decodes its body into an engine request: everything the service does before executing.
pub fn decode_http(request: &HttpRequest, now_ms: u64) -> Result<Request, Error> {
    {
        if request.method != "POST" || request.path != "/" {
            return Err(Error::unknown_operation());
        }
        let content_type = request.header("content-type").unwrap_or("");
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            media_type.as_str(),
            "application/x-amz-json-1.0" | "application/json"
        ) {
            return Err(Error::unknown_operation());
        }
        let target = request.header("x-amz-target").unwrap_or("");
        let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
            return Err(Error::unknown_operation());
        };
        auth::check_shape(request, now_ms)?;
        let body = match request.header("content-encoding") {
            Some(encoding) => decompress(&encoding.trim().to_ascii_lowercase(), &request.body)?,
            None => request.body.clone(),
        };
        if body.len() > REQUEST_BODY_BYTES_MAX {
            return Err(Error::request_too_large());
        }
        decode_request(operation, &body)
    }
}

/// The `n`-th opaque request id, in AWS's shape: 52 upper-case letters and digits.
pub fn request_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = 0;
    (0..52)
        .map(|i: u64| {
            // Twelve base-36 digits use up one 64-bit draw; take a fresh one for each run.
            if i.is_multiple_of(12) {
                state = mix(n.wrapping_mul(8).wrapping_add(i / 12));
            }
            let c = ALPHABET[(state % 36) as usize] as char;
            state /= 36;
            c
        })
        .collect()
}

fn mix(n: u64) -> u64 {
    // A fixed mixing function (splitmix64): ids are unique per process and reproducible.
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn finish(
    status: u16,
    body: Vec<u8>,
    content_type: &str,
    request_id: &str,
    accept: &str,
) -> HttpResponse {
    let mut headers = vec![
        ("x-amzn-requestid", request_id.to_string()),
        ("content-type", content_type.to_string()),
    ];
    let body = if body.len() > COMPRESS_ABOVE_BYTES
        && (accept.contains("gzip") || accept.contains("deflate"))
    {
        use std::io::Write;
        if accept.contains("gzip") {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&body).expect("writing to memory");
            headers.push(("content-encoding", "gzip".into()));
            encoder.finish().expect("writing to memory")
        } else {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&body).expect("writing to memory");
            headers.push(("content-encoding", "deflate".into()));
            encoder.finish().expect("writing to memory")
        }
    } else {
        body
    };
    // AWS computes the checksum over the bytes it sends (compressed, when compressed).
    headers.push(("x-amz-crc32", crc32fast::hash(&body).to_string()));
    HttpResponse {
        status,
        headers,
        body,
    }
}
