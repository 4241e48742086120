//! The words: transactions named `T<history id>` with their process and completion time, lists
//! abbreviated, and a dependency cycle walked edge by edge back to where it started.

use super::graph::{Cycle, Dep, Edge};
use super::versions::Order;
use super::{Mop, Run};
use crate::checkers::{Anomaly, secs};
use crate::history::Kind;
use serde_json::Value as Json;
use std::collections::HashSet;

/// Lists longer than this are shown by their ends.
const LIST_SHOWN_MAX: usize = 8;

pub(super) struct Words<'r, 'a> {
    pub run: &'r Run<'a>,
}

impl Words<'_, '_> {
    /// `T12 (process 3, 1.204 s)`: the transaction's history id, process and completion (for
    /// an `info` one, when its client gave up).
    pub fn name(&self, txn: u32) -> String {
        let op = self.run.op(txn);
        let outcome = match op.outcome {
            Kind::Ok => "",
            Kind::Fail => ", failed",
            Kind::Info | Kind::Invoke => ", outcome unknown",
        };
        format!(
            "T{} ({}, {}{outcome})",
            op.id,
            op.process,
            secs(self.done_at(txn))
        )
    }

    pub fn short(&self, txn: u32) -> String {
        format!("T{}", self.run.op(txn).id)
    }

    pub fn key(&self, key: u32) -> &str {
        self.run.keys[key as usize]
    }

    /// When a transaction completed, or its client gave up on it.
    pub fn done_at(&self, txn: u32) -> u64 {
        let op = self.run.op(txn);
        op.end.or(op.gave_up).unwrap_or(op.start)
    }

    pub fn list(&self, list: &[Json]) -> String {
        let shown = |items: &[Json]| {
            items
                .iter()
                .map(Json::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if list.len() <= LIST_SHOWN_MAX {
            format!("[{}]", shown(list))
        } else {
            let half = LIST_SHOWN_MAX / 2;
            format!(
                "[{}, .., {}] ({} elements)",
                shown(&list[..half]),
                shown(&list[list.len() - half..]),
                list.len()
            )
        }
    }

    /// What `txn` appended to `key` after `element` (for `G1b`).
    pub fn next_append(&self, txn: u32, key: u32, element: i64) -> String {
        let appends: Vec<i64> = self.run.txns[txn as usize]
            .mops
            .iter()
            .filter_map(|m| match *m {
                Mop::Append { key: k, value } if k == key => Some(value),
                _ => None,
            })
            .collect();
        let after = appends
            .iter()
            .position(|&v| v == element)
            .map_or(0, |p| p + 1);
        appends[after..]
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An anomaly of this checker: a violation involving `txns`, shown when the last completed.
pub(super) fn anomaly(
    words: &Words,
    kind: &'static str,
    key: Option<u32>,
    txns: &[u32],
    explanation: String,
) -> Anomaly {
    observed(words, kind, key, txns, explanation, true)
}

fn observed(
    words: &Words,
    kind: &'static str,
    key: Option<u32>,
    txns: &[u32],
    explanation: String,
    violation: bool,
) -> Anomaly {
    let mut seen = HashSet::new();
    let ops: Vec<usize> = txns
        .iter()
        .map(|&t| words.run.op(t).id)
        .filter(|id| seen.insert(*id))
        .collect();
    Anomaly {
        checker: "transactions",
        kind,
        violation,
        key: key.map(|k| words.key(k).to_string()),
        ops,
        time: txns.iter().map(|&t| words.done_at(t)).max().unwrap_or(0),
        explanation,
    }
}

/// A cycle walked from its first transaction back to it, one dependency per clause.
pub(super) fn cycle(run: &Run, orders: &[Order], cycle: &Cycle) -> Anomaly {
    let words = Words { run };
    let mut named: HashSet<u32> = HashSet::new();
    let mut name = |txn: u32| {
        if named.insert(txn) {
            words.name(txn)
        } else {
            words.short(txn)
        }
    };
    let mut clauses: Vec<String> = Vec::with_capacity(cycle.edges.len());
    for edge in &cycle.edges {
        clauses.push(match edge.dep {
            Dep::Rt => realtime_clause(&words, &mut name, edge),
            _ => clause(&words, &mut name, &orders[edge.key as usize].elements, edge),
        });
    }
    let first = cycle.edges[0].from;
    let realtime = cycle.edges.iter().any(|e| e.dep == Dep::Rt);
    let verdict = if realtime {
        "a serial order exists, but none in which each transaction follows every one that \
         completed before it began: serializable, not strictly serializable, which DynamoDB \
         permits (its transactions promise serializability)"
    } else {
        "no serial order exists"
    };
    let explanation = format!(
        "{} cycle of {} transactions: {}; back to {}: {verdict}.",
        cycle.kind,
        cycle.edges.len(),
        clauses.join("; "),
        words.short(first)
    );
    let txns: Vec<u32> = cycle.edges.iter().map(|e| e.from).collect();
    observed(&words, cycle.kind, None, &txns, explanation, !realtime)
}

/// `from` completed before `to` began.
fn realtime_clause(words: &Words, name: &mut impl FnMut(u32) -> String, e: &Edge) -> String {
    let a = name(e.from);
    let b = name(e.to);
    format!(
        "{a} completed before {b} began (at {}), so in real time {} comes before {} (rt)",
        secs(words.run.op(e.to).start),
        words.short(e.from),
        words.short(e.to)
    )
}

fn clause(words: &Words, name: &mut impl FnMut(u32) -> String, order: &[i64], e: &Edge) -> String {
    let key = words.key(e.key);
    let pos = e.pos as usize;
    // A read that ends at position `end`, abbreviated to its last element.
    let ending = |end: Option<usize>| match end {
        None => "[]".to_string(),
        Some(0) => format!("[{}]", order[0]),
        Some(i) => format!("[.., {}]", order[i]),
    };
    match e.dep {
        Dep::Ww => {
            let a = name(e.from);
            let b = name(e.to);
            format!(
                "{a} appended {} to {key} and {b} appended the next element, {}, so {} comes \
                 before {} (ww)",
                order[pos - 1],
                order[pos],
                words.short(e.from),
                words.short(e.to)
            )
        }
        Dep::Wr => {
            let b = name(e.to);
            let a = name(e.from);
            format!(
                "{b} read {key} as {}, which {a} appended, so {} comes before {} (wr)",
                ending(Some(pos)),
                words.short(e.from),
                words.short(e.to)
            )
        }
        Dep::Rt => realtime_clause(words, name, e),
        Dep::Rw => {
            let a = name(e.from);
            let b = name(e.to);
            format!(
                "{a} read {key} as {} without {}, which {b} appended next, so {} comes before {} \
                 (rw)",
                ending(pos.checked_sub(1)),
                order[pos],
                words.short(e.from),
                words.short(e.to)
            )
        }
    }
}
