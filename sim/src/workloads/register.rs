//! The `register` workload: items `name/k` with attribute `v`; GetItem (strong or eventual),
//! PutItem of values no other write uses, and conditional PutItem (`cas_fraction`). Checked for
//! per-item linearizability, no lost acknowledged write, and committed eventual reads.

use super::{Generator, Mode, Planned, Step, mode_of, n, number, unit};
use crate::scenario::Workload;
use rand_core::RngCore;
use serde_json::{Value as Json, json};

pub(super) fn step(g: &mut Generator, read: bool, consistent: bool) -> Planned {
    let key = g.key();
    if read {
        return read_op(key, consistent);
    }
    write_op(g, key, true)
}

/// A write of a fresh value to `key`: conditional with the workload's `cas_fraction` when
/// `cas` (the register; the scan writes unconditionally).
pub(super) fn write_op(g: &mut Generator, key: String, cas: bool) -> Planned {
    let value = g.fresh();
    if cas && unit(&mut g.rng) < g.workload.cas_fraction {
        // Expect absent or one of the recent values: some conditions hold.
        let expected = if g.rng.next_u64().is_multiple_of(3) {
            None
        } else {
            Some(value - 1 - (g.rng.next_u64() % 2) as i64)
        };
        Planned {
            f: "cas",
            key,
            input: json!([expected, value]),
            consistent: None,
            step: Step::Cas(expected, value),
        }
    } else {
        Planned {
            f: "write",
            key,
            input: json!(value),
            consistent: None,
            step: Step::Write(value),
        }
    }
}

/// A read of one item (also the counters' reads and every per-key final read).
pub(super) fn read_op(key: String, consistent: bool) -> Planned {
    Planned {
        f: "read",
        key,
        input: Json::Null,
        consistent: Some(consistent),
        step: Step::Read { consistent },
    }
}

/// A strongly consistent read of every item (`name/0` .. `name/keys-1`).
pub(super) fn final_reads(w: &Workload) -> Vec<Planned> {
    (0..w.keys)
        .map(|k| read_op(format!("{}/{k}", w.name), true))
        .collect()
}

/// The requests of the register's steps (`Read`, `Write`, `Cas`).
pub(super) fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    let key = json!({"pk": {"S": planned.key}});
    match &planned.step {
        Step::Read { consistent } => (
            "GetItem",
            json!({"TableName": table, "Key": key, "ConsistentRead": consistent}),
            mode_of(*consistent),
        ),
        Step::Cas(expected, v) => {
            let mut input = json!({
                "TableName": table,
                "Item": {"pk": {"S": planned.key}, "v": n(*v)},
            });
            match expected {
                None => input["ConditionExpression"] = json!("attribute_not_exists(pk)"),
                Some(e) => {
                    input["ConditionExpression"] = json!("v = :e");
                    input["ExpressionAttributeValues"] = json!({":e": n(*e)});
                }
            }
            ("PutItem", input, Mode::Write)
        }
        Step::Write(v) => put(table, planned, *v),
        other => unreachable!("not a register step: {other:?}"),
    }
}

/// An unconditional PutItem of `v` under the planned key.
pub(super) fn put(table: &str, planned: &Planned, v: i64) -> (&'static str, Json, Mode) {
    (
        "PutItem",
        json!({"TableName": table, "Item": {"pk": {"S": planned.key}, "v": n(v)}}),
        Mode::Write,
    )
}

/// A GetItem's item as the value of its attribute `v` (null: absent).
pub(super) fn read_output(response: &Json) -> Json {
    response.get("Item").map_or(Json::Null, |item| {
        number(item.get("v")).map_or(Json::Null, Json::from)
    })
}
