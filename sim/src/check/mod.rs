//! Checkers: read a [`History`] and report anomalies, each explained in words.
//!
//! | checker | catches | DynamoDB's promise |
//! |---|---|---|
//! | `linearizability` | a strongly consistent read, write, conditional write or atomic counter that no real-time order explains; `unchecked` (an observation) when the search gives up after [`LINEAR_STEPS`] steps on one item | strongly consistent operations on an item are linearizable |
//! | `lost-write` | an acknowledged write missing from the final state | acknowledged writes are durable |
//! | `counter` | a final counter below the acknowledged increments (lost update) or above all attempted ones | ADD is atomic |
//! | `bank` | a read of the bank item whose balances do not sum to the total, or are negative | single-item updates are atomic |
//! | `eventual` | an eventually consistent read of a value never written, or written only after the read ended (violations); stale and non-monotonic reads (observations: permitted) | eventually consistent reads return committed data, possibly stale |
//! | `convergence` | replicas of a partition that differ after healing, or never caught up within the bound | replicas converge |
//! | `throttling` | throttled requests (an observation) | throttling is an error the caller retries |
//!
//! Observations are not failures: DynamoDB permits them. Teaching scenarios expect them.

pub mod linear;

/// Search steps the linearizability checker spends on one item before it reports the item
/// unchecked (a few seconds at most; the checked histories need far fewer).
pub const LINEAR_STEPS: u64 = 5_000_000;

use crate::history::{Event, History, Kind, Op, Process};
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

/// Splits scans and queries into per-key reads: a scan (of a table) or query (of an item
/// collection) reads each item under its key at some point within its interval; an item it
/// did not return is a read of nothing.
fn expand_scans(ops: &[Op]) -> Vec<Op> {
    let mut keys: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        if op.f != "scan"
            && op.f != "query"
            && let Some(k) = &op.key
        {
            keys.entry(k.clone()).or_default().push(i);
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        if (op.f == "scan" || op.f == "query") && op.outcome == Kind::Ok {
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
        let is_bank = key_ops
            .iter()
            .any(|o| o.f == "transfer" || o.f == "read-bank");
        if is_bank {
            bank(key, key_ops, &mut report);
            continue;
        }
        linearizable(key, key_ops, &mut report);
        if key_ops.iter().any(|o| o.f == "incr") {
            counter(key, key_ops, &mut report);
        } else {
            lost_write(key, key_ops, &mut report);
            eventual(key, key_ops, &mut report);
        }
    }
    convergence(history, &mut report);
    throttling(&ops, &mut report);
    report
}

fn linearizable(key: &str, ops: &[&Op], report: &mut Report) {
    let model: Vec<linear::ModelOp> = ops.iter().filter_map(|o| linear::model_op(o)).collect();
    *report
        .stats
        .entry("linearizability_ops".into())
        .or_default() += model.len() as u64;
    let Some(verdict) = linear::check_within(&model, None, LINEAR_STEPS) else {
        let unknown = model.iter().filter(|m| m.end.is_none()).count();
        report.anomalies.push(Anomaly {
            checker: "linearizability",
            kind: "unchecked",
            violation: false,
            key: Some(key.to_string()),
            ops: Vec::new(),
            time: model.iter().map(|m| m.start).min().unwrap_or(0),
            explanation: format!(
                "On item {key}, the search for an order of its {} strongly consistent \
                 operations ({unknown} with unknown outcomes) gave up after {LINEAR_STEPS} steps: \
                 the item's history is neither passed nor failed. Fewer concurrent processes \
                 or keys with more spread make it checkable.",
                model.len()
            ),
        });
        return;
    };
    if let Err(failure) = verdict {
        let by_id: BTreeMap<usize, &Op> = ops.iter().map(|o| (o.id, *o)).collect();
        let stuck = by_id[&failure.stuck];
        let mut concurrent: Vec<usize> = ops
            .iter()
            .filter(|o| {
                o.id != stuck.id
                    && linear::model_op(o).is_some()
                    && o.start <= stuck.end_or_max()
                    && o.end_or_max() >= stuck.start
            })
            .map(|o| o.id)
            .collect();
        let before: Vec<String> = failure
            .order
            .iter()
            .rev()
            .take(3)
            .map(|id| describe(by_id[id]))
            .collect();
        let mut explanation = format!(
            "On item {key}, the {} cannot be explained by any order of the item's operations \
             that respects real time. The longest valid order places {} operations and leaves \
             the item holding {}.",
            describe(stuck),
            failure.linearized,
            show(&failure.state.map_or(Json::Null, Json::from)),
        );
        if !before.is_empty() {
            explanation.push_str(&format!(
                " The last operations in that order: {}.",
                before.join("; ")
            ));
        }
        let mut involved = vec![stuck.id];
        involved.extend(failure.order.iter().rev().take(3));
        concurrent.truncate(8);
        involved.extend(concurrent);
        involved.sort_unstable();
        involved.dedup();
        report.anomalies.push(Anomaly {
            checker: "linearizability",
            kind: "nonlinearizable",
            violation: true,
            key: Some(key.to_string()),
            ops: involved,
            time: stuck.end_or_max().min(stuck.start.max(1)),
            explanation,
        });
    }
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

fn lost_write(key: &str, ops: &[&Op], report: &mut Report) {
    let Some(last) = final_read(ops) else { return };
    let writes = writes_by_value(ops);
    let acked = ops
        .iter()
        .filter(|o| matches!(o.f.as_str(), "write" | "cas") && o.outcome == Kind::Ok);
    let shown = last.output.as_i64().and_then(|v| writes.get(&v));
    // An acknowledged write invoked after the shown value's write completed must have
    // replaced it: the final read should show it or something later.
    let lost: Vec<&&Op> = acked
        .filter(|w| match shown {
            Some(s) => w.start > s.end_or_max(),
            None => true,
        })
        .collect();
    if let Some(w) = lost.first() {
        report.anomalies.push(Anomaly {
            checker: "lost-write",
            kind: "lost-write",
            violation: true,
            key: Some(key.to_string()),
            ops: vec![w.id, last.id],
            time: last.end_or_max(),
            explanation: format!(
                "On item {key}, the {} is missing from the final state: the final {} \
                 ({} acknowledged write(s) lost in all).",
                describe(w),
                describe(last),
                lost.len()
            ),
        });
    }
}

fn counter(key: &str, ops: &[&Op], report: &mut Report) {
    let Some(last) = final_read(ops) else { return };
    let Some(final_value) = last.output.as_i64().or(last.output.is_null().then_some(0)) else {
        return;
    };
    let mut acked = 0i64;
    let mut unknown = 0i64;
    let mut acked_count = 0;
    for op in ops.iter().filter(|o| o.f == "incr") {
        let delta = op.input.as_i64().unwrap_or(0);
        match op.outcome {
            Kind::Ok => {
                acked += delta;
                acked_count += 1;
            }
            Kind::Info => unknown += delta,
            _ => {}
        }
    }
    if final_value < acked {
        report.anomalies.push(Anomaly {
            checker: "counter",
            kind: "lost-update",
            violation: true,
            key: Some(key.to_string()),
            ops: vec![last.id],
            time: last.end_or_max(),
            explanation: format!(
                "Counter {key}: {acked_count} acknowledged increments add up to {acked}, but the \
                 final {}: {} increment(s) were lost.",
                describe(last),
                acked - final_value
            ),
        });
    } else if final_value > acked + unknown {
        report.anomalies.push(Anomaly {
            checker: "counter",
            kind: "phantom-increment",
            violation: true,
            key: Some(key.to_string()),
            ops: vec![last.id],
            time: last.end_or_max(),
            explanation: format!(
                "Counter {key}: every increment that could have happened adds up to {}, but \
                 the final {}.",
                acked + unknown,
                describe(last)
            ),
        });
    }
}

fn bank(key: &str, ops: &[&Op], report: &mut Report) {
    let Some(setup) = ops
        .iter()
        .find(|o| o.f == "write" && o.outcome == Kind::Ok && o.input.is_object())
    else {
        return;
    };
    let sum = |v: &Json| -> Option<(i64, bool)> {
        let m = v.as_object()?;
        let mut total = 0i64;
        let mut negative = false;
        for b in m.values() {
            let b = b.as_i64()?;
            negative |= b < 0;
            total += b;
        }
        Some((total, negative))
    };
    let Some((total, _)) = sum(&setup.input) else {
        return;
    };
    let mut checked = 0u64;
    for op in ops
        .iter()
        .filter(|o| o.f == "read-bank" && o.outcome == Kind::Ok && o.start > setup.end_or_max())
    {
        checked += 1;
        if let Some((seen, negative)) = sum(&op.output)
            && (seen != total || negative)
        {
            report.anomalies.push(Anomaly {
                checker: "bank",
                kind: "bank-invariant",
                violation: true,
                key: Some(key.to_string()),
                ops: vec![op.id],
                time: op.end_or_max(),
                explanation: format!(
                    "Bank {key}: the {} balances sum to {seen}{}, but transfers keep the total at \
                     {total}.",
                    describe(op),
                    if negative {
                        " with a negative balance"
                    } else {
                        ""
                    }
                ),
            });
            break;
        }
    }
    *report.stats.entry("bank_reads".into()).or_default() += checked;
}

fn eventual(key: &str, ops: &[&Op], report: &mut Report) {
    let writes = writes_by_value(ops);
    let mut stale = 0u64;
    let mut first_stale: Option<(&Op, &Op)> = None;
    let mut last_seen: BTreeMap<&Process, &Op> = BTreeMap::new();
    let mut non_monotonic: Option<(&Op, &Op)> = None;
    let acked: Vec<&&Op> = ops
        .iter()
        .filter(|o| matches!(o.f.as_str(), "write" | "cas") && o.outcome == Kind::Ok)
        .collect();
    for read in ops
        .iter()
        .filter(|o| o.f == "read" && !o.consistent && o.outcome == Kind::Ok)
    {
        *report.stats.entry("eventual_reads".into()).or_default() += 1;
        let writer = match read.output.as_i64() {
            None => None,
            Some(v) => match writes.get(&v) {
                Some(w) if w.start <= read.end_or_max() => Some(*w),
                Some(w) => {
                    report.anomalies.push(Anomaly {
                        checker: "eventual",
                        kind: "future-read",
                        violation: true,
                        key: Some(key.to_string()),
                        ops: vec![read.id, w.id],
                        time: read.end_or_max(),
                        explanation: format!(
                            "On item {key}, the {} saw a value whose {} was invoked only later.",
                            describe(read),
                            describe(w)
                        ),
                    });
                    continue;
                }
                None => {
                    report.anomalies.push(Anomaly {
                        checker: "eventual",
                        kind: "phantom-read",
                        violation: true,
                        key: Some(key.to_string()),
                        ops: vec![read.id],
                        time: read.end_or_max(),
                        explanation: format!(
                            "On item {key}, the {} saw a value no write could have produced \
                             (never written, or only by a write that failed).",
                            describe(read)
                        ),
                    });
                    continue;
                }
            },
        };
        // Stale: a newer acknowledged write finished before the read began.
        let newer = acked.iter().find(|w| {
            w.end_or_max() < read.start && writer.is_none_or(|x| x.end_or_max() < w.start)
        });
        if let Some(w) = newer {
            stale += 1;
            if first_stale.is_none() {
                first_stale = Some((read, w));
            }
        }
        // Monotonic reads per process: a later read returning a definitely older value.
        if let Some(previous) = last_seen.get(&read.process) {
            let prev_writer = previous.output.as_i64().and_then(|v| writes.get(&v));
            let older = match (writer, prev_writer) {
                (None, Some(_)) => true,
                (Some(now), Some(before)) => now.end_or_max() < before.start,
                _ => false,
            };
            if older && non_monotonic.is_none() {
                non_monotonic = Some((previous, read));
            }
        }
        last_seen.insert(&read.process, read);
    }
    *report.stats.entry("stale_reads".into()).or_default() += stale;
    if let Some((read, w)) = first_stale {
        report.anomalies.push(Anomaly {
            checker: "eventual",
            kind: "stale-read",
            violation: false,
            key: Some(key.to_string()),
            ops: vec![w.id, read.id],
            time: read.end_or_max(),
            explanation: format!(
                "On item {key}, the {} missed the {}, which completed before the read began \
                 ({stale} stale read(s) of this item in all). DynamoDB permits this for \
                 eventually consistent reads; use ConsistentRead for the latest value.",
                describe(read),
                describe(w)
            ),
        });
    }
    if let Some((before, after)) = non_monotonic {
        report.anomalies.push(Anomaly {
            checker: "eventual",
            kind: "non-monotonic-read",
            violation: false,
            key: Some(key.to_string()),
            ops: vec![before.id, after.id],
            time: after.end_or_max(),
            explanation: format!(
                "On item {key}, {} saw an older value after a newer one: first the {}, then the \
                 {}. DynamoDB does not promise monotonic eventually consistent reads (each may \
                 go to a different replica).",
                after.process,
                describe(before),
                describe(after)
            ),
        });
    }
}

fn convergence(history: &History, report: &mut Report) {
    let mut groups: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in history.named("final") {
        match event.f.as_str() {
            "replica-state" => {
                if let Some(k) = &event.key {
                    groups.entry(k).or_default().push(event);
                }
            }
            "liveness" if event.value == 0 => {
                report.anomalies.push(Anomaly {
                    checker: "convergence",
                    kind: "no-progress",
                    violation: true,
                    key: event.key.clone(),
                    ops: Vec::new(),
                    time: event.time,
                    explanation: format!(
                        "After every fault healed, table {} acknowledged no operation for the \
                         rest of the run (the liveness phase).",
                        event.key.as_deref().unwrap_or("?")
                    ),
                });
            }
            "converged" if event.value == Json::Bool(false) => {
                report.anomalies.push(Anomaly {
                    checker: "convergence",
                    kind: "not-converged",
                    violation: true,
                    key: event.key.clone(),
                    ops: Vec::new(),
                    time: event.time,
                    explanation: format!(
                        "After every fault healed, the replicas of {} had not caught up with \
                         their leader by {} (the scenario's bound).",
                        event.key.as_deref().unwrap_or("a partition"),
                        secs(event.time)
                    ),
                });
            }
            _ => {}
        }
    }
    for (group, states) in groups {
        let digest = |e: &&Event| e.value.get("digest").cloned().unwrap_or(Json::Null);
        let first = digest(&states[0]);
        if let Some(other) = states.iter().find(|e| digest(e) != first) {
            let name = |e: &Event| {
                e.value
                    .get("replica")
                    .and_then(Json::as_str)
                    .unwrap_or("?")
                    .to_string()
            };
            let items = |e: &Event| e.value.get("items").cloned().unwrap_or(Json::Null);
            report.anomalies.push(Anomaly {
                checker: "convergence",
                kind: "divergent-replicas",
                violation: true,
                key: Some(group.to_string()),
                ops: Vec::new(),
                time: other.time,
                explanation: format!(
                    "After healing, replicas of {group} hold different data: {} has {} item(s) \
                     (digest {}), {} has {} (digest {}).",
                    name(states[0]),
                    items(states[0]),
                    first,
                    name(other),
                    items(other),
                    digest(other)
                ),
            });
        }
        *report.stats.entry("replica_groups".into()).or_default() += 1;
    }
}

fn throttling(ops: &[Op], report: &mut Report) {
    let throttled: Vec<&Op> = ops
        .iter()
        .filter(|o| {
            matches!(
                o.error.as_deref(),
                Some("ProvisionedThroughputExceededException" | "ThrottlingException")
            )
        })
        .collect();
    report
        .stats
        .insert("throttled".into(), throttled.len() as u64);
    if let Some(first) = throttled.first() {
        report.anomalies.push(Anomaly {
            checker: "throttling",
            kind: "throttled",
            violation: false,
            key: first.key.clone(),
            ops: vec![first.id],
            time: first.end_or_max(),
            explanation: format!(
                "{} request(s) were throttled, the first the {} ({}). DynamoDB throttles when a \
                 partition or table exceeds its capacity; SDKs retry with backoff.",
                throttled.len(),
                describe(first),
                first.error.as_deref().unwrap_or("")
            ),
        });
    }
}

#[cfg(test)]
mod tests;
