//! The `counter` workload: items `name/k`; `UpdateItem ADD v :d` returning UPDATED_NEW, and
//! reads. Checked for linearizability and for a final value equal to the acknowledged
//! increments (plus, at most, those with unknown outcomes).

use super::{Generator, Mode, Planned, Step, n, number, register};
use serde_json::{Value as Json, json};

pub(super) fn step(g: &mut Generator, read: bool, consistent: bool) -> Planned {
    let key = g.key();
    if read {
        return register::read_op(key, consistent);
    }
    Planned {
        f: "incr",
        key,
        input: json!(1),
        consistent: None,
        step: Step::Incr(1),
    }
}

/// The request of an increment by `d`.
pub(super) fn request_json(table: &str, planned: &Planned, d: i64) -> (&'static str, Json, Mode) {
    (
        "UpdateItem",
        json!({
            "TableName": table,
            "Key": {"pk": {"S": planned.key}},
            "UpdateExpression": "ADD v :d",
            "ExpressionAttributeValues": {":d": n(d)},
            "ReturnValues": "UPDATED_NEW",
        }),
        Mode::Write,
    )
}

/// An increment's output: the new value it returned.
pub(super) fn output(response: &Json) -> Json {
    number(response.get("Attributes").and_then(|a| a.get("v"))).map_or(Json::Null, Json::from)
}
