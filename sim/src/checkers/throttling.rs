//! The `throttling` checker: throttled requests, an observation (DynamoDB throttles a partition or
//! table past its capacity; SDKs retry).

use super::{Anomaly, Checker, Report, Scope, describe};
use crate::history::{History, Op};

pub(super) struct Throttling;

impl Checker for Throttling {
    fn name(&self) -> &'static str {
        "throttling"
    }

    fn promise(&self) -> &'static str {
        "throttling is an error the caller retries"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, _history: &History, ops: &[Op], report: &mut Report) {
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
                checker: self.name(),
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
}
