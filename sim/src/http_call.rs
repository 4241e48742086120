//! One DynamoDB call over HTTP/1.1 as an SDK frames it: the request (JSON 1.0 body,
//! `X-Amz-Target`, a well-formed SigV4 header with a dummy signature) and the answer read back
//! as the body or the error's type name. Shared by the simulator's HTTP clients and
//! `dynasim run --endpoint`; each brings its own connection and runtime.

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value as Json;

/// The request for `operation` with `body`, to `host`, signed (in shape only) by
/// `authorization`.
pub fn request(
    host: &str,
    authorization: &str,
    operation: &str,
    body: &Json,
) -> hyper::Request<Full<Bytes>> {
    hyper::Request::post("/")
        .header("host", host)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", authorization)
        .body(Full::new(Bytes::from(
            serde_json::to_vec(body).expect("JSON serializes"),
        )))
        .expect("a valid request")
}

/// An error answer: the error's type name, and a cancelled transaction's reasons as the
/// history records them (`[{"Code", "Item"?}, ...]` in action order; `null` otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub kind: String,
    pub reasons: Json,
}

impl Failure {
    /// A failure without an answer body (the connection was refused, say).
    pub fn new(kind: &str) -> Failure {
        Failure {
            kind: kind.to_string(),
            reasons: Json::Null,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kind)
    }
}

/// A response read back: the JSON body of a 200, otherwise the error's type name from
/// `__type` (InternalServerError when the body names none) and its CancellationReasons.
pub fn answer(status: u16, bytes: &[u8]) -> Result<Json, Failure> {
    let json: Json = serde_json::from_slice(bytes).unwrap_or(Json::Null);
    if status == 200 {
        return Ok(json);
    }
    let kind = json
        .get("__type")
        .and_then(Json::as_str)
        .and_then(|t| t.rsplit('#').next())
        .unwrap_or("InternalServerError")
        .to_string();
    let reasons = match json.get("CancellationReasons").and_then(Json::as_array) {
        Some(reasons) => Json::Array(
            reasons
                .iter()
                .map(|r| {
                    let mut reason = serde_json::json!({"Code": r["Code"]});
                    if let Some(item) = r.get("Item") {
                        reason["Item"] = item.clone();
                    }
                    reason
                })
                .collect(),
        ),
        None => Json::Null,
    };
    Err(Failure { kind, reasons })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_back_as_body_or_error_type() {
        assert_eq!(answer(200, br#"{"a":1}"#), Ok(serde_json::json!({"a": 1})));
        let error =
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}"#;
        assert_eq!(
            answer(400, error),
            Err(Failure::new("ConditionalCheckFailedException"))
        );
        assert_eq!(
            answer(500, b"not json"),
            Err(Failure::new("InternalServerError"))
        );
        let canceled =
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message":"Transaction cancelled","CancellationReasons":[
            {"Code":"ConditionalCheckFailed","Message":"The conditional request failed",
             "Item":{"b":{"N":"2"}}},{"Code":"None"}]}"#;
        let failure = answer(400, canceled).unwrap_err();
        assert_eq!(failure.kind, "TransactionCanceledException");
        assert_eq!(
            failure.reasons,
            serde_json::json!([{"Code": "ConditionalCheckFailed", "Item": {"b": {"N": "2"}}},
                               {"Code": "None"}])
        );
        let r = request("h", "auth", "GetItem", &serde_json::json!({}));
        assert_eq!(r.headers()["x-amz-target"], "DynamoDB_20120810.GetItem");
    }
}
