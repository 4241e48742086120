//! The `counter` checker: a final counter below the acknowledged increments (a lost update) or
//! above every attempted one (a phantom increment).

use super::{Anomaly, Checker, Model, Report, Scope, describe, final_read};
use crate::history::{Kind, Op};

pub(super) struct Counter;

impl Checker for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn promise(&self) -> &'static str {
        "ADD is atomic"
    }

    fn scope(&self) -> Scope {
        Scope::Items(&[Model::Counter])
    }

    fn check_item(&self, key: &str, ops: &[&Op], report: &mut Report) {
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
                checker: self.name(),
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
                checker: self.name(),
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
}
