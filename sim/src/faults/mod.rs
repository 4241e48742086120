//! The fault schedule of a run: drawn up front from the seed (so a report can list it and
//! `--shrink` can remove faults from it), then executed by the nemesis (`deploy/nemesis.rs`).
//! The closed list of fault kinds is [`FAULT_KINDS`]; each kind's file owns its draw, what it
//! needs of the deployment and how a report shows it. The fault points are in [`points`].

mod churn;
mod clog;
mod coordinator_crash;
mod corrupt;
mod crash;
mod delay;
mod feed_crash;
mod isolate;
mod loss;
mod one_way;
mod partition;
pub mod points;
mod power_loss;
mod router_lag;
mod skew;
mod split;
mod storm;
pub mod torn_write;

pub use points::{FAULT_POINTS, FaultPoint};

use crate::scenario::{Deployment, Scenario};
use crate::topology::Topology;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

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
    /// Leader churn on the table's first partition: its leader cut off or crashed, again and
    /// again, each time after it appended what it could not commit.
    Churn { table: usize },
    /// One router applies the leader hints it receives `lag_ms` late (stale partition
    /// metadata): it keeps routing to the leader it believed.
    RouterLag { router: usize, lag_ms: u64 },
    /// Every storage node of a region loses power at once; they restart when the fault
    /// ends, with what their disks made durable.
    PowerLoss { region: usize },
    /// Crash a storage node; it restarts when the fault ends with its replicas' logs
    /// unreadable from the middle on, and repairs them from their leaders.
    Corrupt { node: usize },
    /// Every storage node of a region loses power in the middle of its writes: each replica
    /// log keeps what it synced and a prefix (drawn from `seed`) of what it had not.
    TornWrite { region: usize, seed: u64 },
    /// Crash a change-feed component (`topology.feeds`); it restarts when the fault ends,
    /// from its last checkpoint.
    FeedCrash { component: usize },
    /// Crash a transaction coordinator (`topology.coordinators`); it restarts when the fault
    /// ends, with only the ledger.
    CoordinatorCrash { coordinator: usize },
    /// Drop every message from one region to another; the other way still works (an
    /// asymmetric link).
    OneWay { from: usize, to: usize },
}

/// A fault kind, as scenario files name it in `faults.weights`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Partition,
    Clog,
    Crash,
    Skew,
    Loss,
    Delay,
    Storm,
    Split,
    Isolate,
    Churn,
    RouterLag,
    PowerLoss,
    Corrupt,
    TornWrite,
    FeedCrash,
    CoordinatorCrash,
    OneWay,
}

/// Every fault kind, in the order a plan weighs them (do not reorder: a seed's plan depends
/// on it).
pub const FAULT_KINDS: [FaultKind; 17] = [
    FaultKind::Partition,
    FaultKind::Clog,
    FaultKind::Crash,
    FaultKind::Skew,
    FaultKind::Loss,
    FaultKind::Delay,
    FaultKind::Storm,
    FaultKind::Split,
    FaultKind::Isolate,
    FaultKind::Churn,
    FaultKind::RouterLag,
    FaultKind::PowerLoss,
    FaultKind::Corrupt,
    FaultKind::TornWrite,
    FaultKind::FeedCrash,
    FaultKind::CoordinatorCrash,
    FaultKind::OneWay,
];

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Clog => "clog",
            FaultKind::Crash => "crash",
            FaultKind::Skew => "skew",
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Storm => "storm",
            FaultKind::Split => "split",
            FaultKind::Isolate => "isolate",
            FaultKind::Churn => "churn",
            FaultKind::RouterLag => "router-lag",
            FaultKind::PowerLoss => "power-loss",
            FaultKind::Corrupt => "corrupt",
            FaultKind::TornWrite => "torn-write",
            FaultKind::FeedCrash => "feed-crash",
            FaultKind::CoordinatorCrash => "coordinator-crash",
            FaultKind::OneWay => "one-way",
        }
    }

    pub fn parse(name: &str) -> Option<FaultKind> {
        FAULT_KINDS.into_iter().find(|k| k.name() == name)
    }

    /// Why `deployment` cannot have this kind of fault, if it cannot.
    pub fn unsupported(self, deployment: &Deployment) -> Option<&'static str> {
        match self {
            FaultKind::Partition => partition::unsupported(deployment),
            FaultKind::FeedCrash => feed_crash::unsupported(deployment),
            FaultKind::CoordinatorCrash => coordinator_crash::unsupported(deployment),
            FaultKind::OneWay => one_way::unsupported(deployment),
            _ => None,
        }
    }

    /// Draws one fault of this kind (`None`: none fits at this time).
    fn draw(self, d: &mut Draw<'_>) -> Option<Fault> {
        match self {
            FaultKind::Partition => partition::draw(d),
            FaultKind::Clog => clog::draw(d),
            FaultKind::Crash => crash::draw(d),
            FaultKind::Skew => skew::draw(d),
            FaultKind::Loss => loss::draw(d),
            FaultKind::Delay => delay::draw(d),
            FaultKind::Storm => storm::draw(d),
            FaultKind::Split => split::draw(d),
            FaultKind::Isolate => isolate::draw(d),
            FaultKind::Churn => churn::draw(d),
            FaultKind::RouterLag => router_lag::draw(d),
            FaultKind::PowerLoss => power_loss::draw(d),
            FaultKind::Corrupt => corrupt::draw(d),
            FaultKind::TornWrite => torn_write::draw(d),
            FaultKind::FeedCrash => feed_crash::draw(d),
            FaultKind::CoordinatorCrash => coordinator_crash::draw(d),
            FaultKind::OneWay => one_way::draw(d),
        }
    }
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Clog { .. } => FaultKind::Clog,
            Fault::Crash { .. } => FaultKind::Crash,
            Fault::Skew { .. } => FaultKind::Skew,
            Fault::Loss { .. } => FaultKind::Loss,
            Fault::Delay { .. } => FaultKind::Delay,
            Fault::Storm { .. } => FaultKind::Storm,
            Fault::Split { .. } => FaultKind::Split,
            Fault::Isolate { .. } => FaultKind::Isolate,
            Fault::Churn { .. } => FaultKind::Churn,
            Fault::RouterLag { .. } => FaultKind::RouterLag,
            Fault::PowerLoss { .. } => FaultKind::PowerLoss,
            Fault::Corrupt { .. } => FaultKind::Corrupt,
            Fault::TornWrite { .. } => FaultKind::TornWrite,
            Fault::FeedCrash { .. } => FaultKind::FeedCrash,
            Fault::CoordinatorCrash { .. } => FaultKind::CoordinatorCrash,
            Fault::OneWay { .. } => FaultKind::OneWay,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// How a report shows the fault: its target, and what happened to it.
    pub fn render(&self, topology: &Topology) -> (String, String) {
        match *self {
            Fault::Partition { region } => partition::render(topology, region),
            Fault::Clog { a, b } => clog::render(topology, a, b),
            Fault::Crash { node } => crash::render(topology, node),
            Fault::Skew { node, offset_ms } => skew::render(topology, node, offset_ms),
            Fault::Loss { per_mille } => loss::render(per_mille),
            Fault::Delay { max_ms } => delay::render(max_ms),
            Fault::Storm { table } => storm::render(topology, table),
            Fault::Split { table } => split::render(topology, table),
            Fault::Isolate { node } => isolate::render(topology, node),
            Fault::Churn { table } => churn::render(topology, table),
            Fault::RouterLag { router, lag_ms } => router_lag::render(topology, router, lag_ms),
            Fault::PowerLoss { region } => power_loss::render(topology, region),
            Fault::Corrupt { node } => corrupt::render(topology, node),
            Fault::TornWrite { region, .. } => torn_write::render(topology, region),
            Fault::FeedCrash { component } => feed_crash::render(topology, component),
            Fault::CoordinatorCrash { coordinator } => {
                coordinator_crash::render(topology, coordinator)
            }
            Fault::OneWay { from, to } => one_way::render(topology, from, to),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub start_ms: u64,
    pub end_ms: u64,
    pub fault: Fault,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Fault kinds switched on for this run (swarm testing), sorted by name.
    pub enabled: Vec<FaultKind>,
    pub faults: Vec<Scheduled>,
    pub points: Vec<FaultPoint>,
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

/// What a fault kind's draw may use: the plan's generator, the fault's time span, a storage
/// node drawn for it (every kind's draw starts from one, so that kinds do not shift each
/// other's draws), the deployment's sizes, and which node is down until when.
pub(crate) struct Draw<'a> {
    rng: &'a mut ChaCha8Rng,
    start_ms: u64,
    end_ms: u64,
    node: usize,
    storage_nodes: usize,
    regions: usize,
    /// Request routers: one per zone of each region.
    routers: usize,
    tables: usize,
    /// Change-feed components (stream publisher, index propagator) the deployment has.
    components: usize,
    down_until: &'a mut [u64],
    /// Until when a router lags (one at a time: the others learn leaders at once).
    router_lag_until: &'a mut u64,
    /// Until when a change-feed component is down (one at a time).
    feed_down_until: &'a mut u64,
    /// Transaction coordinators the deployment has.
    coordinators: usize,
    /// Until when a coordinator is down (one at a time).
    coordinator_down_until: &'a mut u64,
}

impl Draw<'_> {
    fn below(&mut self, n: u64) -> u64 {
        below(self.rng, n)
    }

    /// Every storage node down until the fault ends, unless one is down now (`power-loss`).
    fn take_all_nodes_down(&mut self) -> bool {
        if self.down_until.iter().all(|&until| until <= self.start_ms) {
            self.down_until.fill(self.end_ms);
            true
        } else {
            false
        }
    }

    /// One storage node down or cut off at a time (DynamoDB survives a zone's loss): takes
    /// `node` down until the fault ends, unless another node is down now.
    fn take_node_down(&mut self) -> bool {
        if self.down_until.iter().all(|&until| until <= self.start_ms) {
            self.down_until[self.node] = self.end_ms;
            true
        } else {
            false
        }
    }
}

impl Plan {
    /// The schedule for `seed`. `storage_nodes` and the scenario's tables bound the targets.
    pub fn draw(scenario: &Scenario, seed: u64, storage_nodes: usize) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473);
        let f = &scenario.faults;
        let mut enabled: Vec<(FaultKind, u32)> = FAULT_KINDS
            .iter()
            .filter_map(|k| f.weights.get(k).map(|w| (*k, *w)))
            .filter(|(_, w)| *w > 0)
            .collect();
        if f.swarm && enabled.len() > 1 {
            let all = enabled.clone();
            enabled.retain(|_| chance(&mut rng, 0.5));
            if enabled.is_empty() {
                enabled.push(all[below(&mut rng, all.len() as u64) as usize]);
            }
        }
        let faults = schedule(scenario, &enabled, &mut rng, storage_nodes);
        let points: Vec<FaultPoint> = FAULT_POINTS
            .into_iter()
            .filter(|_| chance(&mut rng, f.point_activation))
            .collect();
        let mut enabled: Vec<FaultKind> = enabled.into_iter().map(|(k, _)| k).collect();
        enabled.sort_by_key(|k| k.name());
        enabled.dedup();
        Plan {
            enabled,
            faults,
            points,
            point_fire: f.point_fire,
        }
    }

    pub fn point_active(&self, point: FaultPoint) -> bool {
        self.points.contains(&point)
    }
}

/// The faults of the enabled kinds, one every `interval_ms`, each chosen by weight.
fn schedule(
    scenario: &Scenario,
    enabled: &[(FaultKind, u32)],
    rng: &mut ChaCha8Rng,
    storage_nodes: usize,
) -> Vec<Scheduled> {
    let f = &scenario.faults;
    let total: u64 = enabled.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut faults = Vec::new();
    let mut t = between(rng, f.interval_ms);
    let mut down_until: Vec<u64> = vec![0; storage_nodes];
    let mut router_lag_until = 0;
    let mut feed_down_until = 0;
    let mut coordinator_down_until = 0;
    while total > 0 && t < scenario.duration_ms {
        let mut pick = below(rng, total);
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
            .map(|(k, _)| *k)
            .unwrap_or(FaultKind::Crash);
        let duration = between(rng, f.duration_ms);
        let end = (t + duration).min(scenario.duration_ms);
        let node = below(rng, storage_nodes as u64) as usize;
        let mut draw = Draw {
            rng: &mut *rng,
            start_ms: t,
            end_ms: end,
            node,
            storage_nodes,
            regions: scenario.deployment.regions,
            routers: scenario.deployment.regions * scenario.deployment.zones,
            tables: scenario.workloads.len(),
            components: usize::from(scenario.deployment.stream_publisher)
                + usize::from(scenario.deployment.index_propagator)
                + usize::from(scenario.deployment.ttl_sweeper),
            down_until: &mut down_until,
            router_lag_until: &mut router_lag_until,
            feed_down_until: &mut feed_down_until,
            coordinators: scenario.deployment.coordinators,
            coordinator_down_until: &mut coordinator_down_until,
        };
        if let Some(fault) = kind.draw(&mut draw) {
            assert!(
                t < scenario.duration_ms,
                "a fault starts within the fault phase"
            );
            assert!(
                end <= scenario.duration_ms,
                "a fault ends within the fault phase"
            );
            faults.push(Scheduled {
                start_ms: t,
                end_ms: end,
                fault,
            });
        }
        t += between(rng, f.interval_ms).max(1);
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
                assert!(plan.enabled.contains(&f.fault.kind()));
            }
        }
        assert!(
            seen.len() > 3,
            "swarm testing varies the enabled set: {seen:?}"
        );
    }
}
