//! The `convergence` checker: replicas of a partition that hold different data after healing, or
//! never caught up within the bound, and tables that made no progress after healing. It reads
//! the `final` events the run records (`replica-state`, `converged`, `liveness`).

use super::{Anomaly, Checker, Report, Scope, secs};
use crate::history::{Event, History, Op};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub(super) struct Convergence;

impl Checker for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    fn promise(&self) -> &'static str {
        "replicas converge"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, history: &History, _ops: &[Op], report: &mut Report) {
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
                        checker: self.name(),
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
                "feed-caught-up" if event.value == Json::Bool(false) => {
                    report.anomalies.push(Anomaly {
                        checker: self.name(),
                        kind: "feed-not-caught-up",
                        violation: true,
                        key: event.key.clone(),
                        ops: Vec::new(),
                        time: event.time,
                        explanation: format!(
                            "Once writes stopped, the change-feed component {} had not consumed \
                             every partition's committed changes within the convergence bound: a \
                             stream, index or TTL sweeper that never catches up.",
                            event.key.as_deref().unwrap_or("?")
                        ),
                    });
                }
                "converged" if event.value == Json::Bool(false) => {
                    report.anomalies.push(Anomaly {
                        checker: self.name(),
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
            if let Some(anomaly) = divergence(group, &states) {
                report.anomalies.push(anomaly);
            }
            *report.stats.entry("replica_groups".into()).or_default() += 1;
        }
    }
}

/// Replicas of `group` whose final states differ, if any.
fn divergence(group: &str, states: &[&Event]) -> Option<Anomaly> {
    let digest = |e: &&Event| e.value.get("digest").cloned().unwrap_or(Json::Null);
    let first = digest(&states[0]);
    let other = states.iter().find(|e| digest(e) != first)?;
    let name = |e: &Event| {
        e.value
            .get("replica")
            .and_then(Json::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let items = |e: &Event| e.value.get("items").cloned().unwrap_or(Json::Null);
    Some(Anomaly {
        checker: Convergence.name(),
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
    })
}
