//! The fault schedule of a run: drawn up front from the seed (so a report can list it and
//! `--shrink` can remove faults from it), then executed by the nemesis.

use crate::scenario::{FAULT_KINDS, Scenario};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// Cut a region off from every other region.
    Partition { region: usize },
    /// Cut the link between two storage nodes (both directions).
    Clog { a: usize, b: usize },
    /// Crash a storage node; it restarts when the fault ends, with what it synced.
    Crash { node: usize },
    /// Offset a storage node's physical clock (negative: behind; a backwards jump when the
    /// clock was ahead).
    Skew { node: usize, offset_ms: i64 },
    /// Drop this fraction (per mille) of all messages.
    Loss { per_mille: u32 },
    /// Raise message latency to up to this many ms.
    Delay { max_ms: u64 },
    /// A throttling storm: the table's capacity drops to nothing.
    Storm { table: usize },
    /// Not a fault: the table's widest partition splits in two (as DynamoDB splits for size
    /// or heat), while clients keep reading and writing.
    Split { table: usize },
    /// Cut a storage node off from every other storage node (both directions), while routers
    /// and clients still reach it: a leader there keeps answering until it learns otherwise.
    Isolate { node: usize },
}

impl Fault {
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Clog { .. } => "clog",
            Fault::Crash { .. } => "crash",
            Fault::Skew { .. } => "skew",
            Fault::Loss { .. } => "loss",
            Fault::Delay { .. } => "delay",
            Fault::Storm { .. } => "storm",
            Fault::Split { .. } => "split",
            Fault::Isolate { .. } => "isolate",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub start_ms: u64,
    pub end_ms: u64,
    pub fault: Fault,
}

/// Fault points active in a run (FoundationDB's BUGGIFY): each named point is switched on
/// with the scenario's activation probability, then fires with its firing probability.
pub const FAULT_POINTS: [&str; 5] = [
    "raft.drop-outgoing",
    "storage.defer-apply",
    "router.forget-leader",
    "replica.early-election",
    "router.stale-map",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Fault kinds switched on for this run (swarm testing).
    pub enabled: Vec<String>,
    pub faults: Vec<Scheduled>,
    pub points: Vec<String>,
    pub point_fire: f64,
}

fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    if n == 0 { 0 } else { rng.next_u64() % n }
}

fn between(rng: &mut ChaCha8Rng, [lo, hi]: [u64; 2]) -> u64 {
    lo + below(rng, hi - lo + 1)
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
}

impl Plan {
    /// The schedule for `seed`. `storage_nodes` and `tables` bound the targets.
    pub fn draw(scenario: &Scenario, seed: u64, storage_nodes: usize) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473);
        let f = &scenario.faults;
        let mut enabled: Vec<(String, u32)> = FAULT_KINDS
            .iter()
            .filter_map(|k| f.weights.get(*k).map(|w| (k.to_string(), *w)))
            .filter(|(_, w)| *w > 0)
            .collect();
        if f.swarm && enabled.len() > 1 {
            let all = enabled.clone();
            enabled.retain(|_| chance(&mut rng, 0.5));
            if enabled.is_empty() {
                enabled.push(all[below(&mut rng, all.len() as u64) as usize].clone());
            }
        }
        let total: u64 = enabled.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut faults = Vec::new();
        let mut t = between(&mut rng, f.interval_ms);
        let d = &scenario.deployment;
        let mut crashed_until: Vec<u64> = vec![0; storage_nodes];
        while total > 0 && t < scenario.duration_ms {
            let mut pick = below(&mut rng, total);
            let kind = enabled
                .iter()
                .find(|(_, w)| {
                    if pick < u64::from(*w) {
                        true
                    } else {
                        pick -= u64::from(*w);
                        false
                    }
                })
                .map(|(k, _)| k.as_str())
                .unwrap_or("crash");
            let duration = between(&mut rng, f.duration_ms);
            let end = (t + duration).min(scenario.duration_ms);
            let node = below(&mut rng, storage_nodes as u64) as usize;
            let fault = match kind {
                "partition" => Some(Fault::Partition {
                    region: below(&mut rng, d.regions as u64) as usize,
                }),
                "clog" => {
                    let other = below(&mut rng, storage_nodes as u64) as usize;
                    (other != node).then_some(Fault::Clog { a: node, b: other })
                }
                "crash" | "isolate" => {
                    // One storage node down or cut off at a time: DynamoDB survives a zone's
                    // loss.
                    if crashed_until.iter().all(|&u| u <= t) {
                        crashed_until[node] = end;
                        Some(if kind == "crash" {
                            Fault::Crash { node }
                        } else {
                            Fault::Isolate { node }
                        })
                    } else {
                        None
                    }
                }
                "skew" => Some(Fault::Skew {
                    node,
                    offset_ms: below(&mut rng, 4_001) as i64 - 2_000,
                }),
                "loss" => Some(Fault::Loss {
                    per_mille: 20 + below(&mut rng, 180) as u32,
                }),
                "delay" => Some(Fault::Delay {
                    max_ms: 20 + below(&mut rng, 180),
                }),
                "split" => Some(Fault::Split {
                    table: below(&mut rng, scenario.workloads.len() as u64) as usize,
                }),
                _ => Some(Fault::Storm {
                    table: below(&mut rng, scenario.workloads.len() as u64) as usize,
                }),
            };
            if let Some(fault) = fault {
                faults.push(Scheduled {
                    start_ms: t,
                    end_ms: end,
                    fault,
                });
            }
            t += between(&mut rng, f.interval_ms).max(1);
        }
        let points: Vec<String> = FAULT_POINTS
            .iter()
            .filter(|_| chance(&mut rng, f.point_activation))
            .map(|p| p.to_string())
            .collect();
        let mut names: BTreeSet<String> = BTreeSet::new();
        names.extend(enabled.into_iter().map(|(k, _)| k));
        Plan {
            enabled: names.into_iter().collect(),
            faults,
            points,
            point_fire: f.point_fire,
        }
    }

    pub fn point_active(&self, name: &str) -> bool {
        self.points.iter().any(|p| p == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::parse(
            "duration_ms = 5000\n[deployment]\nregions = 3\n[[workload]]\n[faults]\nweights = { partition = 1, clog = 1, crash = 2, skew = 1, loss = 1, delay = 1, storm = 1 }\n",
        )
        .unwrap()
    }

    #[test]
    fn same_seed_same_plan_and_seeds_differ() {
        let s = scenario();
        assert_eq!(Plan::draw(&s, 7, 9), Plan::draw(&s, 7, 9));
        let plans: BTreeSet<String> = (0..10)
            .map(|seed| format!("{:?}", Plan::draw(&s, seed, 9)))
            .collect();
        assert!(plans.len() > 5);
    }

    #[test]
    fn swarm_switches_kinds_and_crashes_never_overlap() {
        let s = scenario();
        let mut seen = BTreeSet::new();
        for seed in 0..50 {
            let plan = Plan::draw(&s, seed, 9);
            seen.insert(plan.enabled.len());
            let crashes: Vec<&Scheduled> = plan
                .faults
                .iter()
                .filter(|f| matches!(f.fault, Fault::Crash { .. }))
                .collect();
            for pair in crashes.windows(2) {
                assert!(pair[0].end_ms <= pair[1].start_ms, "{pair:?}");
            }
            for f in &plan.faults {
                assert!(f.end_ms <= s.duration_ms && f.start_ms < f.end_ms.max(f.start_ms + 1));
                assert!(plan.enabled.iter().any(|k| k == f.fault.name()));
            }
        }
        assert!(
            seen.len() > 3,
            "swarm testing varies the enabled set: {seen:?}"
        );
    }
}
