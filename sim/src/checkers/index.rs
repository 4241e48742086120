//! The `index` checker: a global secondary index holds the table's items under their index
//! keys. An index query (the `query` workload with `index = true`) that returned an item whose
//! value belongs to another value group is a violation at once (`index-mismatch`): an index
//! entry is written with its item, whatever the lag. Staleness during the run is permitted (a
//! GSI is eventually consistent), so the index is compared with the table only at the end:
//! the final index queries (input `final`, made after every replica caught up) together must
//! hold exactly the items of the final strongly consistent reads, each once, with its final
//! value (`index-diverged`). Skipped when a group did not converge (the `convergence` checker
//! says so) or a final query went unanswered.

use super::{Anomaly, Checker, INDEX_QUERY, Report, Scope, describe, final_read};
use crate::history::{History, Kind, Op};
use crate::workloads;
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub(super) struct Index;

impl Checker for Index {
    fn name(&self) -> &'static str {
        "index"
    }

    fn promise(&self) -> &'static str {
        "a global secondary index holds the table's items under their index keys, eventually"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, history: &History, ops: &[Op], report: &mut Report) {
        // `ops` has index queries expanded into item reads: the queries themselves are read
        // from the history again, only when it holds some.
        if !history.events.iter().any(|e| e.f == INDEX_QUERY) {
            return;
        }
        let raw = history.ops();
        let queries: Vec<&Op> = raw
            .iter()
            .filter(|o| o.f == INDEX_QUERY && o.outcome == Kind::Ok)
            .collect();
        if queries.is_empty() {
            return;
        }
        for query in &queries {
            *report.stats.entry("index_queries".into()).or_default() += 1;
            mismatch(query, report);
        }
        stale_index_reads(&queries, &raw, report);
        let converged = history
            .named("final")
            .filter(|e| e.f == "converged")
            .all(|e| e.value == Json::Bool(true));
        let mut tables: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
        for query in queries.iter().filter(|q| q.input.get("final").is_some()) {
            let key = query.key.as_deref().unwrap_or_default();
            let table = key.rsplit_once('#').map_or(key, |(t, _)| t);
            tables.entry(table).or_default().push(query);
        }
        for (table, finals) in tables {
            if !converged {
                *report.stats.entry("index_unchecked".into()).or_default() += 1;
                continue;
            }
            diverged(table, &finals, ops, report);
        }
    }
}

/// `(group, groups)` of an index query's input.
fn group_of(query: &Op) -> Option<(u64, u64)> {
    let group = query.input.get("group")?.as_u64()?;
    let groups = query.input.get("groups")?.as_u64()?;
    Some((group, groups.max(1)))
}

/// Whether an index query's index is sparse (writes of values divisible by four carry no
/// index key).
fn sparse(query: &Op) -> bool {
    query.input.get("sparse") == Some(&Json::Bool(true))
}

/// The value group an item of `value` is indexed under (`None`: not indexed).
fn indexed_under(value: i64, groups: u64, sparse: bool) -> Option<u64> {
    workloads::index_group(value, groups as usize, sparse)
}

/// An item returned under a value group its value is not in.
fn mismatch(query: &Op, report: &mut Report) {
    let Some((group, groups)) = group_of(query) else {
        return;
    };
    let wrong: Vec<(&String, i64)> = query
        .output
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k, v.as_i64()?)))
        .filter(|(_, v)| indexed_under(*v, groups, sparse(query)) != Some(group))
        .collect();
    let Some((item, value)) = wrong.first() else {
        return;
    };
    report.anomalies.push(Anomaly {
        checker: "index",
        kind: "index-mismatch",
        violation: true,
        key: query.key.clone(),
        ops: vec![query.id],
        time: query.end_or_max(),
        explanation: format!(
            "The {} returned item {item} with value {value}, whose value group is {}, not {group} \
             ({} item(s) under the wrong index key in this query): an index entry must carry \
             the index key of the item it was written with.",
            describe(query),
            indexed_under(*value, groups, sparse(query))
                .map_or("none (it carries no index key)".to_string(), |g| g
                    .to_string()),
            wrong.len()
        ),
    });
}

/// Index queries (not the final ones) that missed an item whose latest write, acknowledged
/// before the query began and with no other write after it or beside it, put the item in the
/// queried value group: a GSI is updated asynchronously, so a read-after-write through it may
/// miss the write (an observation, `stale-index-read`; the first one is reported, with the
/// count).
fn stale_index_reads(queries: &[&Op], raw: &[Op], report: &mut Report) {
    let mut writes: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in raw
        .iter()
        .filter(|o| o.f == "write" && o.outcome != Kind::Fail)
    {
        if let Some(k) = op.key.as_deref() {
            writes.entry(k).or_default().push(op);
        }
    }
    let mut found: Vec<(&Op, &Op, &str)> = Vec::new();
    for query in queries.iter().filter(|q| q.input.get("final").is_none()) {
        let Some((group, groups)) = group_of(query) else {
            continue;
        };
        let table = query.key.as_deref().and_then(|k| k.rsplit_once('#'));
        let Some((table, _)) = table else { continue };
        let prefix = format!("{table}/");
        for (key, item_writes) in writes.iter().filter(|(k, _)| k.starts_with(&prefix)) {
            let Some(write) = settled_write(item_writes, query) else {
                continue;
            };
            let into = write
                .input
                .as_i64()
                .and_then(|v| indexed_under(v, groups, sparse(query)));
            let returned = query.output.get(*key).is_some();
            if into == Some(group) && !returned {
                found.push((query, write, key));
            }
        }
    }
    *report.stats.entry("stale_index_reads".into()).or_default() += found.len() as u64;
    let Some(&(query, write, key)) = found.first() else {
        return;
    };
    report.anomalies.push(Anomaly {
        checker: "index",
        kind: "stale-index-read",
        violation: false,
        key: Some(key.to_string()),
        ops: vec![write.id, query.id],
        time: query.end_or_max(),
        explanation: format!(
            "The {} did not return item {key}, although the {} had put it in that value group \
             before the query began, and nothing wrote the item since: a global secondary \
             index is updated asynchronously from the table, so a read through it may not yet \
             show a write the table acknowledged ({} such miss(es) in the run). DynamoDB \
             permits it; read the table (GetItem, Query with ConsistentRead) to read your \
             writes.",
            describe(query),
            describe(write),
            found.len()
        ),
    });
}

/// The item's write that `query` must see if the index were current: acknowledged before the
/// query began, with no other write of the item that may have taken effect after it before
/// the query ended.
fn settled_write<'a>(writes: &[&'a Op], query: &Op) -> Option<&'a Op> {
    let last = writes
        .iter()
        .filter(|w| w.outcome == Kind::Ok && w.end_or_max() < query.start)
        .max_by_key(|w| w.end_or_max())?;
    let disturbed = writes
        .iter()
        .any(|w| w.id != last.id && w.start < query.end_or_max() && w.end_or_max() > last.start);
    (!disturbed).then_some(*last)
}

/// Index entries by item key: each value with the query that returned it.
type Entries<'a> = BTreeMap<&'a str, Vec<(i64, &'a Op)>>;

/// The final index queries of `table` against the table's final state.
fn diverged(table: &str, finals: &[&Op], ops: &[Op], report: &mut Report) {
    let Some((index, time)) = final_index(finals) else {
        *report.stats.entry("index_unchecked".into()).or_default() += 1;
        return;
    };
    let sparse = finals.iter().any(|q| sparse(q));
    let problems = differences(table, index, ops, sparse);
    let Some((key, ids, first)) = problems.first() else {
        return;
    };
    report.anomalies.push(Anomaly {
        checker: "index",
        kind: "index-diverged",
        violation: true,
        key: Some(key.clone()),
        ops: ids.clone(),
        time,
        explanation: format!(
            "After every replica caught up, the index of table {table} differs from the table: \
             {first} ({} item(s) differ in all).",
            problems.len()
        ),
    });
}

/// What the latest final query of each value group returned, and when the last of them ended;
/// `None` when a value group has no final query.
fn final_index<'a>(finals: &[&'a Op]) -> Option<(Entries<'a>, u64)> {
    let mut latest: BTreeMap<u64, &Op> = BTreeMap::new();
    let mut groups = 0;
    for query in finals {
        let Some((group, n)) = group_of(query) else {
            continue;
        };
        groups = n;
        if latest.get(&group).is_none_or(|q| q.start < query.start) {
            latest.insert(group, query);
        }
    }
    if (latest.len() as u64) < groups || latest.is_empty() {
        return None;
    }
    let mut index: Entries = BTreeMap::new();
    for query in latest.values() {
        for (k, v) in query.output.as_object().into_iter().flatten() {
            if let Some(v) = v.as_i64() {
                index.entry(k.as_str()).or_default().push((v, query));
            }
        }
    }
    let time = latest.values().map(|q| q.end_or_max()).max().unwrap_or(0);
    Some((index, time))
}

/// Each item of `table` whose final read and index entries differ: its key, the operations
/// involved and the difference in words.
fn differences<'a>(
    table: &str,
    mut index: Entries<'a>,
    ops: &'a [Op],
    sparse: bool,
) -> Vec<(String, Vec<usize>, String)> {
    let prefix = format!("{table}/");
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        if let Some(k) = op.key.as_deref().filter(|k| k.starts_with(&prefix)) {
            by_key.entry(k).or_default().push(op);
        }
    }
    let mut problems = Vec::new();
    for (key, key_ops) in &by_key {
        let entries = index.remove(key).unwrap_or_default();
        let Some(last) = final_read(key_ops) else {
            continue;
        };
        let shown = last.output.as_i64();
        // What the index must hold: the final value, unless a sparse index leaves it out.
        let expected = shown.filter(|&v| !sparse || indexed_under(v, 1, true).is_some());
        let values: Vec<i64> = entries.iter().map(|(v, _)| *v).collect();
        if values == expected.into_iter().collect::<Vec<_>>() {
            continue;
        }
        let mut ids = vec![last.id];
        ids.extend(entries.iter().map(|(_, q)| q.id));
        let held = if values.is_empty() {
            "no entry for it".to_string()
        } else {
            format!("{values:?}")
        };
        let is = match (shown, expected) {
            (None, _) => "absent".to_string(),
            (Some(v), None) => format!("{v} without an index key"),
            (Some(v), Some(_)) => v.to_string(),
        };
        let words = format!(
            "item {key} is {is} in the table (the final {}) but the index holds {held}",
            describe(last)
        );
        problems.push((key.to_string(), ids, words));
    }
    for (key, entries) in index {
        let values: Vec<i64> = entries.iter().map(|(v, _)| *v).collect();
        problems.push((
            key.to_string(),
            entries.iter().map(|(_, q)| q.id).collect(),
            format!("the index holds {key} = {values:?}, which no final read of the table shows"),
        ));
    }
    problems
}
