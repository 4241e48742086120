//! The `list-append` workload: list items `name/k` (attribute `l`, a list of numbers) that
//! transactions append to and read, as Elle's list-append workload does. DynamoDB cannot read
//! inside a write transaction, so an operation either appends to one to three items (a
//! TransactWriteItems of Updates `SET l = list_append(if_not_exists(l, :empty), :v)`) or
//! reads one to three items (a TransactGetItems); a share of single appends go as a plain
//! UpdateItem, a single-item write interleaved with the transactions, and with `get_fraction`
//! a share of reads go as strongly consistent GetItems of their items, one after another
//! (each its own operation, read-committed as DynamoDB documents). Every operation is
//! recorded as `txn` (`docs/history.md`); appended values are unique per run. Checked by the
//! `transactions` checker (serializability).

use super::{Generator, Mode, Planned, Step, unit};
use crate::scenario::Workload;
use rand_core::RngCore;
use serde_json::{Value as Json, json};

/// The share of single appends sent as a plain UpdateItem, not a transaction.
const SINGLE_FRACTION: f64 = 0.2;

/// One micro-operation: an append of a value to an item, or a read of an item.
#[derive(Clone, Debug, PartialEq)]
pub enum Micro {
    Append(String, i64),
    Read(String),
}

pub(super) fn step(g: &mut Generator, read: bool) -> Planned {
    let count = 1 + (g.rng.next_u64() % 3) as usize;
    let mut keys: Vec<String> = Vec::new();
    while keys.len() < count.min(g.workload.keys) {
        let key = g.key();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if read && g.workload.get_fraction > 0.0 && unit(&mut g.rng) < g.workload.get_fraction {
        // The items are read one after another, each with its own GetItem.
        let first = keys.remove(0);
        g.gets.extend(keys);
        return get(first);
    }
    let ops: Vec<Micro> = keys
        .into_iter()
        .map(|k| {
            if read {
                Micro::Read(k)
            } else {
                Micro::Append(k, g.fresh())
            }
        })
        .collect();
    let single = !read && ops.len() == 1 && unit(&mut g.rng) < SINGLE_FRACTION;
    planned(ops, single)
}

/// A strongly consistent GetItem of one item (recorded as a `txn` of one read).
pub(super) fn get(key: String) -> Planned {
    planned(vec![Micro::Read(key)], true)
}

fn planned(ops: Vec<Micro>, single: bool) -> Planned {
    let input = Json::Array(ops.iter().map(micro_json).collect());
    Planned {
        f: "txn",
        key: String::new(),
        input,
        consistent: None,
        step: Step::Txn { ops, single },
    }
}

fn micro_json(op: &Micro) -> Json {
    match op {
        Micro::Append(k, v) => json!(["append", k, v]),
        Micro::Read(k) => json!(["r", k, null]),
    }
}

/// The final reads: one read-only transaction per item.
pub(super) fn final_reads(w: &Workload) -> Vec<Planned> {
    (0..w.keys)
        .map(|k| planned(vec![Micro::Read(format!("{}/{k}", w.name))], false))
        .collect()
}

fn append_update(table: &str, key: &str, value: i64) -> Json {
    json!({
        "TableName": table,
        "Key": {"pk": {"S": key}},
        "UpdateExpression": "SET l = list_append(if_not_exists(l, :empty), :v)",
        "ExpressionAttributeValues": {":empty": {"L": []}, ":v": {"L": [{"N": value.to_string()}]}},
    })
}

/// The request of a `txn` step: a TransactWriteItems, a TransactGetItems, or (a single
/// append or read) an UpdateItem or a strongly consistent GetItem.
pub(super) fn request_json(table: &str, ops: &[Micro], single: bool) -> (&'static str, Json, Mode) {
    match ops {
        [Micro::Append(k, v)] if single => {
            return ("UpdateItem", append_update(table, k, *v), Mode::Write);
        }
        [Micro::Read(k)] if single => {
            let get = json!({"TableName": table, "Key": {"pk": {"S": k}}, "ConsistentRead": true});
            return ("GetItem", get, Mode::Strong);
        }
        _ => {}
    }
    if ops.iter().all(|o| matches!(o, Micro::Read(_))) {
        let gets: Vec<Json> = ops
            .iter()
            .map(|o| match o {
                Micro::Read(k) | Micro::Append(k, _) => {
                    json!({"Get": {"TableName": table, "Key": {"pk": {"S": k}}}})
                }
            })
            .collect();
        return (
            "TransactGetItems",
            json!({"TransactItems": gets}),
            Mode::Strong,
        );
    }
    let updates: Vec<Json> = ops
        .iter()
        .filter_map(|o| match o {
            Micro::Append(k, v) => Some(json!({"Update": append_update(table, k, *v)})),
            Micro::Read(_) => None,
        })
        .collect();
    (
        "TransactWriteItems",
        json!({"TransactItems": updates}),
        Mode::Write,
    )
}

/// A `txn`'s output: its micro-operations with each read's list filled in from the
/// TransactGetItems (or GetItem) response (`[]` for an absent item).
pub(super) fn output(planned: &Planned, ops: &[Micro], response: &Json) -> Json {
    let responses = match response.get("Responses").and_then(Json::as_array) {
        Some(responses) => responses.clone(),
        // A GetItem: its response is the one read's.
        None => vec![response.clone()],
    };
    let mut reads = responses.into_iter();
    let filled: Vec<Json> = ops
        .iter()
        .map(|op| match op {
            Micro::Append(..) => micro_json(op),
            Micro::Read(k) => {
                let list: Vec<Json> = reads
                    .next()
                    .and_then(|r| r.get("Item")?.get("l")?.get("L")?.as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v.get("N")?.as_str()?.parse::<i64>().ok())
                    .map(Json::from)
                    .collect();
                json!(["r", k, list])
            }
        })
        .collect();
    let _ = planned;
    Json::Array(filled)
}
