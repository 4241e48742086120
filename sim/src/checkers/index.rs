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
        .filter(|(_, v)| v.rem_euclid(groups as i64) as u64 != group)
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
            value.rem_euclid(groups as i64),
            wrong.len()
        ),
    });
}

/// Index entries by item key: each value with the query that returned it.
type Entries<'a> = BTreeMap<&'a str, Vec<(i64, &'a Op)>>;

/// The final index queries of `table` against the table's final state.
fn diverged(table: &str, finals: &[&Op], ops: &[Op], report: &mut Report) {
    let Some((index, time)) = final_index(finals) else {
        *report.stats.entry("index_unchecked".into()).or_default() += 1;
        return;
    };
    let problems = differences(table, index, ops);
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
        let values: Vec<i64> = entries.iter().map(|(v, _)| *v).collect();
        if values == shown.into_iter().collect::<Vec<_>>() {
            continue;
        }
        let mut ids = vec![last.id];
        ids.extend(entries.iter().map(|(_, q)| q.id));
        let held = if values.is_empty() {
            "no entry for it".to_string()
        } else {
            format!("{values:?}")
        };
        let is = shown.map_or("absent".to_string(), |v| v.to_string());
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
