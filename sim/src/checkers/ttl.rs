//! The `ttl` checker: Time to Live deletes only expired items. Per item of the `ttl` workload,
//! each acknowledged `ttl-delete` (the sweeper's delete, whose input holds its clock `now`, in
//! epoch seconds) must find the item expired: the item's latest write acknowledged before the
//! delete began, with no other write beside it or after it before the delete ended, wrote an
//! expiry at or before `now` (`ttl-deleted-unexpired` otherwise: deleted before it expired,
//! or after a write extended its TTL). And an item whose final strongly consistent read finds
//! it absent must have been deleted by an acknowledged or possible `ttl-delete` after its last
//! acknowledged write (`ttl-lost-item` otherwise).

use super::{Anomaly, Checker, Model, Report, Scope, describe};
use crate::history::{Kind, Op};
use crate::workloads::ttl::written_expiry;
use serde_json::Value as Json;

pub(super) struct Ttl;

impl Checker for Ttl {
    fn name(&self) -> &'static str {
        "ttl"
    }

    fn promise(&self) -> &'static str {
        "Time to Live deletes an item only once it expired, never after its TTL was extended"
    }

    fn scope(&self) -> Scope {
        Scope::Items(&[Model::Ttl])
    }

    fn check_item(&self, key: &str, ops: &[&Op], report: &mut Report) {
        let writes: Vec<&Op> = ops
            .iter()
            .filter(|o| o.f == "put-ttl" && o.outcome != Kind::Fail)
            .copied()
            .collect();
        let deletes: Vec<&Op> = ops
            .iter()
            .filter(|o| o.f == "ttl-delete")
            .copied()
            .collect();
        *report.stats.entry("ttl_deletes".into()).or_default() +=
            deletes.iter().filter(|d| d.outcome == Kind::Ok).count() as u64;
        for delete in deletes.iter().filter(|d| d.outcome == Kind::Ok) {
            if let Some(anomaly) = unexpired(key, &writes, delete) {
                report.anomalies.push(anomaly);
                return;
            }
        }
        if let Some(anomaly) = lost(key, ops, &writes, &deletes) {
            report.anomalies.push(anomaly);
        }
    }
}

/// A delete of an item whose settled write had not expired at the delete's clock.
fn unexpired(key: &str, writes: &[&Op], delete: &Op) -> Option<Anomaly> {
    let now = delete.input.get("now").and_then(Json::as_i64)?;
    let last = writes
        .iter()
        .filter(|w| w.outcome == Kind::Ok && w.end_or_max() < delete.start)
        .max_by_key(|w| w.end_or_max())?;
    let disturbed = writes
        .iter()
        .any(|w| w.id != last.id && w.start < delete.end_or_max() && w.end_or_max() > last.start);
    let exp = written_expiry(&last.input)?;
    if disturbed || exp <= now {
        return None;
    }
    Some(Anomaly {
        checker: "ttl",
        kind: "ttl-deleted-unexpired",
        violation: true,
        key: Some(key.to_string()),
        ops: vec![last.id, delete.id],
        time: delete.end_or_max(),
        explanation: format!(
            "Time to Live deleted item {key} at epoch second {now} ({}), but the item's latest \
             write, the {}, set it to expire at {exp}, {} s later: the sweep must re-check the \
             item's current expiry before it deletes it.",
            describe(delete),
            describe(last),
            exp - now
        ),
    })
}

/// A final read that finds the item gone with no TTL delete after its last write.
fn lost(key: &str, ops: &[&Op], writes: &[&Op], deletes: &[&Op]) -> Option<Anomaly> {
    let last_read = final_read_of(ops)?;
    if last_read.output != Json::Null {
        return None;
    }
    let last_write = writes
        .iter()
        .filter(|w| w.outcome == Kind::Ok)
        .max_by_key(|w| w.end_or_max())?;
    let explained = deletes
        .iter()
        .any(|d| d.outcome != Kind::Fail && d.end_or_max() > last_write.start);
    if explained {
        return None;
    }
    Some(Anomaly {
        checker: "ttl",
        kind: "ttl-lost-item",
        violation: true,
        key: Some(key.to_string()),
        ops: vec![last_write.id, last_read.id],
        time: last_read.end_or_max(),
        explanation: format!(
            "The final {} finds item {key} absent, but no Time to Live delete followed its last \
             acknowledged write, the {}.",
            describe(last_read),
            describe(last_write)
        ),
    })
}

/// The final strongly consistent read of a TTL item: the last read after every write and
/// delete completed.
pub(super) fn final_read_of<'a>(ops: &[&'a Op]) -> Option<&'a Op> {
    let settled = ops
        .iter()
        .filter(|o| matches!(o.f.as_str(), "put-ttl" | "ttl-delete"))
        .map(|o| o.end_or_max())
        .max()
        .unwrap_or(0);
    ops.iter()
        .filter(|o| o.f == "read" && o.consistent && o.outcome == Kind::Ok && o.start > settled)
        .max_by_key(|o| o.start)
        .copied()
}
