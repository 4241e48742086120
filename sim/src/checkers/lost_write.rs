//! The `lost-write` checker: an acknowledged write missing from the final state (the last strongly
//! consistent read after every write completed).

use super::{Anomaly, Checker, Model, Report, Scope, describe, final_read, writes_by_value};
use crate::history::{Kind, Op};

pub(super) struct LostWrite;

impl Checker for LostWrite {
    fn name(&self) -> &'static str {
        "lost-write"
    }

    fn promise(&self) -> &'static str {
        "acknowledged writes are durable"
    }

    fn scope(&self) -> Scope {
        Scope::Items(&[Model::Register])
    }

    fn check_item(&self, key: &str, ops: &[&Op], report: &mut Report) {
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
                checker: self.name(),
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
}
