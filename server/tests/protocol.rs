//! Wire-level tests of the protocol layer: requests as clients send them, responses as bytes,
//! snapshotted with insta.

use dynasim_engine::Config;
use dynasim_server::{HttpRequest, HttpResponse, Service};
use std::io::{Read, Write};

const NOW_MS: u64 = 1_795_000_000_000;

fn request(operation: &str, body: &str) -> HttpRequest {
    dynasim_server::fuzzing::request(operation, body.as_bytes())
}

fn call(service: &Service, operation: &str, body: &str) -> HttpResponse {
    service.handle(&request(operation, body), NOW_MS)
}

/// A stable rendering of a response: status, headers other than the request id, JSON body.
fn render(response: &HttpResponse) -> String {
    let mut headers: Vec<String> = response
        .headers
        .iter()
        .filter(|(n, _)| *n != "x-amzn-requestid")
        .map(|(n, v)| format!("{n}: {v}"))
        .collect();
    headers.sort();
    let body = if response.body.is_empty() {
        "<empty>".to_string()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
        serde_json::to_string_pretty(&value).unwrap()
    };
    format!("{}\n{}\n{}", response.status, headers.join("\n"), body)
}

fn service_with_table() -> Service {
    let service = Service::new(Config::default());
    let created = call(
        &service,
        "CreateTable",
        r#"{"TableName":"Music","KeySchema":[{"AttributeName":"Artist","KeyType":"HASH"},{"AttributeName":"SongTitle","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"Artist","AttributeType":"S"},{"AttributeName":"SongTitle","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#,
    );
    assert_eq!(created.status, 200, "{}", render(&created));
    service
}

#[test]
fn create_and_describe_table() {
    let service = Service::new(Config::default());
    let created = call(
        &service,
        "CreateTable",
        r#"{"TableName":"Music","KeySchema":[{"AttributeName":"Artist","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"Artist","AttributeType":"S"}],"ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5},"Tags":[{"Key":"team","Value":"a"}]}"#,
    );
    insta::assert_snapshot!("create_table", render(&created));
    insta::assert_snapshot!(
        "describe_table",
        render(&call(&service, "DescribeTable", r#"{"TableName":"Music"}"#))
    );
    insta::assert_snapshot!(
        "create_table_again",
        render(&call(
            &service,
            "CreateTable",
            r#"{"TableName":"Music","KeySchema":[{"AttributeName":"Artist","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"Artist","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#
        ))
    );
}

#[test]
fn item_round_trip_and_conditional_failure() {
    let service = service_with_table();
    let put = call(
        &service,
        "PutItem",
        r#"{"TableName":"Music","Item":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"},"Year":{"N":"2015.0"},"Tags":{"SS":["b","a"]},"Blob":{"B":"AAEC"}},"ReturnConsumedCapacity":"INDEXES"}"#,
    );
    insta::assert_snapshot!("put_item", render(&put));
    let get = call(
        &service,
        "GetItem",
        r#"{"TableName":"Music","Key":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"}},"ConsistentRead":true,"ReturnConsumedCapacity":"TOTAL"}"#,
    );
    insta::assert_snapshot!("get_item", render(&get));
    let failed = call(
        &service,
        "PutItem",
        r#"{"TableName":"Music","Item":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"}},"ConditionExpression":"attribute_not_exists(Artist)","ReturnValuesOnConditionCheckFailure":"ALL_OLD"}"#,
    );
    insta::assert_snapshot!("conditional_check_failed", render(&failed));
}

#[test]
fn query_page_with_last_evaluated_key() {
    let service = service_with_table();
    for title in ["a", "b", "c", "d"] {
        let body = format!(
            r#"{{"TableName":"Music","Item":{{"Artist":{{"S":"x"}},"SongTitle":{{"S":"{title}"}}}}}}"#
        );
        assert_eq!(call(&service, "PutItem", &body).status, 200);
    }
    let page = call(
        &service,
        "Query",
        r#"{"TableName":"Music","KeyConditionExpression":"Artist = :a AND SongTitle > :t","ExpressionAttributeValues":{":a":{"S":"x"},":t":{"S":"a"}},"Limit":2,"ScanIndexForward":false,"ReturnConsumedCapacity":"TOTAL"}"#,
    );
    insta::assert_snapshot!("query_page", render(&page));
}

#[test]
fn transactions() {
    let service = service_with_table();
    let put = r#"{"TableName":"Music","Item":{"Artist":{"S":"a"},"SongTitle":{"S":"s"},"Plays":{"N":"1"}}}"#;
    assert_eq!(call(&service, "PutItem", put).status, 200);
    insta::assert_snapshot!(
        "transaction_committed",
        render(&call(
            &service,
            "TransactWriteItems",
            r#"{"TransactItems":[{"Update":{"TableName":"Music","Key":{"Artist":{"S":"a"},"SongTitle":{"S":"s"}},"UpdateExpression":"SET Plays = Plays + :one","ExpressionAttributeValues":{":one":{"N":"1"}}}},{"Put":{"TableName":"Music","Item":{"Artist":{"S":"b"},"SongTitle":{"S":"t"}}}}],"ReturnConsumedCapacity":"INDEXES"}"#,
        ))
    );
    insta::assert_snapshot!(
        "transaction_canceled",
        render(&call(
            &service,
            "TransactWriteItems",
            r#"{"TransactItems":[{"Put":{"TableName":"Music","Item":{"Artist":{"S":"c"},"SongTitle":{"S":"u"}}}},{"ConditionCheck":{"TableName":"Music","Key":{"Artist":{"S":"a"},"SongTitle":{"S":"s"}},"ConditionExpression":"Plays > :n","ExpressionAttributeValues":{":n":{"N":"5"}},"ReturnValuesOnConditionCheckFailure":"ALL_OLD"}}]}"#,
        ))
    );
    insta::assert_snapshot!(
        "transact_get_items",
        render(&call(
            &service,
            "TransactGetItems",
            r#"{"TransactItems":[{"Get":{"TableName":"Music","Key":{"Artist":{"S":"a"},"SongTitle":{"S":"s"}}}},{"Get":{"TableName":"Music","Key":{"Artist":{"S":"z"},"SongTitle":{"S":"z"}}}}],"ReturnConsumedCapacity":"TOTAL"}"#,
        ))
    );
}

#[test]
fn protocol_errors() {
    let service = service_with_table();
    insta::assert_snapshot!(
        "unknown_operation",
        render(&call(&service, "Frobnicate", "{}"))
    );
    insta::assert_snapshot!(
        "not_implemented",
        render(&call(&service, "ExecuteTransaction", "{}"))
    );
    insta::assert_snapshot!(
        "malformed_json",
        render(&call(&service, "GetItem", "{\"TableName\":"))
    );
    insta::assert_snapshot!(
        "wrong_json_type",
        render(&call(&service, "GetItem", r#"{"TableName":5}"#))
    );
    insta::assert_snapshot!(
        "missing_table",
        render(&call(
            &service,
            "GetItem",
            r#"{"TableName":"Nope","Key":{"a":{"S":"b"}}}"#
        ))
    );
    insta::assert_snapshot!(
        "null_members",
        render(&call(&service, "CreateTable", r#"{"TableName":"x"}"#))
    );
    let mut unsigned = request("ListTables", "{}");
    unsigned.headers.retain(|(n, _)| n != "authorization");
    insta::assert_snapshot!(
        "missing_authentication",
        render(&service.handle(&unsigned, NOW_MS))
    );
    let mut partial = request("ListTables", "{}");
    partial.headers.retain(|(n, _)| n != "authorization");
    partial.headers.push((
        "authorization".into(),
        "AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/dynamodb/aws4_request".into(),
    ));
    insta::assert_snapshot!(
        "incomplete_signature",
        render(&service.handle(&partial, NOW_MS))
    );
}

#[test]
fn pathological_inputs_get_errors_not_crashes() {
    let service = service_with_table();
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let response = call(&service, "GetItem", &deep_json);
    assert_eq!(response.status, 400);
    assert!(String::from_utf8_lossy(&response.body).contains("SerializationException"));

    let mut nested = r#"{"S":"x"}"#.to_string();
    for _ in 0..40 {
        nested = format!(r#"{{"L":[{nested}]}}"#);
    }
    let body = format!(
        r#"{{"TableName":"Music","Item":{{"Artist":{{"S":"a"}},"SongTitle":{{"S":"b"}},"deep":{nested}}}}}"#
    );
    let response = call(&service, "PutItem", &body);
    assert_eq!(response.status, 400);
    assert!(
        String::from_utf8_lossy(&response.body)
            .contains("Nesting Levels have exceeded supported limits")
    );

    let parens = format!("{}Artist = :a{}", "(".repeat(2000), ")".repeat(2000));
    let body = serde_json::json!({"TableName":"Music","Item":{"Artist":{"S":"a"},"SongTitle":{"S":"b"}},"ConditionExpression":parens,"ExpressionAttributeValues":{":a":{"S":"a"}}});
    let response = call(&service, "PutItem", &body.to_string());
    assert_eq!(response.status, 400);
    assert!(
        String::from_utf8_lossy(&response.body).contains("Syntax error"),
        "{}",
        render(&response)
    );
}

#[test]
fn checksum_and_compression() {
    let service = service_with_table();
    let response = call(&service, "ListTables", "{}");
    assert_eq!(
        response.header("x-amz-crc32").unwrap(),
        crc32fast::hash(&response.body).to_string()
    );
    assert_eq!(response.header("x-amzn-requestid").unwrap().len(), 52);

    // A gzip-compressed request body.
    let body = r#"{"TableName":"Music","Item":{"Artist":{"S":"gz"},"SongTitle":{"S":"x"},"pad":{"S":"PADDING"}}}"#.replace("PADDING", &"p".repeat(6000));
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    let mut compressed = request("PutItem", "");
    compressed.body = encoder.finish().unwrap();
    compressed
        .headers
        .push(("content-encoding".into(), "gzip".into()));
    assert_eq!(service.handle(&compressed, NOW_MS).status, 200);

    // A response over 4 KB comes back compressed when the client accepts gzip.
    let mut get = request(
        "GetItem",
        r#"{"TableName":"Music","Key":{"Artist":{"S":"gz"},"SongTitle":{"S":"x"}}}"#,
    );
    get.headers.push(("accept-encoding".into(), "gzip".into()));
    let response = service.handle(&get, NOW_MS);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(
        response.header("x-amz-crc32").unwrap(),
        crc32fast::hash(&response.body).to_string()
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(response.body.as_slice())
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains(&"p".repeat(6000)));

    // Garbage claiming to be gzip is the service's InternalServerError (issue 11).
    let mut bad = request("ListTables", "not gzip");
    bad.headers.push(("content-encoding".into(), "gzip".into()));
    assert_eq!(service.handle(&bad, NOW_MS).status, 500);
}

#[test]
fn throttling_errors_carry_their_reasons_on_the_wire() {
    let profile = dynasim_engine::realism::profile::Profile {
        defaults: dynasim_engine::realism::profile::Behaviour {
            throttling: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let engine = dynasim_engine::Engine::with_profile(Config::default(), profile, 1);
    let service = Service::with_engine(engine);
    let create = |name: &str, capacity: &str| {
        let body = format!(
            r#"{{"TableName":"{name}","KeySchema":[{{"AttributeName":"k","KeyType":"HASH"}}],"AttributeDefinitions":[{{"AttributeName":"k","AttributeType":"S"}}],{capacity}}}"#
        );
        assert_eq!(call(&service, "CreateTable", &body).status, 200);
    };
    create(
        "slow",
        r#""ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1}"#,
    );
    let put = |table: &str| {
        call(
            &service,
            "PutItem",
            &format!(r#"{{"TableName":"{table}","Item":{{"k":{{"S":"hot"}}}}}}"#),
        )
    };
    assert_eq!(put("slow").status, 200);
    let throttled = put("slow");
    assert_eq!(throttled.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&throttled.body).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    );
    assert_eq!(
        body["ThrottlingReasons"],
        serde_json::json!([{"reason": "TableWriteProvisionedThroughputExceeded",
            "resource": "arn:aws:dynamodb:us-east-1:000000000000:table/slow"}])
    );
    // On demand: a hot key past the partition ceiling gets ThrottlingException, whose
    // reasons member the service model spells in lower camel case.
    create("fast", r#""BillingMode":"PAY_PER_REQUEST""#);
    let mut last = None;
    for _ in 0..1_001 {
        last = Some(put("fast"));
    }
    let last = last.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(
        body["__type"],
        "com.amazon.coral.availability#ThrottlingException"
    );
    assert_eq!(
        body["throttlingReasons"][0]["reason"],
        "TableWriteKeyRangeThroughputExceeded"
    );
    // The metrics saw it.
    let metrics = service.handle(
        &HttpRequest {
            method: "GET".into(),
            path: "/metrics".into(),
            ..HttpRequest::default()
        },
        NOW_MS,
    );
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("dynasim_write_throttle_events_total{table=\"fast\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("dynasim_throttled_requests_total{table=\"slow\"} 1\n"));
}

/// Issue 12: serde's derived structures accepted a JSON array as positional members, so
/// `DeleteTable` with the body `["victim"]` deleted the table `victim`.
#[test]
fn json_arrays_are_not_positional_structures() {
    let service = service_with_table();
    for (operation, body) in [
        ("DeleteTable", r#"["Music"]"#),
        ("DescribeTable", r#"["Music"]"#),
        (
            "GetItem",
            r#"{"TableName":"Music","Key":{"Artist":["a"],"SongTitle":{"S":"b"}}}"#,
        ),
        (
            "PutItem",
            r#"["Music",{"Artist":{"S":"a"},"SongTitle":{"S":"b"}}]"#,
        ),
    ] {
        let response = call(&service, operation, body);
        assert_eq!(response.status, 400, "{operation} {body}");
        let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({
                "__type": "com.amazon.coral.service#SerializationException",
                "message": "Start of list found where not expected",
            }),
            "{operation} {body}"
        );
    }
    let described = call(&service, "DescribeTable", r#"{"TableName":"Music"}"#);
    assert_eq!(described.status, 200, "the table is still there");
}

/// The strict reader adds stack frames per JSON level: serde_json's 128-level guard must
/// still answer before a test thread's 2 MiB stack runs out, at every depth up to it.
#[test]
fn deep_nesting_through_the_strict_reader() {
    let service = service_with_table();
    for depth in [60, 126, 127, 200] {
        let mut nested = r#"{"S":"x"}"#.to_string();
        for _ in 0..depth {
            nested = format!(r#"{{"L":[{nested}]}}"#);
        }
        let body = format!(
            r#"{{"TableName":"Music","Item":{{"Artist":{{"S":"a"}},"SongTitle":{{"S":"b"}},"deep":{nested}}}}}"#
        );
        let response = call(&service, "PutItem", &body);
        assert_eq!(response.status, 400, "depth {depth}");
    }
}

/// Issue 12: `?X-Amz-Algorithm=` in the URL switched every authentication check off, so a
/// request with no credentials at all got its data.
#[test]
fn presigned_query_without_credentials_is_refused() {
    let service = service_with_table();
    let mut bare = request("ListTables", "{}");
    bare.headers.retain(|(n, _)| n != "authorization");
    bare.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256".into());
    let response = service.handle(&bare, NOW_MS);
    assert_eq!(response.status, 400);
    let answer: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        answer["__type"],
        "com.amazon.coral.service#IncompleteSignatureException"
    );
    assert!(!String::from_utf8_lossy(&response.body).contains("Music"));
    bare.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261124%2Fus-east-1%2Fdynamodb%2Faws4_request&X-Amz-Date=20261124T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abcd".into());
    assert_eq!(
        service.handle(&bare, NOW_MS).status,
        200,
        "a well-formed presigned query"
    );
}

#[test]
fn time_to_live_update_and_describe() {
    let service = service_with_table();
    let never = call(&service, "DescribeTimeToLive", r#"{"TableName":"Music"}"#);
    insta::assert_snapshot!("describe_time_to_live_never_configured", render(&never));
    let updated = call(
        &service,
        "UpdateTimeToLive",
        r#"{"TableName":"Music","TimeToLiveSpecification":{"Enabled":true,"AttributeName":"expires"}}"#,
    );
    insta::assert_snapshot!("update_time_to_live", render(&updated));
    let enabled = call(&service, "DescribeTimeToLive", r#"{"TableName":"Music"}"#);
    insta::assert_snapshot!("describe_time_to_live_enabled", render(&enabled));
    let missing = call(
        &service,
        "UpdateTimeToLive",
        r#"{"TableName":"Music","TimeToLiveSpecification":{}}"#,
    );
    insta::assert_snapshot!("update_time_to_live_members_missing", render(&missing));
}
