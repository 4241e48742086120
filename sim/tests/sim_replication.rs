//! A partition's replica group hosted the way the simulator will host it: each `Replica` on
//! its own simulated node, talking over madsim's network (1–10 ms latency), with election
//! timers, a client proposing writes to whoever leads, and the leader cut off from the others
//! for a while. No acknowledged write may be lost, and the healed group must converge.
#![cfg(madsim)]

use dynasim_engine::replication::raft::{LogEntry, Message, Replica, Role};
use madsim::net::{Endpoint, NetSim};
use madsim::rand::Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const REPLICAS: usize = 3;
const TAG: u64 = 7;

fn address(id: usize) -> SocketAddr {
    format!("10.0.1.{}:7000", id + 1).parse().unwrap()
}

/// The replicas, shared with the harness, which reads their state to record acknowledgements
/// and check the outcome (the messages themselves travel over the simulated network).
type Group = Arc<Mutex<Vec<Replica<u64>>>>;
/// Acknowledged entries: index → (entry, the term of the leader that committed it).
type Acked = Arc<Mutex<BTreeMap<u64, (LogEntry<u64>, u64)>>>;

fn observe(group: &[Replica<u64>], acked: &mut BTreeMap<u64, (LogEntry<u64>, u64)>) {
    for replica in group.iter().filter(|r| r.role() == Role::Leader) {
        for index in replica.first_index()..=replica.commit() {
            if let Some(entry) = replica.entry(index) {
                acked
                    .entry(index)
                    .or_insert((entry.clone(), replica.term()));
            }
        }
    }
}

/// What travels between nodes: replica messages, and clients' proposals.
enum Wire {
    Raft(usize, Message<u64>),
    Propose(u64),
}

async fn send(endpoint: &Endpoint, from: usize, out: Vec<(usize, Message<u64>)>) {
    for (to, message) in out {
        // A clogged link drops the message; Raft retries.
        let _ = endpoint
            .send_to_raw(address(to), TAG, Box::new(Wire::Raft(from, message)))
            .await;
    }
}

/// One replica's node: handles messages, heartbeats while leading, campaigns when it has not
/// heard from a leader for an election timeout (150–300 ms, drawn from the seed).
async fn run_replica(id: usize, group: Group, acked: Acked) {
    let endpoint = Endpoint::bind(address(id)).await.unwrap();
    let timeout = || Duration::from_millis(madsim::rand::thread_rng().gen_range(150..300));
    let mut deadline = tokio::time::Instant::now() + timeout();
    let mut tick = tokio::time::interval(Duration::from_millis(30));
    loop {
        tokio::select! {
            received = endpoint.recv_from_raw(TAG) => {
                let (payload, _) = received.unwrap();
                let (out, heard_leader) = {
                    let mut replicas = group.lock().unwrap();
                    let out = match *payload.downcast::<Wire>().unwrap() {
                        Wire::Raft(from, message) => {
                            let heard = matches!(message, Message::Append { .. });
                            (replicas[id].handle(from, message), heard)
                        }
                        // A replica that no longer leads drops the proposal.
                        Wire::Propose(value) => (
                            replicas[id].propose(value).map(|(_, out)| out).unwrap_or_default(),
                            false,
                        ),
                    };
                    observe(&replicas, &mut acked.lock().unwrap());
                    out
                };
                if heard_leader {
                    deadline = tokio::time::Instant::now() + timeout();
                }
                send(&endpoint, id, out).await;
            }
            _ = tick.tick() => {
                let out = {
                    let mut replicas = group.lock().unwrap();
                    if replicas[id].role() == Role::Leader {
                        replicas[id].heartbeat()
                    } else if tokio::time::Instant::now() >= deadline {
                        deadline = tokio::time::Instant::now() + timeout();
                        replicas[id].campaign()
                    } else {
                        Vec::new()
                    }
                };
                send(&endpoint, id, out).await;
            }
        }
    }
}

#[madsim::test]
async fn no_acknowledged_write_is_lost_when_the_leader_is_cut_off() {
    let handle = madsim::runtime::Handle::current();
    let group: Group = Arc::new(Mutex::new(
        (0..REPLICAS)
            .map(|i| Replica::bootstrap(i, REPLICAS, 0))
            .collect(),
    ));
    let acked: Acked = Arc::default();
    let mut nodes = Vec::new();
    for id in 0..REPLICAS {
        let node = handle
            .create_node()
            .name(format!("replica-{id}"))
            .ip(address(id).ip())
            .build();
        let (group, acked) = (group.clone(), acked.clone());
        node.spawn(async move { run_replica(id, group, acked).await });
        nodes.push(node.id());
    }
    // The client proposes a write every 10 ms to the replica that leads (found by looking;
    // the proposal itself travels the simulated network, and is lost if the link is cut).
    let client = handle
        .create_node()
        .name("client")
        .ip("10.0.2.1".parse().unwrap())
        .build();
    let proposals = {
        let group = group.clone();
        client.spawn(async move {
            let endpoint = Endpoint::bind("10.0.2.1:7001").await.unwrap();
            let mut proposed = 0u64;
            for value in 0..300u64 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let leader = {
                    let replicas = group.lock().unwrap();
                    (0..REPLICAS)
                        .filter(|&i| replicas[i].role() == Role::Leader)
                        .max_by_key(|&i| replicas[i].term())
                };
                if let Some(leader) = leader {
                    proposed += 1;
                    let _ = endpoint
                        .send_to_raw(address(leader), TAG, Box::new(Wire::Propose(value)))
                        .await;
                }
            }
            proposed
        })
    };
    // Cut the first leader off for a second, then heal.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let net = NetSim::current();
    net.clog_node(nodes[0]);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let leaders_while_cut: Vec<(usize, u64)> = {
        let replicas = group.lock().unwrap();
        (0..REPLICAS)
            .filter(|&i| replicas[i].role() == Role::Leader)
            .map(|i| (i, replicas[i].term()))
            .collect()
    };
    net.unclog_node(nodes[0]);
    let proposed = proposals.await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_000)).await;

    let replicas = group.lock().unwrap();
    let acked = acked.lock().unwrap();
    assert!(
        leaders_while_cut
            .iter()
            .any(|&(i, term)| i != 0 && term > 1),
        "the others elected a new leader while replica 0 was cut off: {leaders_while_cut:?}"
    );
    assert!(
        proposed > 100,
        "writes were proposed throughout ({proposed})"
    );
    assert!(
        acked.len() > 100,
        "most were acknowledged ({})",
        acked.len()
    );
    let commit = replicas[0].commit();
    for replica in replicas.iter() {
        assert_eq!(replica.commit(), commit, "the healed group converged");
        for (index, (entry, _)) in acked.iter() {
            assert_eq!(
                replica.entry(*index),
                Some(entry),
                "acknowledged entry {index} kept"
            );
        }
    }
}
