//! The `log-agreement` checker: two replicas of a partition that committed different entries
//! at the same log index (Raft's state-machine safety), which no operation's outcome need ever
//! show. It reads the `replica-log` final events: per replica, its commit index and the
//! cumulative hash of its log up to each commit index of its group (`deploy::record_logs`).
//! Two replicas agree on their committed prefixes exactly when their hashes at the smaller of
//! their commit indexes are equal.

use super::{Anomaly, Checker, Report, Scope};
use crate::history::{Event, History, Op};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub(super) struct LogAgreement;

impl Checker for LogAgreement {
    fn name(&self) -> &'static str {
        "log-agreement"
    }

    fn promise(&self) -> &'static str {
        "replicas never commit different entries at one index"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, history: &History, _ops: &[Op], report: &mut Report) {
        let mut groups: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for event in history.named("final").filter(|e| e.f == "replica-log") {
            if let Some(k) = &event.key {
                groups.entry(k).or_default().push(event);
            }
        }
        for (group, logs) in groups {
            *report.stats.entry("replica_logs".into()).or_default() += logs.len() as u64;
            if let Some(anomaly) = disagreement(group, &logs) {
                report.anomalies.push(anomaly);
            }
        }
    }
}

fn commit(e: &Event) -> u64 {
    e.value.get("commit").and_then(Json::as_u64).unwrap_or(0)
}

/// The hash a replica's log has at `index` (a string), if it recorded one.
fn hash_at(e: &Event, index: u64) -> Option<&Json> {
    e.value.get("prefix")?.get(index.to_string())
}

fn name(e: &Event) -> &str {
    e.value.get("replica").and_then(Json::as_str).unwrap_or("?")
}

/// The first pair of replicas of `group` whose committed prefixes differ, if any.
fn disagreement(group: &str, logs: &[&Event]) -> Option<Anomaly> {
    for (i, a) in logs.iter().enumerate() {
        for b in &logs[i + 1..] {
            let upto = commit(a).min(commit(b));
            if upto == 0 || hash_at(a, upto) == hash_at(b, upto) {
                continue;
            }
            return Some(Anomaly {
                checker: LogAgreement.name(),
                kind: "log-divergence",
                violation: true,
                key: Some(group.to_string()),
                ops: Vec::new(),
                time: a.time.max(b.time),
                explanation: format!(
                    "Replicas {} (commit index {}) and {} (commit index {}) of {group} committed \
                     different entries at or before index {upto}: a write one of them applied \
                     is not the write the other applied there.",
                    name(a),
                    commit(a),
                    name(b),
                    commit(b)
                ),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Kind, Process};
    use serde_json::json;

    fn log(replica: &str, commit: u64, prefix: Json) -> Event {
        let mut e = Event::new(Process::Named("final".into()), Kind::Info, "replica-log", 9);
        e.key = Some("t/p0".into());
        e.value = json!({"replica": replica, "commit": commit, "prefix": prefix});
        e
    }

    fn check(events: Vec<Event>) -> Report {
        let mut report = Report::default();
        let history = History { events };
        LogAgreement.check_history(&history, &[], &mut report);
        report
    }

    #[test]
    fn agreeing_prefixes_pass_and_a_different_entry_is_caught() {
        let agree = check(vec![
            log("a", 5, json!({"3": "x3", "5": "x5"})),
            log("b", 3, json!({"3": "x3"})),
        ]);
        assert!(agree.anomalies.is_empty());
        assert_eq!(agree.stats["replica_logs"], 2);
        let differ = check(vec![
            log("a", 5, json!({"3": "x3", "5": "x5"})),
            log("b", 5, json!({"3": "x3", "5": "y5"})),
        ]);
        assert_eq!(differ.anomalies.len(), 1);
        assert!(differ.anomalies[0].violation);
        assert!(differ.anomalies[0].explanation.contains("index 5"));
    }
}
