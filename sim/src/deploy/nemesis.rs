//! The nemesis: executes the fault plan (partitions, clogs, crashes, skew, loss, delay,
//! storms) and, as the control plane, asks partitions to split.

use super::{NEMESIS_IP, Wire, World, send};
use crate::faults::Fault;
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

pub(super) async fn nemesis(world: Arc<World>, ids: Vec<NodeId>, region_of: Vec<usize>) {
    let handle = Handle::current();
    let net = NetSim::current();
    let storage = storage_node_ids(&world, &ids);
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
    let default_latency = madsim::net::Config::default().send_latency;
    let set_partition = |region: usize, on: bool| {
        for (a, &ra) in region_of.iter().enumerate() {
            for (b, &rb) in region_of.iter().enumerate() {
                if ra == region && rb != region {
                    if on {
                        net.clog_link(ids[a], ids[b]);
                        net.clog_link(ids[b], ids[a]);
                    } else {
                        net.unclog_link(ids[a], ids[b]);
                        net.unclog_link(ids[b], ids[a]);
                    }
                }
            }
        }
    };
    for (at, start, i) in events {
        let now = world.elapsed_ms();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
        let fault = &world.plan.faults[i].fault;
        let value = serde_json::to_value(fault).expect("faults serialize");
        if start {
            world.nemesis(Kind::Invoke, fault.name(), value.clone());
        }
        match (fault, start) {
            (Fault::Partition { region }, on) => set_partition(*region, on),
            (Fault::Clog { a, b }, true) => {
                net.clog_link(storage[*a], storage[*b]);
                net.clog_link(storage[*b], storage[*a]);
            }
            (Fault::Clog { a, b }, false) => {
                net.unclog_link(storage[*a], storage[*b]);
                net.unclog_link(storage[*b], storage[*a]);
            }
            (Fault::Crash { node }, true) => {
                handle.kill(storage[*node]);
                world.crashed(*node);
            }
            (Fault::Crash { node }, false) => handle.restart(storage[*node]),
            (Fault::Skew { node, offset_ms }, true) => world.set_skew(*node, *offset_ms),
            (Fault::Skew { node, .. }, false) => world.set_skew(*node, 0),
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
                let d = default_latency.clone();
                net.update_config(|c| c.send_latency = d);
            }
            (Fault::Storm { table }, on) => world.set_storm(*table, on),
            (Fault::Split { table }, true) => {
                // The control plane splits the widest partition: it names the new group and
                // asks the group's replicas; the leader orders the split in its log.
                let request = world.plan_split(*table);
                // The control plane asks again until a replica applied the split (a leader
                // may be down, or lose its term before the split commits): applying it twice
                // does nothing.
                if let Some((group, mid, new_group, replicas)) = request {
                    let (world, endpoint) = (world.clone(), endpoint.clone());
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
            (Fault::Split { .. }, false) => {}
            (Fault::Isolate { node }, on) => {
                for (other, &id) in storage.iter().enumerate() {
                    if other == *node {
                        continue;
                    }
                    if on {
                        net.clog_link(storage[*node], id);
                        net.clog_link(id, storage[*node]);
                    } else {
                        net.unclog_link(storage[*node], id);
                        net.unclog_link(id, storage[*node]);
                    }
                }
            }
        }
        if !start {
            world.nemesis(Kind::Ok, fault.name(), value);
        }
    }
}
