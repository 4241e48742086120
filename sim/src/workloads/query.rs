//! The `query` workload: a table with a sort key, `keys` item collections `name/c` of
//! [`QUERY_ITEMS`] items `name/c/s` (partition key `name/c`, sort key `s`); PutItem of one
//! item, and a Query of a whole collection (`pk = :p`, strong or eventual). Checked as the
//! scan is, per item of the collection.

use super::{Generator, Mode, Planned, Step, mode_of, n, number};
use crate::scenario::Workload;
use rand_core::RngCore;
use serde_json::{Value as Json, json};

/// Items (sort keys 0..QUERY_ITEMS) in each item collection.
pub const QUERY_ITEMS: usize = 4;

/// The global secondary index of a `query` workload with `index = true`.
pub const INDEX: &str = "by-group";

/// The value group of `value` in a workload of `groups` collections.
pub fn value_group(value: i64, groups: usize) -> u64 {
    value.rem_euclid(groups as i64) as u64
}

/// The value group whose index key a write of `value` carries; `None` when a sparse index's
/// write leaves the index key out (values divisible by four).
pub fn index_group(value: i64, groups: usize, sparse: bool) -> Option<u64> {
    (!(sparse && value.rem_euclid(4) == 0)).then(|| value_group(value, groups))
}

/// The index key (attribute `g`) of value group `group` of the table `table`.
pub fn group_key(table: &str, group: u64) -> String {
    format!("{table}#{group}")
}

pub(super) fn step(g: &mut Generator, read: bool, consistent: bool) -> Planned {
    let collection = g.key();
    if read && g.workload.index && g.rng.next_u64().is_multiple_of(2) {
        let group = g.rng.next_u64() % g.workload.keys as u64;
        return index_query_op(&g.workload, group, false);
    }
    if read {
        return query_op(collection, consistent);
    }
    let sk = (g.rng.next_u64() % QUERY_ITEMS as u64) as i64;
    let value = g.fresh();
    Planned {
        f: "write",
        key: format!("{collection}/{sk}"),
        input: json!(value),
        consistent: None,
        step: Step::PutInCollection {
            pk: collection,
            sk,
            value,
            index_groups: g
                .workload
                .index
                .then_some((g.workload.keys, g.workload.sparse)),
        },
    }
}

/// An eventually consistent Query of one value group of the index, on every partition (`last`:
/// one of the final reads, once the replicas converged).
fn index_query_op(w: &Workload, group: u64, last: bool) -> Planned {
    let mut input = json!({"group": group, "groups": w.keys});
    if w.sparse {
        input["sparse"] = json!(true);
    }
    if last {
        input["final"] = json!(true);
    }
    Planned {
        f: crate::checkers::INDEX_QUERY,
        key: group_key(&w.name, group),
        input,
        consistent: Some(false),
        step: Step::IndexQuery { group },
    }
}

fn query_op(collection: String, consistent: bool) -> Planned {
    Planned {
        f: "query",
        key: collection,
        input: Json::Null,
        consistent: Some(consistent),
        step: Step::Query { consistent },
    }
}

/// The collections, each read whole by one strongly consistent Query.
pub(super) fn final_reads(w: &Workload) -> Vec<Planned> {
    (0..w.keys)
        .map(|c| query_op(format!("{}/{c}", w.name), true))
        .collect()
}

/// Every value group of the index, read after the replicas converged (none without an index).
pub(super) fn final_index_reads(w: &Workload) -> Vec<Planned> {
    if !w.index {
        return Vec::new();
    }
    (0..w.keys as u64)
        .map(|n| index_query_op(w, n, true))
        .collect()
}

/// The requests of the query's steps (`Query`, `PutInCollection`).
pub(super) fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    match &planned.step {
        Step::Query { consistent } => (
            "Query",
            json!({
                "TableName": table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": planned.key}},
                "ConsistentRead": consistent,
            }),
            mode_of(*consistent),
        ),
        Step::IndexQuery { group } => (
            "Query",
            json!({
                "TableName": table,
                "IndexName": INDEX,
                "KeyConditionExpression": "g = :g",
                "ExpressionAttributeValues": {":g": {"S": group_key(table, *group)}},
            }),
            Mode::Eventual,
        ),
        Step::PutInCollection {
            pk,
            sk,
            value,
            index_groups,
        } => {
            let mut item = json!({"pk": {"S": pk}, "sk": n(*sk), "v": n(*value)});
            if let Some((groups, sparse)) = *index_groups
                && let Some(group) = index_group(*value, groups, sparse)
            {
                item["g"] = json!({"S": group_key(table, group)});
            }
            (
                "PutItem",
                json!({"TableName": table, "Item": item}),
                Mode::Write,
            )
        }
        other => unreachable!("not a query step: {other:?}"),
    }
}

/// A Query's items as `{pk/sk: v}`.
pub(super) fn output(response: &Json) -> Json {
    let mut out = serde_json::Map::new();
    if let Some(items) = response.get("Items").and_then(Json::as_array) {
        for item in items {
            if let (Some(pk), Some(sk), Some(v)) = (
                item.get("pk")
                    .and_then(|p| p.get("S"))
                    .and_then(Json::as_str),
                number(item.get("sk")),
                number(item.get("v")),
            ) {
                out.insert(format!("{pk}/{sk}"), json!(v));
            }
        }
    }
    Json::Object(out)
}
