//! The nemesis: executes the fault plan (partitions, clogs, crashes, skew, loss, delay,
//! storms, isolation, leader churn, router lag) and, as the control plane, asks partitions to
//! split.

use super::{NEMESIS_IP, Wire, World, send};
use crate::faults::{Fault, Scheduled};
use crate::history::Kind;
use crate::topology::PORT;
use madsim::net::{Endpoint, NetSim};
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How often the control plane asks a partition to split (every 200 ms) before it gives up.
pub(super) const SPLIT_ATTEMPTS: usize = 25;
pub(super) fn storage_node_ids(world: &World, ids: &[NodeId]) -> Vec<NodeId> {
    ids[..world.topology.storage.len()].to_vec()
}

/// What the nemesis acts through: the runtime (kill, restart), the network (clogs, loss,
/// latency), the node ids of every node (storage nodes first) and their regions.
struct Nemesis {
    world: Arc<World>,
    handle: Handle,
    net: Arc<NetSim>,
    ids: Vec<NodeId>,
    storage: Vec<NodeId>,
    region_of: Vec<usize>,
    endpoint: Arc<Endpoint>,
    default_latency: std::ops::Range<Duration>,
}

pub(super) async fn nemesis(world: Arc<World>, ids: Vec<NodeId>, region_of: Vec<usize>) {
    let endpoint = Arc::new(
        Endpoint::bind(SocketAddr::new(
            NEMESIS_IP.parse().expect("an address"),
            PORT,
        ))
        .await
        .expect("bind"),
    );
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, f) in world.plan.faults.iter().enumerate() {
        events.push((f.start_ms, true, i));
        events.push((f.end_ms, false, i));
    }
    events.sort();
    let nemesis = Nemesis {
        storage: storage_node_ids(&world, &ids),
        world,
        handle: Handle::current(),
        net: NetSim::current(),
        ids,
        region_of,
        endpoint,
        default_latency: madsim::net::Config::default().send_latency,
    };
    let world = &nemesis.world;
    for (at, start, i) in events {
        let now = world.elapsed_ms();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
        let scheduled = &world.plan.faults[i];
        let fault = &scheduled.fault;
        let value = serde_json::to_value(fault).expect("faults serialize");
        if start {
            world.nemesis(Kind::Invoke, fault.name(), value.clone());
        }
        nemesis.execute(scheduled, start);
        if !start {
            world.nemesis(Kind::Ok, fault.name(), value);
        }
    }
}

/// Kills storage node `node` (madsim id `id`) and forgets its volatile state.
fn kill(world: &World, handle: &Handle, id: NodeId, node: usize) {
    handle.kill(id);
    world.crashed(node);
    world.down.lock().unwrap().insert(node);
}

/// Restarts storage node `node` unless it is up: two faults that overlap on one node (a
/// churn round that outlives its fault, then a crash) restart it once.
fn restart(world: &World, handle: &Handle, id: NodeId, node: usize) {
    if world.down.lock().unwrap().remove(&node) {
        handle.restart(id);
    }
}

impl Nemesis {
    /// Every storage node of `region` loses power (`on`) or gets it back; with `torn`, their
    /// disks keep part of what they had not synced (`torn-write`, drawn from the seed).
    fn power(&self, region: usize, on: bool, torn: Option<u64>) {
        let (storage, topology) = (&self.storage, &self.world.topology);
        let nodes = (0..storage.len()).filter(|&n| topology.storage[n].region == region);
        for node in nodes {
            if on {
                kill(&self.world, &self.handle, storage[node], node);
                if let Some(seed) = torn {
                    self.world.tear_disk(node, seed);
                }
            } else {
                restart(&self.world, &self.handle, storage[node], node);
            }
        }
    }

    /// Starts (`on`) or ends a fault.
    fn execute(&self, scheduled: &Scheduled, on: bool) {
        let fault = &scheduled.fault;
        let (net, storage) = (&self.net, &self.storage);
        match (fault, on) {
            (Fault::Partition { region }, on) => self.set_partition(*region, on),
            (Fault::Clog { a, b }, on) => self.set_link(storage[*a], storage[*b], on),
            (Fault::Crash { node }, true) => kill(&self.world, &self.handle, storage[*node], *node),
            (Fault::Crash { node }, false) => {
                restart(&self.world, &self.handle, storage[*node], *node)
            }
            (Fault::Corrupt { node }, true) => {
                kill(&self.world, &self.handle, storage[*node], *node);
                self.world.damage_disk(*node);
            }
            (Fault::Corrupt { node }, false) => {
                restart(&self.world, &self.handle, storage[*node], *node)
            }
            (Fault::PowerLoss { region }, on) => self.power(*region, on, None),
            (Fault::TornWrite { region, seed }, on) => self.power(*region, on, Some(*seed)),
            (Fault::Skew { node, offset_ms }, true) => self.world.set_skew(*node, *offset_ms),
            (Fault::Skew { node, .. }, false) => self.world.set_skew(*node, 0),
            (Fault::Loss { per_mille }, true) => {
                let rate = f64::from(*per_mille) / 1000.0;
                net.update_config(|c| c.packet_loss_rate = rate);
            }
            (Fault::Loss { .. }, false) => net.update_config(|c| c.packet_loss_rate = 0.0),
            (Fault::Delay { max_ms }, true) => {
                let max = Duration::from_millis(*max_ms);
                net.update_config(|c| c.send_latency = Duration::from_millis(1)..max);
            }
            (Fault::Delay { .. }, false) => {
                let d = self.default_latency.clone();
                net.update_config(|c| c.send_latency = d);
            }
            (Fault::Storm { table }, on) => self.world.set_storm(*table, on),
            (Fault::Split { table }, true) => self.split(*table),
            (Fault::Split { .. }, false) => {}
            (Fault::Churn { table }, on) => {
                self.world.set_churn(*table, on);
                if on {
                    self.churn(*table);
                }
            }
            (Fault::RouterLag { router, lag_ms }, on) => {
                let lag = Duration::from_millis(*lag_ms);
                self.world.set_router_lag(*router, lag, on);
            }
            (Fault::FeedCrash { component }, on) => {
                let t = &self.world.topology;
                let first = self.ids.len() - t.coordinators.len() - t.feeds.len();
                self.set_down(self.ids[first + component], on);
            }
            (Fault::CoordinatorCrash { coordinator }, true) => {
                self.crash_coordinator(*coordinator, scheduled.end_ms)
            }
            (Fault::CoordinatorCrash { .. }, false) => {}
            (Fault::OneWay { from, to }, on) => self.set_one_way(*from, *to, on),
            (Fault::Isolate { node }, on) => {
                for (other, &id) in storage.iter().enumerate() {
                    if other != *node {
                        self.set_link(storage[*node], id, on);
                    }
                }
            }
        }
    }

    /// The `coordinator-crash` fault, in a task of its own: waits (up to half the fault's
    /// time) until the coordinator is committing a transaction, so that the crash falls
    /// between its decision and the partitions' acknowledgements, kills it, and restarts it
    /// when the fault ends.
    fn crash_coordinator(&self, c: usize, end_ms: u64) {
        let world = self.world.clone();
        let handle = self.handle.clone();
        let first = self.ids.len() - world.topology.coordinators.len();
        let id = self.ids[first + c];
        madsim::task::spawn(async move {
            let give_up = world.elapsed_ms() + end_ms.saturating_sub(world.elapsed_ms()) / 2;
            while world.elapsed_ms() < give_up && !super::coordinator::committing(&world, c) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            handle.kill(id);
            let now = world.elapsed_ms();
            tokio::time::sleep(Duration::from_millis(end_ms.saturating_sub(now))).await;
            handle.restart(id);
        });
    }

    /// Kills a node (`on`) or restarts it.
    fn set_down(&self, id: NodeId, on: bool) {
        if on {
            self.handle.kill(id);
        } else {
            self.handle.restart(id);
        }
    }

    /// Clogs (or unclogs) the link between two nodes, both ways.
    fn set_link(&self, a: NodeId, b: NodeId, on: bool) {
        if on {
            self.net.clog_link(a, b);
            self.net.clog_link(b, a);
        } else {
            self.net.unclog_link(a, b);
            self.net.unclog_link(b, a);
        }
    }

    /// Cuts (or heals) every link from a node of region `from` to a node of region `to`.
    fn set_one_way(&self, from: usize, to: usize, on: bool) {
        for (a, &ra) in self.region_of.iter().enumerate() {
            for (b, &rb) in self.region_of.iter().enumerate() {
                if ra == from && rb == to {
                    if on {
                        self.net.clog_link(self.ids[a], self.ids[b]);
                    } else {
                        self.net.unclog_link(self.ids[a], self.ids[b]);
                    }
                }
            }
        }
    }

    /// Cuts (or heals) every link between `region` and the other regions.
    fn set_partition(&self, region: usize, on: bool) {
        for (a, &ra) in self.region_of.iter().enumerate() {
            for (b, &rb) in self.region_of.iter().enumerate() {
                if ra == region && rb != region {
                    self.set_link(self.ids[a], self.ids[b], on);
                }
            }
        }
    }

    /// Leader churn (`faults/churn.rs`): while the fault lasts, round after round, the current
    /// leader of the table's first partition is cut off from the other storage nodes (odd
    /// rounds) or crashed (even rounds) for twice the longest election timeout, so that a
    /// replica of a newer term leads and appends meanwhile, then it comes back.
    fn churn(&self, table: usize) {
        let (world, handle, net) = (self.world.clone(), self.handle.clone(), self.net.clone());
        let storage = self.storage.clone();
        let hold = Duration::from_millis(2 * world.scenario.deployment.election_timeout_ms[1]);
        madsim::task::spawn(async move {
            let mut round = 0u64;
            while world.churning(table) {
                let group = world.placement.lock().unwrap().maps[table][0].1;
                let Some(node) = world.current_leader(group) else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                round += 1;
                // Let clients write through the leader first: it appends what it then cannot
                // commit.
                tokio::time::sleep(Duration::from_millis(5)).await;
                if round % 2 == 1 {
                    for &other in storage.iter().filter(|&&id| id != storage[node]) {
                        net.clog_link(storage[node], other);
                        net.clog_link(other, storage[node]);
                    }
                    tokio::time::sleep(hold).await;
                    for &other in storage.iter().filter(|&&id| id != storage[node]) {
                        net.unclog_link(storage[node], other);
                        net.unclog_link(other, storage[node]);
                    }
                } else {
                    kill(&world, &handle, storage[node], node);
                    tokio::time::sleep(hold).await;
                    restart(&world, &handle, storage[node], node);
                }
                tokio::time::sleep(hold / 2).await;
            }
        });
    }

    /// The control plane splits the widest partition: it names the new group and asks the
    /// group's replicas; the leader orders the split in its log.
    fn split(&self, table: usize) {
        let Some((group, mid, new_group, replicas)) = self.world.plan_split(table) else {
            return;
        };
        // The control plane asks again until a replica applied the split (a leader may be
        // down, or lose its term before the split commits): applying it twice does nothing.
        let (world, endpoint) = (self.world.clone(), self.endpoint.clone());
        madsim::task::spawn(async move {
            for _ in 0..SPLIT_ATTEMPTS {
                if world.group_created(new_group) {
                    break;
                }
                for node in replicas {
                    let to = world.topology.storage[node].addr();
                    let wire = Wire::Split {
                        group,
                        mid,
                        new_group,
                    };
                    send(&world, &endpoint, to, wire).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
}
