//! Check function for fuzzing the JSON request decoder: any body, for any operation, gets a
//! well-formed answer (200, or a 4xx with a `__type`), with a correct checksum, and never a
//! panic (which the service would turn into a 500).

use crate::protocol::{HttpRequest, NOT_IMPLEMENTED, Service};
use dynasim_engine::Config;

/// Operations the decoder handles, plus a few unknown and unimplemented names.
pub const OPERATIONS: [&str; 21] = [
    "CreateTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "DeleteTable",
    "DescribeLimits",
    "DescribeEndpoints",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "BatchGetItem",
    "BatchWriteItem",
    "Query",
    "Scan",
    "Frobnicate",
    NOT_IMPLEMENTED[0],
    "",
];

/// A service with one table `tbl` (hash `pk` S, range `sk` N) holding one item.
pub fn fixture() -> Service {
    let service = Service::new(Config::default());
    let create = r#"{"TableName":"tbl","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    let put = r#"{"TableName":"tbl","Item":{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"L":[{"S":"x"}]}}}"#;
    for (operation, body) in [("CreateTable", create), ("PutItem", put)] {
        let response = service.handle(&request(operation, body.as_bytes()), 1);
        assert_eq!(response.status, 200);
    }
    service
}

/// A signed-in-shape request for `operation` (a DynamoDB operation, or a full target such as
/// `DynamoDBStreams_20120810.ListStreams`).
pub fn request(operation: &str, body: &[u8]) -> HttpRequest {
    let target = if operation.contains('.') {
        operation.to_string()
    } else {
        format!("DynamoDB_20120810.{operation}")
    };
    HttpRequest {
        method: "POST".into(),
        path: "/".into(),
        query: None,
        headers: vec![
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amz-target".into(), target),
            ("x-amz-date".into(), "20261124T120000Z".into()),
            (
                "authorization".into(),
                "AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00".into(),
            ),
        ],
        body: body.to_vec(),
        refused: None,
    }
}

/// The first byte picks the operation; the rest is the body.
pub fn check_request(service: &Service, data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let operation = OPERATIONS[usize::from(selector) % OPERATIONS.len()];
    let response = service.handle(&request(operation, body), 2);
    assert!(
        response.status == 200 || (400..500).contains(&response.status),
        "status {} for {operation}",
        response.status
    );
    assert_eq!(
        response.header("x-amz-crc32").map(str::to_string),
        Some(crc32fast::hash(&response.body).to_string())
    );
    if response.status != 200 {
        let value: serde_json::Value =
            serde_json::from_slice(&response.body).expect("error bodies are JSON");
        assert!(
            value["__type"].as_str().is_some_and(|t| t.contains('#')),
            "{value}"
        );
    } else if !response.body.is_empty() {
        serde_json::from_slice::<serde_json::Value>(&response.body).expect("answers are JSON");
    }
}
