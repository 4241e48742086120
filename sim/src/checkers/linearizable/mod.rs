//! The `linearizability` checker: per item, a strongly consistent read, write, conditional write
//! or atomic counter that no real-time order explains, explained in words; [`search`] finds the
//! order. An item whose search runs out of [`LINEAR_STEPS`] is reported `unchecked` (an
//! observation).

pub mod search;

use super::{Anomaly, Checker, Model, Report, Scope, describe, show};
use crate::history::Op;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Search steps the linearizability checker spends on one item before it reports the item
/// unchecked (a few seconds at most; the checked histories need far fewer).
pub const LINEAR_STEPS: u64 = 5_000_000;

pub(crate) struct Linearizable;

impl Checker for Linearizable {
    fn name(&self) -> &'static str {
        "linearizability"
    }

    fn promise(&self) -> &'static str {
        "strongly consistent operations on an item are linearizable"
    }

    fn scope(&self) -> Scope {
        Scope::Items(&[Model::Register, Model::Counter])
    }

    fn check_item(&self, key: &str, ops: &[&Op], report: &mut Report) {
        let model: Vec<search::ModelOp> = ops.iter().filter_map(|o| search::model_op(o)).collect();
        *report
            .stats
            .entry("linearizability_ops".into())
            .or_default() += model.len() as u64;
        let Some(verdict) = search::check_within(&model, None, LINEAR_STEPS) else {
            let unknown = model.iter().filter(|m| m.end.is_none()).count();
            report.anomalies.push(Anomaly {
                checker: self.name(),
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
            report.anomalies.push(explain(key, ops, &failure));
        }
    }
}

/// The nonlinearizable anomaly in words: the operation no order explains, the longest valid
/// order's end, and the operations around it.
fn explain(key: &str, ops: &[&Op], failure: &search::Failure) -> Anomaly {
    let by_id: BTreeMap<usize, &Op> = ops.iter().map(|o| (o.id, *o)).collect();
    let stuck = by_id[&failure.stuck];
    let mut concurrent: Vec<usize> = ops
        .iter()
        .filter(|o| {
            o.id != stuck.id
                && search::model_op(o).is_some()
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
    Anomaly {
        checker: Linearizable.name(),
        kind: "nonlinearizable",
        violation: true,
        key: Some(key.to_string()),
        ops: involved,
        time: stuck.end_or_max().min(stuck.start.max(1)),
        explanation,
    }
}
