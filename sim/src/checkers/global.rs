//! The `global-tables` checker: a global table's regions against last writer wins. It reads
//! the versions the regions stamped on their local writes (`global-stamp` events of the
//! `replication` process), each region's final state after healing (`global-final`), and the
//! clients' reads (`global-get`, the region in `node`).
//!
//! - `global-diverged`: after healing, two regions hold different values of an item;
//! - `global-not-last-writer`: a region's final value is not the one whose version is the
//!   newest stamped (the last writer, by version, must win everywhere);
//! - `global-read-regressed`: a region answered a read with a value older, by version, than
//!   one a read in that region had already returned before this read began;
//! - `global-write-overwritten` (an observation, permitted): an acknowledged write lost to a
//!   concurrent write from another region, as last writer wins allows.

use super::{Anomaly, Checker, Report, Scope, show};
use crate::history::{History, Kind, Op};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub(super) struct GlobalTables;

/// A version as stamped: (HLC wall ms, logical, region, sequence).
type Version = (u64, u64, u64, u64);

fn version_of(value: &Json) -> Option<Version> {
    let v = value["version"].as_array()?;
    let at = |i: usize| v.get(i).and_then(Json::as_u64);
    Some((at(0)?, at(1)?, at(2)?, at(3)?))
}

/// One stamped write: its version, value (`null`: a delete), region, and what its region
/// had applied of each region (by version id) when it was stamped.
struct Stamped {
    version: Version,
    value: Json,
    region: String,
    frontier: BTreeMap<u64, u64>,
}

impl Stamped {
    fn region_id(&self) -> u64 {
        self.version.2
    }

    /// How far this write's region had applied region `id`'s writes.
    fn seen_of(&self, id: u64) -> u64 {
        self.frontier.get(&id).copied().unwrap_or(0)
    }
}

/// Per key: the stamped writes, and the value → version map of puts.
struct Stamps {
    by_key: BTreeMap<String, Vec<Stamped>>,
    by_value: BTreeMap<i64, Version>,
}

fn stamps(history: &History) -> Stamps {
    let mut by_key: BTreeMap<String, Vec<Stamped>> = BTreeMap::new();
    let mut by_value = BTreeMap::new();
    for event in history.named("replication") {
        let (Some(key), Some(version)) = (&event.key, version_of(&event.value)) else {
            continue;
        };
        let value = event.value["value"].clone();
        if let Some(v) = value.as_i64() {
            by_value.insert(v, version);
        }
        let frontier = event.value["frontier"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(r, s)| Some((r.parse().ok()?, s.as_u64()?)))
            .collect();
        by_key.entry(key.clone()).or_default().push(Stamped {
            version,
            value,
            region: event.node.clone().unwrap_or_default(),
            frontier,
        });
    }
    Stamps { by_key, by_value }
}

impl Checker for GlobalTables {
    fn name(&self) -> &'static str {
        "global-tables"
    }

    fn promise(&self) -> &'static str {
        "a global table's replicas converge on the last writer's value, and a region's reads never go back"
    }

    fn scope(&self) -> Scope {
        Scope::History
    }

    fn check_history(&self, history: &History, ops: &[Op], report: &mut Report) {
        let Some(mode) = history
            .named("replication")
            .find(|e| e.f == "global-consistency")
        else {
            return;
        };
        let strong = mode.value == "strong";
        let stamps = stamps(history);
        let finals = finals(history);
        let acknowledged = ops
            .iter()
            .any(|o| o.f == "global-put" && o.outcome == Kind::Ok);
        if stamps.by_key.is_empty() && acknowledged {
            let text = "Writes were acknowledged but no region recorded a version: the history cannot be judged.".to_string();
            report
                .anomalies
                .push(self.anomaly("global-unstamped", true, "-", Vec::new(), 0, text));
        }
        for (key, regions) in &finals {
            self.check_final(key, regions, &stamps, report);
        }
        self.check_reads(ops, &stamps, strong, report);
        self.check_overwritten(ops, &stamps, &finals, report);
        if strong {
            check_linearizable(ops, report);
        }
        count_conflicts(ops, report);
        report
            .stats
            .insert("global_stamped_writes".into(), stamps.by_value.len() as u64);
    }
}

/// Each key's final value per region.
fn finals(history: &History) -> BTreeMap<String, BTreeMap<String, (Json, u64)>> {
    let mut out: BTreeMap<String, BTreeMap<String, (Json, u64)>> = BTreeMap::new();
    for event in history.named("final").filter(|e| e.f == "global-final") {
        if let (Some(key), Some(region)) = (&event.key, &event.node) {
            let entry = (event.value.clone(), event.time);
            out.entry(key.clone())
                .or_default()
                .insert(region.clone(), entry);
        }
    }
    out
}

impl GlobalTables {
    fn anomaly(
        &self,
        kind: &'static str,
        violation: bool,
        key: &str,
        ops: Vec<usize>,
        time: u64,
        explanation: String,
    ) -> Anomaly {
        Anomaly {
            checker: self.name(),
            kind,
            violation,
            key: Some(key.to_string()),
            ops,
            time,
            explanation,
        }
    }

    fn check_final(
        &self,
        key: &str,
        regions: &BTreeMap<String, (Json, u64)>,
        stamps: &Stamps,
        report: &mut Report,
    ) {
        if let Some((region, _)) = regions.iter().find(|(_, (v, _))| v.get("error").is_some()) {
            let text = format!(
                "The final read of {key} in {region} failed: the region's state is unknown."
            );
            report.anomalies.push(self.anomaly(
                "global-final-unread",
                true,
                key,
                Vec::new(),
                0,
                text,
            ));
            return;
        }
        let values: Vec<&Json> = regions.values().map(|(v, _)| v).collect();
        let time = regions.values().map(|(_, t)| *t).max().unwrap_or(0);
        if values.windows(2).any(|w| w[0] != w[1]) {
            let held: Vec<String> = regions
                .iter()
                .map(|(r, (v, _))| format!("{r} holds {}", show(v)))
                .collect();
            let text = format!(
                "After every fault healed and replication had time to settle, the regions hold different values of {key}: {}. Replicas of a global table must converge.",
                held.join(", ")
            );
            report.anomalies.push(self.anomaly(
                "global-diverged",
                true,
                key,
                Vec::new(),
                time,
                text,
            ));
            return;
        }
        let Some(last) = stamps
            .by_key
            .get(key)
            .and_then(|w| w.iter().max_by_key(|s| s.version))
        else {
            return;
        };
        let (version, winner, region) = (last.version, &last.value, &last.region);
        let held = values.first().copied().unwrap_or(&Json::Null);
        if held != winner {
            let text = format!(
                "Every region holds {} for {key}, but the newest version stamped for it is {version:?}, {} written in {region}: last writer wins must keep the write with the newest version.",
                show(held),
                show(winner)
            );
            report.anomalies.push(self.anomaly(
                "global-not-last-writer",
                true,
                key,
                Vec::new(),
                time,
                text,
            ));
        }
    }

    /// Per region and key, reads in start order: a read that began after an earlier read
    /// ended must not return an older version than that read did.
    /// (Under MRSC only eventually consistent reads: a strong one is served by the ordering
    /// region, and judged for linearizability.)
    fn check_reads(&self, ops: &[Op], stamps: &Stamps, strong: bool, report: &mut Report) {
        let mut reads: BTreeMap<(String, String), Vec<&Op>> = BTreeMap::new();
        let judged =
            |o: &&Op| o.f == "global-get" && o.outcome == Kind::Ok && !(strong && o.consistent);
        for op in ops.iter().filter(judged) {
            if let (Some(key), Some(node)) = (&op.key, &op.node) {
                reads
                    .entry((node.clone(), key.clone()))
                    .or_default()
                    .push(op);
            }
        }
        for ((region, key), mut list) in reads {
            list.sort_by_key(|o| o.start);
            let mut newest: Option<(Version, &Op)> = None;
            for op in list {
                let Some(version) = op.output.as_i64().and_then(|v| stamps.by_value.get(&v)) else {
                    continue;
                };
                if let Some((seen, earlier)) = newest
                    && *version < seen
                    && op.start > earlier.end_or_max()
                {
                    let text = format!(
                        "In {region}, a read of {key} returned {} (version {version:?}) after an earlier read there had returned {} (version {seen:?}): a region's reads of an item must not go back to an older version.",
                        op.output, earlier.output
                    );
                    report.anomalies.push(self.anomaly(
                        "global-read-regressed",
                        true,
                        &key,
                        vec![earlier.id, op.id],
                        op.start,
                        text,
                    ));
                    break;
                }
                if newest.is_none_or(|(seen, _)| *version > seen) {
                    newest = Some((*version, op));
                }
            }
        }
    }

    /// Acknowledged puts overwritten, in the end, by a write from another region that was
    /// stamped before that region had applied the put (concurrent, not causally after it)
    /// and carries a newer version: the put is lost although acknowledged.
    fn check_overwritten(
        &self,
        ops: &[Op],
        stamps: &Stamps,
        finals: &BTreeMap<String, BTreeMap<String, (Json, u64)>>,
        report: &mut Report,
    ) {
        let mut count = 0;
        for put in ops
            .iter()
            .filter(|o| o.f == "global-put" && o.outcome == Kind::Ok)
        {
            let (Some(key), Some(value)) = (&put.key, put.input.as_i64()) else {
                continue;
            };
            let final_value = finals
                .get(key)
                .and_then(|r| r.values().next())
                .map(|(v, _)| v);
            let (Some(&mine), Some(writes)) = (stamps.by_value.get(&value), stamps.by_key.get(key))
            else {
                continue;
            };
            if final_value.and_then(Json::as_i64) == Some(value) {
                continue;
            }
            let rival = writes.iter().find(|w| {
                w.region_id() != mine.2 && w.version > mine && w.seen_of(mine.2) < mine.3
            });
            let Some(rival) = rival else { continue };
            count += 1;
            if count > 3 {
                continue;
            }
            let text = format!(
                "The write of {value} to {key} in {} was acknowledged, and lost: {} in {} was written before that region had received it, carried a newer version, and last writer wins kept the newer in every region. A condition in one region cannot protect a write against another region's.",
                put.node.as_deref().unwrap_or("?"),
                match rival.value.as_i64() {
                    Some(v) => format!("a concurrent write of {v}"),
                    None => "a concurrent delete".to_string(),
                },
                rival.region
            );
            report.anomalies.push(self.anomaly(
                "global-write-overwritten",
                false,
                key,
                vec![put.id],
                put.end_or_max(),
                text,
            ));
        }
        report
            .stats
            .insert("global_writes_overwritten".into(), count);
    }
}

/// MRSC: each item's strongly consistent operations, from every region, must be linearizable
/// (the `linearizability` checker on the puts, deletes and strong reads as register operations).
fn check_linearizable(ops: &[Op], report: &mut Report) {
    let mut by_key: BTreeMap<&str, Vec<Op>> = BTreeMap::new();
    for op in ops {
        let f = match op.f.as_str() {
            "global-put" => "write",
            "global-delete" => "delete",
            "global-get" if op.consistent => "read",
            _ => continue,
        };
        if let Some(key) = &op.key {
            let mut register = op.clone();
            register.f = f.to_string();
            by_key.entry(key).or_default().push(register);
        }
    }
    for (key, list) in by_key {
        let refs: Vec<&Op> = list.iter().collect();
        super::linearizable::Linearizable.check_item(key, &refs, report);
    }
}

/// Writes refused because another region was modifying the item (MRSC's
/// ReplicatedWriteConflictException): an observation, the documented alternative to losing one.
fn count_conflicts(ops: &[Op], report: &mut Report) {
    let conflicts: Vec<&Op> = ops
        .iter()
        .filter(|o| {
            o.outcome == Kind::Fail
                && o.error.as_deref() == Some("ReplicatedWriteConflictException")
        })
        .collect();
    report
        .stats
        .insert("global_write_conflicts".into(), conflicts.len() as u64);
    if let Some(first) = conflicts.first() {
        report.anomalies.push(Anomaly {
            checker: "global-tables",
            kind: "global-write-conflict",
            violation: false,
            key: first.key.clone(),
            ops: vec![first.id],
            time: first.start,
            explanation: format!(
                "{} write(s) were refused with ReplicatedWriteConflictException, the first to {} in {}: another region was modifying the item. With multi-Region strong consistency a concurrent write fails (and can be retried) instead of being silently lost.",
                conflicts.len(),
                first.key.as_deref().unwrap_or("?"),
                first.node.as_deref().unwrap_or("?")
            ),
        });
    }
}
