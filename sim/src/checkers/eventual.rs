//! The `eventual` checker: an eventually consistent read of a value never written, or written
//! only after the read ended (violations); stale and non-monotonic reads (observations: DynamoDB
//! permits them).

use super::{Anomaly, Checker, Model, Report, Scope, describe, writes_by_value};
use crate::history::{Kind, Op, Process};
use std::collections::BTreeMap;

pub(super) struct Eventual;

impl Checker for Eventual {
    fn name(&self) -> &'static str {
        "eventual"
    }

    fn promise(&self) -> &'static str {
        "eventually consistent reads return committed data, possibly stale"
    }

    fn scope(&self) -> Scope {
        Scope::Items(&[Model::Register])
    }

    fn check_item(&self, key: &str, ops: &[&Op], report: &mut Report) {
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
            let Ok(writer) = writer_of(key, read, &writes, report) else {
                continue;
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
            report.anomalies.push(stale_read(key, read, w, stale));
        }
        if let Some((before, after)) = non_monotonic {
            report
                .anomalies
                .push(non_monotonic_read(key, before, after));
        }
    }
}

/// The write whose value an eventual read returned (`None`: it read nothing); `Err` after
/// reporting a read of a value no write could have produced yet.
fn writer_of<'a>(
    key: &str,
    read: &Op,
    writes: &BTreeMap<i64, &'a Op>,
    report: &mut Report,
) -> Result<Option<&'a Op>, ()> {
    let Some(v) = read.output.as_i64() else {
        return Ok(None);
    };
    let anomaly = match writes.get(&v) {
        Some(w) if w.start <= read.end_or_max() => return Ok(Some(*w)),
        Some(w) => Anomaly {
            checker: Eventual.name(),
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
        },
        None => Anomaly {
            checker: Eventual.name(),
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
        },
    };
    report.anomalies.push(anomaly);
    Err(())
}

fn stale_read(key: &str, read: &Op, w: &Op, stale: u64) -> Anomaly {
    Anomaly {
        checker: Eventual.name(),
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
    }
}

fn non_monotonic_read(key: &str, before: &Op, after: &Op) -> Anomaly {
    Anomaly {
        checker: Eventual.name(),
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
    }
}
