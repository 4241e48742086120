//! The `stream` checker: a table's stream (DynamoDB Streams) holds each change of each item
//! exactly once and in order, and replaying its shards by lineage rebuilds the table. It reads
//! the `stream-shard` final events (the stream publisher's shards, `deploy::consumer`), each
//! a shard with its parent and its records `[sequence, key, old value, new value]`, in a run
//! whose publisher caught up with every partition. Per item, in lineage order (a parent
//! shard's records before its children's), each record's old image must be the previous
//! record's new image (the first's: absent): a record that repeats an earlier one is a
//! duplicate (`stream-duplicate`), one whose missing predecessor comes later is out of order
//! (`stream-out-of-order`), anything else a gap (`stream-gap`). Every acknowledged write of a
//! register (or of a `ttl` item) must be in the stream (`stream-incomplete`), and the last image of every item must
//! be what the final strongly consistent read returned (`stream-replay-diverged`).

use super::{Anomaly, Checker, Model, Report, Scope, final_read, show};
use crate::history::{Event, History, Kind, Op};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub(super) struct Stream;

impl Checker for Stream {
    fn name(&self) -> &'static str {
        "stream"
    }

    fn promise(&self) -> &'static str {
        "a stream holds each change of an item exactly once, in order; replaying it by shard \
         lineage rebuilds the table"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, history: &History, ops: &[Op], report: &mut Report) {
        let mut tables: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for event in history.named("final").filter(|e| e.f == "stream-shard") {
            if let Some(table) = &event.key {
                tables.entry(table).or_default().push(event);
            }
        }
        for (table, shards) in tables {
            let caught_up = shards
                .iter()
                .all(|e| e.value.get("caught_up") == Some(&Json::Bool(true)));
            if !caught_up {
                *report.stats.entry("stream_unchecked".into()).or_default() += 1;
                continue;
            }
            check_table(table, &shards, ops, report);
        }
    }
}

/// One record as the checker reads it.
#[derive(Clone, Debug, PartialEq)]
struct Record {
    sequence: u64,
    shard: u64,
    old: Json,
    new: Json,
}

fn check_table(table: &str, shards: &[&Event], ops: &[Op], report: &mut Report) {
    let by_item = records_by_item(shards);
    let records: usize = by_item.values().map(Vec::len).sum();
    *report.stats.entry("stream_records".into()).or_default() += records as u64;
    let prefix = format!("{table}/");
    let mut key_ops: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        if let Some(k) = op.key.as_deref().filter(|k| k.starts_with(&prefix)) {
            key_ops.entry(k).or_default().push(op);
        }
    }
    let mut found: Vec<Anomaly> = Vec::new();
    for (key, records) in &by_item {
        if let Some(anomaly) = broken_chain(table, key, records) {
            found.push(anomaly);
        }
    }
    for (key, item_ops) in &key_ops {
        let records = by_item.get(*key).map_or(&[][..], Vec::as_slice);
        found.extend(missing_write(table, key, item_ops, records));
        found.extend(replay_differs(table, key, item_ops, records));
    }
    // One anomaly of each kind per table, with the count of the others.
    let mut kinds: BTreeMap<&'static str, (Anomaly, usize)> = BTreeMap::new();
    for anomaly in found {
        kinds
            .entry(anomaly.kind)
            .and_modify(|(_, n)| *n += 1)
            .or_insert((anomaly, 1));
    }
    for (_, (mut anomaly, n)) in kinds {
        if n > 1 {
            anomaly.explanation += &format!(" ({} item(s) of table {table} in all.)", n);
        }
        report.anomalies.push(anomaly);
    }
}

/// Each item's records, in lineage order: shards ordered so that a parent comes before its
/// children (then by shard number), each shard's records in its order.
fn records_by_item(shards: &[&Event]) -> BTreeMap<String, Vec<Record>> {
    let number = |e: &Event| e.value.get("shard").and_then(Json::as_u64).unwrap_or(0);
    let parent = |e: &Event| e.value.get("parent").and_then(Json::as_u64);
    let mut order: Vec<&Event> = Vec::new();
    let mut placed: std::collections::BTreeSet<u64> = Default::default();
    let mut pending: Vec<&Event> = shards.to_vec();
    pending.sort_by_key(|e| number(e));
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|e| {
            let ready = parent(e).is_none_or(|p| placed.contains(&p));
            if ready {
                placed.insert(number(e));
                order.push(e);
            }
            !ready
        });
        if pending.len() == before {
            // A parent that is not in the dump: its children go last, as they are.
            order.append(&mut pending);
        }
    }
    let mut by_item: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for shard in order {
        let records = shard.value.get("records").and_then(Json::as_array);
        for r in records.into_iter().flatten() {
            let (Some(sequence), Some(key)) = (r[0].as_u64(), r[1].as_str()) else {
                continue;
            };
            by_item.entry(key.to_string()).or_default().push(Record {
                sequence,
                shard: number(shard),
                old: r[2].clone(),
                new: r[3].clone(),
            });
        }
    }
    by_item
}

/// The first record of `key` whose old image is not the previous record's new image.
fn broken_chain(table: &str, key: &str, records: &[Record]) -> Option<Anomaly> {
    let mut previous = Json::Null;
    for (i, record) in records.iter().enumerate() {
        if record.old == previous {
            previous = record.new.clone();
            continue;
        }
        let repeated = records[..i]
            .iter()
            .any(|r| r.old == record.old && r.new == record.new);
        let later = records[i + 1..].iter().any(|r| r.old == previous);
        let (kind, what) = if repeated {
            ("stream-duplicate", "repeats an earlier record of the item")
        } else if later {
            (
                "stream-out-of-order",
                "comes before the record of the change that preceded it",
            )
        } else {
            ("stream-gap", "follows a change the stream never recorded")
        };
        return Some(Anomaly {
            checker: "stream",
            kind,
            violation: true,
            key: Some(key.to_string()),
            ops: Vec::new(),
            time: 0,
            explanation: format!(
                "In the stream of table {table}, record {} (shard {}) of item {key} changes it \
                 from {} to {}, but the item's previous record left it at {}: the record {what}.",
                record.sequence,
                record.shard,
                show(&record.old),
                show(&record.new),
                show(&previous)
            ),
        });
    }
    None
}

/// An acknowledged write of a register whose value no record of the item carries.
fn missing_write(table: &str, key: &str, ops: &[&Op], records: &[Record]) -> Option<Anomaly> {
    if !matches!(Model::of(ops), Model::Register | Model::Ttl) {
        return None;
    }
    let write = ops.iter().find(|o| {
        let value = match o.f.as_str() {
            "write" => o.input.as_i64(),
            "cas" => o.input.get(1).and_then(Json::as_i64),
            "put-ttl" => o.input.get("v").and_then(Json::as_i64),
            _ => None,
        };
        o.outcome == Kind::Ok
            && value.is_some_and(|v| !records.iter().any(|r| r.new.as_i64() == Some(v)))
    })?;
    Some(Anomaly {
        checker: "stream",
        kind: "stream-incomplete",
        violation: true,
        key: Some(key.to_string()),
        ops: vec![write.id],
        time: write.end_or_max(),
        explanation: format!(
            "The {} of item {key} is acknowledged, but no record in the stream of table {table} \
             carries it ({} record(s) of the item).",
            super::describe(write),
            records.len()
        ),
    })
}

/// The item's image after replaying its records, against the final strongly consistent read.
fn replay_differs(table: &str, key: &str, ops: &[&Op], records: &[Record]) -> Option<Anomaly> {
    let last = match Model::of(ops) {
        Model::Register | Model::Counter => final_read(ops)?,
        Model::Ttl => super::ttl::final_read_of(ops)?,
        Model::Bank | Model::Global => return None,
    };
    let replayed = records.last().map_or(Json::Null, |r| r.new.clone());
    if replayed == last.output {
        return None;
    }
    // A write whose outcome is unknown may have taken effect after the final read: the
    // stream may end at its value.
    let late = ops.iter().any(|o| {
        o.outcome == Kind::Info
            && o.end_or_max() > last.start
            && [
                o.input.clone(),
                o.input.get(1).cloned().unwrap_or_default(),
                o.input.get("v").cloned().unwrap_or_default(),
            ]
            .contains(&replayed)
    });
    if late {
        return None;
    }
    Some(Anomaly {
        checker: "stream",
        kind: "stream-replay-diverged",
        violation: true,
        key: Some(key.to_string()),
        ops: vec![last.id],
        time: last.end_or_max(),
        explanation: format!(
            "Replaying the stream of table {table} by shard lineage leaves item {key} at {}, but \
             the final {} ({} record(s) of the item).",
            show(&replayed),
            super::describe(last),
            records.len()
        ),
    })
}
