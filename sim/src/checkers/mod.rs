//! Checkers: read a [`History`] and report anomalies, each explained in words. One file per
//! checker, registered in [`CHECKERS`]; which of them judge an item follows from its [`Model`].
//!
//! | checker | catches | DynamoDB's promise |
//! |---|---|---|
//! | `linearizability` | a strongly consistent read, write, conditional write or atomic counter that no real-time order explains; `unchecked` (an observation) when the search gives up after [`LINEAR_STEPS`](linearizable::LINEAR_STEPS) steps on one item | strongly consistent operations on an item are linearizable |
//! | `lost-write` | an acknowledged write missing from the final state | acknowledged writes are durable |
//! | `counter` | a final counter below the acknowledged increments (lost update) or above all attempted ones | ADD is atomic |
//! | `bank` | a read of the bank (its item, or every account's item in one transaction) whose balances do not sum to the total, or are negative; a transfer cancelled by its debit's condition whose reason's item covers the amount (`cancellation-item`) | transfers are atomic (one UpdateItem, or one transaction over the accounts' items), and a cancelled debit shows an account short of the amount |
//! | `eventual` | an eventually consistent read of a value never written, or written only after the read ended (violations); stale and non-monotonic reads (observations: permitted) | eventually consistent reads return committed data, possibly stale |
//! | `ttl` | a Time to Live delete of an item whose latest write had not expired at the sweeper's clock: deleted early, or after its TTL was extended (`ttl-deleted-unexpired`); a final read that finds an item gone that no TTL delete followed (`ttl-lost-item`) | Time to Live deletes an item only once it expired, never after its TTL was extended |
//! | `convergence` | replicas of a partition that differ after healing, or never caught up within the bound; a change-feed component that never caught up (`feed-not-caught-up`) | replicas converge |
//! | `index` | an index query that returned an item under another value group's key (`index-mismatch`); after the replicas converged, an index whose items differ from the table's final state: an item missing, stale or twice (`index-diverged`); an index query that missed an item whose write into its value group was acknowledged before the query began (`stale-index-read`, an observation) | a global secondary index holds the table's items under their index keys, eventually |
//! | `stream` | per item, in shard-lineage order, a record that repeats an earlier one (`stream-duplicate`), comes before its predecessor (`stream-out-of-order`) or follows a change never recorded (`stream-gap`); an acknowledged write missing from the stream (`stream-incomplete`); a replay of the stream that does not end at the table's final state (`stream-replay-diverged`) | a stream holds each change of an item exactly once, in order; replaying it by shard lineage rebuilds the table |
//! | `log-agreement` | two replicas of a partition whose committed log prefixes differ (checked from the replicas' logs at the end of the run, not from any operation) | replicas never commit different entries at one index |
//! | `transactions` | transactions (`txn`: appends to and reads of list items) that no serial order explains, as Elle finds them: reads that contradict the key's version order (`incompatible-order`), see a failed transaction's append (`G1a`), an intermediate state (`G1b`), an element nobody appended (`garbage-read`) or one twice (`duplicate-elements`); cycles of ww, wr and rw dependencies (`G0`, `G1c`, `G-single`, `G2-item`); cycles that need a real-time edge as well (`G-single-realtime` and the like: observations, serializable but not strictly) | TransactWriteItems and TransactGetItems are serializable |
//! | `global-tables` | after healing, regions of a global table holding different values (`global-diverged`) or not the value of the newest stamped version (`global-not-last-writer`); a region's read returning an older version than a read there returned before it began (`global-read-regressed`); an acknowledged write lost to a concurrent one from another region (`global-write-overwritten`, an observation) | a global table's replicas converge on the last writer's value, and a region's reads never go back |
//! | `throttling` | throttled requests (an observation) | throttling is an error the caller retries |
//!
//! Observations are not failures: DynamoDB permits them. Teaching scenarios expect them.

mod bank;
mod convergence;
mod counter;
pub mod elle;
mod eventual;
mod global;
mod index;
pub mod linearizable;
mod log_agreement;
mod lost_write;
mod stream;
mod throttling;
mod ttl;

use crate::history::{History, Kind, Op};
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub checker: &'static str,
    /// Machine-readable kind: `nonlinearizable`, `lost-write`, `lost-update`, ...
    pub kind: &'static str,
    /// A violation of a promise (fails the run) or an observation (permitted behaviour).
    pub violation: bool,
    pub key: Option<String>,
    /// History ids (invocation line numbers, from 0) of the operations involved.
    pub ops: Vec<usize>,
    /// Simulated time (ns) the anomaly shows up.
    pub time: u64,
    pub explanation: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub anomalies: Vec<Anomaly>,
    /// Counts: operations checked, stale reads, throttled requests, ...
    pub stats: BTreeMap<String, u64>,
}

impl Report {
    pub fn violations(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| a.violation)
    }

    pub fn has_kind(&self, kind: &str) -> bool {
        self.anomalies.iter().any(|a| a.kind == kind)
    }
}

fn secs(ns: u64) -> String {
    if ns == u64::MAX {
        "never".into()
    } else {
        format!("{:.3} s", ns as f64 / 1e9)
    }
}

fn show(value: &Json) -> String {
    match value {
        Json::Null => "nothing (absent)".into(),
        other => other.to_string(),
    }
}

fn describe(op: &Op) -> String {
    let what = match op.f.as_str() {
        "read" => format!(
            "{} read returned {}",
            if op.consistent {
                "strongly consistent"
            } else {
                "eventually consistent"
            },
            show(&op.output)
        ),
        "write" => format!("write of {}", op.input),
        "cas" => format!("conditional write {}", op.input),
        "incr" => format!("increment by {} (returned {})", op.input, show(&op.output)),
        other => format!("{other} {}", op.input),
    };
    let outcome = match op.outcome {
        Kind::Ok => "acknowledged",
        Kind::Fail => "failed",
        Kind::Info => "outcome unknown",
        Kind::Invoke => "pending",
    };
    format!(
        "{} by {} [{} .. {}, {}]",
        what,
        op.process,
        secs(op.start),
        secs(op.end_or_max()),
        outcome
    )
}

/// Keys of the scanned table (`prefix/`) that the history mentions.
fn keys_with_prefix<'a>(keys: &'a BTreeMap<String, Vec<usize>>, prefix: &'a str) -> Vec<&'a str> {
    let p = format!("{prefix}/");
    keys.keys()
        .filter(|k| k.starts_with(&p))
        .map(|k| k.as_str())
        .collect()
}

/// The operation name of a query of a global secondary index (the `query` workload's index).
pub const INDEX_QUERY: &str = "index-query";

/// Splits scans and queries into per-key reads: a scan (of a table) or query (of an item
/// collection) reads each item under its key at some point within its interval; an item it
/// did not return is a read of nothing.
fn expand_scans(ops: &[Op]) -> Vec<Op> {
    let mut keys: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.f != "scan"
            && op.f != "query"
            && op.f != INDEX_QUERY
            && let Some(k) = &op.key
        {
            keys.entry(k.clone()).or_default().push(i);
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        if op.f == INDEX_QUERY {
            // An index query is eventually consistent and returns only the items under one
            // index key: each item it returned is an eventual read of that item; what it did
            // not return says nothing (the `index` checker judges the query itself).
            if op.outcome != Kind::Ok {
                continue;
            }
            for (key, value) in op.output.as_object().into_iter().flatten() {
                out.push(Op {
                    f: "read".into(),
                    key: Some(key.clone()),
                    output: value.clone(),
                    consistent: false,
                    ..op.clone()
                });
            }
        } else if (op.f == "scan" || op.f == "query") && op.outcome == Kind::Ok {
            let Some(prefix) = &op.key else { continue };
            let seen = op.output.as_object();
            for key in keys_with_prefix(&keys, prefix) {
                let value = seen.and_then(|m| m.get(key)).cloned().unwrap_or(Json::Null);
                out.push(Op {
                    f: "read".into(),
                    key: Some(key.to_string()),
                    output: value,
                    ..op.clone()
                });
            }
        } else {
            out.push(op.clone());
        }
    }
    out
}

/// What an item is, for the checkers: a history read from a file names no workloads, so the
/// model is inferred from the operations on the item (the workloads' operation names; each
/// workload declares its model in [`crate::workloads::WorkloadKind::model`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// A register: reads, writes and conditional writes of unique values.
    Register,
    /// A counter: atomic increments (`incr`) and reads.
    Counter,
    /// The bank item: transfers and reads of every balance.
    Bank,
    /// An item with a Time to Live: writes with an expiry (`put-ttl`), reads, and the TTL
    /// sweeper's deletes (`ttl-delete`).
    Ttl,
    /// An item of a global table: puts, deletes and reads in several regions (`global-*`),
    /// judged by the `global-tables` checker over the whole history.
    Global,
}

impl Model {
    /// The model of an item's operations.
    pub fn of(ops: &[&Op]) -> Model {
        Model::of_names(ops.iter().map(|o| o.f.as_str()))
    }

    /// The model of an item whose operations have these names (`f`).
    pub fn of_names<'a>(names: impl IntoIterator<Item = &'a str> + Clone) -> Model {
        if names.clone().into_iter().any(|f| f.starts_with("global-")) {
            Model::Global
        } else if names
            .clone()
            .into_iter()
            .any(|f| f == "put-ttl" || f == "ttl-delete")
        {
            Model::Ttl
        } else if names
            .clone()
            .into_iter()
            .any(|f| f == "transfer" || f == "read-bank")
        {
            Model::Bank
        } else if names.into_iter().any(|f| f == "incr") {
            Model::Counter
        } else {
            Model::Register
        }
    }
}

/// What a checker reads.
pub enum Scope {
    /// The operations of each item of these models, one item at a time.
    Items(&'static [Model]),
    /// The whole history at once.
    History,
}

/// A checker: the promise of DynamoDB's it holds the history to, and the check.
pub trait Checker: Sync {
    fn name(&self) -> &'static str;
    fn promise(&self) -> &'static str;
    fn scope(&self) -> Scope;
    /// [`Scope::Items`]: checks one item's operations.
    fn check_item(&self, _key: &str, _ops: &[&Op], _report: &mut Report) {}
    /// [`Scope::History`]: checks the history (`ops`: its operations, scans expanded).
    fn check_history(&self, _history: &History, _ops: &[Op], _report: &mut Report) {}
}

/// Every checker, in the order their anomalies are reported: per item (items in key order),
/// then over the whole history.
pub const CHECKERS: [&dyn Checker; 13] = [
    &linearizable::Linearizable,
    &counter::Counter,
    &lost_write::LostWrite,
    &eventual::Eventual,
    &bank::Bank,
    &ttl::Ttl,
    &convergence::Convergence,
    &index::Index,
    &stream::Stream,
    &log_agreement::LogAgreement,
    &elle::Transactions,
    &global::GlobalTables,
    &throttling::Throttling,
];

/// The checkers that judge the items of `model`.
pub fn for_model(model: Model) -> impl Iterator<Item = &'static dyn Checker> {
    CHECKERS
        .into_iter()
        .filter(move |c| matches!(c.scope(), Scope::Items(models) if models.contains(&model)))
}

/// Runs every checker.
pub fn check(history: &History) -> Report {
    let ops = expand_scans(&history.ops());
    let mut report = Report::default();
    report.stats.insert("operations".into(), ops.len() as u64);
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &ops {
        if let Some(k) = &op.key {
            by_key.entry(k.as_str()).or_default().push(op);
        }
    }
    for (key, key_ops) in &by_key {
        for checker in for_model(Model::of(key_ops)) {
            checker.check_item(key, key_ops, &mut report);
        }
    }
    for checker in CHECKERS {
        if let Scope::History = checker.scope() {
            checker.check_history(history, &ops, &mut report);
        }
    }
    report
}

/// Writes of a register key by value: (value, op).
fn writes_by_value<'a>(ops: &[&'a Op]) -> BTreeMap<i64, &'a Op> {
    let mut out = BTreeMap::new();
    for op in ops {
        let value = match op.f.as_str() {
            "write" => op.input.as_i64(),
            "cas" => op.input.get(1).and_then(Json::as_i64),
            _ => None,
        };
        if let Some(v) = value
            && op.outcome != Kind::Fail
        {
            out.insert(v, *op);
        }
    }
    out
}

/// The final strongly consistent read: the last one invoked after every write completed.
fn final_read<'a>(ops: &[&'a Op]) -> Option<&'a Op> {
    let last_write_end = ops
        .iter()
        .filter(|o| matches!(o.f.as_str(), "write" | "cas" | "incr") && o.outcome == Kind::Ok)
        .map(|o| o.end_or_max())
        .max()
        .unwrap_or(0);
    ops.iter()
        .filter(|o| {
            o.f == "read" && o.consistent && o.outcome == Kind::Ok && o.start > last_write_end
        })
        .max_by_key(|o| o.start)
        .copied()
}

#[cfg(test)]
mod tests;
