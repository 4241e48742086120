//! The `scan` workload: `name/k` registers written with PutItem, and Scans of every partition
//! (strong or eventual), started over when a split moved a range under them. Checked: each
//! item a scan saw, and each it did not see (a read of nothing), is linearizable with the
//! writes. Wire transport only: it addresses partitions one by one.

use super::{Generator, Mode, Planned, Step, mode_of, number, register};
use dynasim_engine::Request;
use dynasim_engine::api::QueryInput;
use serde_json::{Value as Json, json};

pub(super) fn step(g: &mut Generator, read: bool, consistent: bool) -> Planned {
    if read {
        return Planned {
            f: "scan",
            key: g.workload.name.clone(),
            input: Json::Null,
            consistent: Some(consistent),
            step: Step::Scan { consistent },
        };
    }
    let key = g.key();
    register::write_op(g, key, false)
}

pub(super) fn request_json(table: &str, consistent: bool) -> (&'static str, Json, Mode) {
    (
        "Scan",
        json!({"TableName": table, "ConsistentRead": consistent}),
        mode_of(consistent),
    )
}

/// The Scan of one partition (the client sends one per partition).
pub fn scan_request(table: &str, consistent: bool) -> Request {
    let input: QueryInput =
        serde_json::from_value(json!({"TableName": table, "ConsistentRead": consistent}))
            .expect("a valid Scan");
    Request::Scan(input)
}

/// A Scan's items as `{key: v}`.
pub(super) fn output(response: &Json) -> Json {
    let mut out = serde_json::Map::new();
    if let Some(items) = response.get("Items").and_then(Json::as_array) {
        for item in items {
            if let (Some(k), Some(v)) = (
                item.get("pk")
                    .and_then(|p| p.get("S"))
                    .and_then(Json::as_str),
                number(item.get("v")),
            ) {
                out.insert(k.to_string(), json!(v));
            }
        }
    }
    Json::Object(out)
}
