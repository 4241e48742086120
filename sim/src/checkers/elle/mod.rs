//! The `transactions` checker: transactions over list items (`f: "txn"`, micro-operations
//! `["append", key, value]` and `["r", key, list]`) are serializable, checked the way Elle
//! checks list-append histories.
//!
//! Appended values are unique per key, so a read's list names the transactions whose appends it
//! saw, in order. The longest read of each key gives the key's version order; every other read
//! must be a prefix of it (`incompatible-order`). A read may not observe an element appended
//! by a failed transaction (`G1a`), a state another transaction appended more to in the same
//! transaction (`G1b`), an element nobody appended (`garbage-read`), or an element twice
//! (`duplicate-elements`) ([`versions`]). The committed transactions (`ok`, and `info` ones whose
//! appends were observed) are then ordered by their dependencies on each key: ww (appended the
//! next element), wr (read the list ending in its element), rw (read the list just before its
//! element). A cycle means no serial order exists; it is classified by its edges as `G0` (ww
//! only), `G1c` (ww and wr), `G-single` (one rw) or `G2-item` (two or more rw) ([`graph`]) and
//! explained as a walk around the cycle ([`explain`]).
//!
//! Everything is near-linear in the size of the history: reads stay borrowed from the history,
//! prefix checks compare indices against one order per key, and edges come from hash lookups.
//!
//! The promise is serializability, not strict serializability: a coordinator's clock may run
//! behind, and a GetItem reads an item's committed state while a transaction is still
//! committing elsewhere. So real-time order is used only afterwards: with edges from each
//! transaction to those invoked after it completed, a cycle that needs one of them is reported
//! as an observation (`G-single-realtime` and the like, Elle's names), not a violation.

mod explain;
mod graph;
mod versions;

use super::{Checker, Report, Scope};
use crate::history::{History, Kind, Op};
use serde_json::Value as Json;
use std::collections::HashMap;

/// The operation name of a transaction.
pub const TXN: &str = "txn";

pub(super) struct Transactions;

impl Checker for Transactions {
    fn name(&self) -> &'static str {
        "transactions"
    }

    fn promise(&self) -> &'static str {
        "TransactWriteItems and TransactGetItems are serializable"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, _history: &History, ops: &[Op], report: &mut Report) {
        check(ops, report);
    }
}

/// Checks the transactions among `ops`; a history without any adds nothing to `report`.
pub fn check(ops: &[Op], report: &mut Report) {
    let run = Run::new(ops);
    if run.txns.is_empty() {
        return;
    }
    report
        .stats
        .insert("transactions".into(), run.txns.len() as u64);
    if run.malformed > 0 {
        report
            .stats
            .insert("transactions_malformed".into(), run.malformed);
    }
    let orders = versions::infer(&run, report);
    let edges = graph::dependencies(&run, &orders);
    for cycle in graph::cycles(run.txns.len(), edges.clone()) {
        report.anomalies.push(explain::cycle(&run, &orders, &cycle));
    }
    let realtime = graph::realtime(&run);
    let mut inversions = 0;
    for cycle in graph::realtime_cycles(run.txns.len(), edges, realtime) {
        report.anomalies.push(explain::cycle(&run, &orders, &cycle));
        inversions += 1;
    }
    if inversions > 0 {
        report
            .stats
            .insert("transactions_realtime_cycles".into(), inversions);
    }
}

/// One micro-operation; keys are interned (an index into [`Run::keys`]).
#[derive(Clone, Copy, Debug)]
pub(super) enum Mop<'a> {
    Append {
        key: u32,
        value: i64,
    },
    /// `list` is `None` when the result is unknown (the transaction did not complete `ok`).
    Read {
        key: u32,
        list: Option<&'a [Json]>,
    },
}

pub(super) struct Txn<'a> {
    pub op: &'a Op,
    pub mops: Vec<Mop<'a>>,
}

/// Who appended an element, and whether the same transaction appended to the key again after.
#[derive(Clone, Copy, Debug)]
pub(super) struct Writer {
    pub txn: u32,
    pub intermediate: bool,
}

/// A completed read of one key: the transaction (an index into [`Run::txns`]) and its list,
/// borrowed from the history (every element an integer).
#[derive(Clone, Copy, Debug)]
pub(super) struct Read<'a> {
    pub txn: u32,
    pub list: &'a [Json],
}

/// The transactions of a history, indexed for the checks.
pub(super) struct Run<'a> {
    pub txns: Vec<Txn<'a>>,
    pub keys: Vec<&'a str>,
    /// (key, element) → the transaction that appended it.
    pub writers: HashMap<(u32, i64), Writer>,
    /// Per key, the `ok` transactions' reads, in history order.
    pub reads: Vec<Vec<Read<'a>>>,
    /// Micro-operations that were not `["append", key, integer]` or `["r", key, list of
    /// integers or null]` (skipped).
    pub malformed: u64,
}

impl<'a> Run<'a> {
    fn new(ops: &'a [Op]) -> Run<'a> {
        let mut run = Run {
            txns: Vec::new(),
            keys: Vec::new(),
            writers: HashMap::new(),
            reads: Vec::new(),
            malformed: 0,
        };
        let mut key_ids: HashMap<&'a str, u32> = HashMap::new();
        for op in ops.iter().filter(|o| o.f == TXN) {
            let txn = run.txns.len() as u32;
            let mut mops = Vec::new();
            for mop in micro_ops(op) {
                match parse_mop(mop, op.outcome == Kind::Ok, &mut key_ids, &mut run.keys) {
                    Some(m) => mops.push(m),
                    None => run.malformed += 1,
                }
            }
            run.reads.resize(run.keys.len(), Vec::new());
            run.index(txn, &mops);
            run.txns.push(Txn { op, mops });
        }
        run
    }

    /// Records a transaction's appends (marking all but its last to each key intermediate)
    /// and its reads.
    fn index(&mut self, txn: u32, mops: &[Mop<'a>]) {
        let mut last: HashMap<u32, i64> = HashMap::new();
        for mop in mops {
            match *mop {
                Mop::Append { key, value } => {
                    if let Some(previous) = last.insert(key, value)
                        && let Some(w) = self.writers.get_mut(&(key, previous))
                        && w.txn == txn
                    {
                        w.intermediate = true;
                    }
                    // Values are unique per key; should one repeat, the first append keeps it.
                    self.writers.entry((key, value)).or_insert(Writer {
                        txn,
                        intermediate: false,
                    });
                }
                Mop::Read {
                    key,
                    list: Some(list),
                } => {
                    self.reads[key as usize].push(Read { txn, list });
                }
                Mop::Read { list: None, .. } => {}
            }
        }
    }

    pub fn op(&self, txn: u32) -> &'a Op {
        self.txns[txn as usize].op
    }

    /// Whether a transaction's effects count: it did not fail.
    pub fn committed(&self, txn: u32) -> bool {
        self.op(txn).outcome != Kind::Fail
    }

    pub fn writer(&self, key: u32, element: i64) -> Option<Writer> {
        self.writers.get(&(key, element)).copied()
    }
}

/// An `ok` transaction's micro-operations are its result (reads filled in); any other's are
/// what it asked.
fn micro_ops(op: &Op) -> &[Json] {
    let completed = match &op.output {
        Json::Array(mops) if op.outcome == Kind::Ok => Some(mops.as_slice()),
        _ => None,
    };
    completed
        .or_else(|| op.input.as_array().map(Vec::as_slice))
        .unwrap_or(&[])
}

fn parse_mop<'a>(
    mop: &'a Json,
    completed: bool,
    key_ids: &mut HashMap<&'a str, u32>,
    keys: &mut Vec<&'a str>,
) -> Option<Mop<'a>> {
    let [f, key, value] = mop.as_array()?.as_slice() else {
        return None;
    };
    let name = key.as_str()?;
    let key = *key_ids.entry(name).or_insert_with(|| {
        keys.push(name);
        keys.len() as u32 - 1
    });
    match f.as_str()? {
        "append" => Some(Mop::Append {
            key,
            value: value.as_i64()?,
        }),
        "r" if !completed => Some(Mop::Read { key, list: None }),
        "r" => {
            let list: &[Json] = match value {
                Json::Null => &[],
                Json::Array(list) if list.iter().all(|e| e.as_i64().is_some()) => list,
                _ => return None,
            };
            Some(Mop::Read {
                key,
                list: Some(list),
            })
        }
        _ => None,
    }
}

/// An element of a read list ([`parse_mop`] admitted only integers).
pub(super) fn element(list: &[Json], index: usize) -> i64 {
    list[index]
        .as_i64()
        .expect("parse_mop admits only integer elements")
}

#[cfg(test)]
mod tests;
