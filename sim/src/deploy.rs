//! The deployment on madsim: storage nodes hosting partition replicas (the engine's
//! [`Replica`] for ordering, an [`Engine`] per replica as the state machine it orders), request
//! routers, client nodes running workloads, and the nemesis executing the fault plan. Only
//! built with `--cfg madsim`.

use crate::faults::{Fault, Plan};
use crate::history::{Event, History, Kind, Process};
use crate::run::{Bug, RunOptions};
use crate::scenario::Scenario;
use crate::topology::{PORT, Placement, Range, Topology, in_range, key_hash};
use crate::workload::{self, Generator, Mode, Planned, Step};
use dynasim_engine::replication::{Message, Replica, Role};
use dynasim_engine::{Config, Engine, Request};
use madsim::net::{Endpoint, NetSim};
use madsim::rand::Rng;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const TAG: u64 = 1;
/// The engine's clock starts here (2026-01-01), plus simulated time and each node's skew.
const EPOCH_MS: u64 = 1_767_225_600_000;
/// How often the control plane asks a partition to split (every 200 ms) before it gives up.
const SPLIT_ATTEMPTS: usize = 25;
/// The nemesis (and control plane) node's address.
const NEMESIS_IP: &str = "10.250.0.1";
/// Process numbers of the final reader.
pub const FINAL_PROCESS: u64 = 1_000_000;

/// A command in a partition's log: a request and the leader's clock when it was proposed.
#[derive(Debug)]
pub struct Cmd {
    request: Request,
    now_ms: u64,
    /// Reads travel the log for strong consistency; followers skip them.
    read_only: bool,
    /// A split instead of a request: the group keeps `[lo, mid)` and `new group` takes the rest.
    split: Option<(u64, u32)>,
}

#[derive(Clone, Debug)]
struct Req {
    id: u64,
    client: SocketAddr,
    router: SocketAddr,
    table: usize,
    group: u32,
    mode: Mode,
    request: Request,
    hops: u8,
    /// Scans of one partition: the hash range the client expects the partition to own.
    range: Option<Range>,
}

/// The message a scan gets when its partition's range changed (a split): the client re-reads
/// the partition map and scans again.
const MOVED: &str = "Partition moved: its key range changed; re-read the partition map.";

enum Wire {
    Raft {
        group: u32,
        from: usize,
        message: Message<Arc<Cmd>>,
        /// An Append's send time on the leader's monotonic clock; an AppendReply echoes the
        /// stamp of the Append it answers (leases count from it).
        stamp: Option<Instant>,
    },
    /// Client to router (`group` already chosen for scans of one partition).
    Route {
        req: Box<Req>,
        group: Option<u32>,
    },
    /// Router (or a replica that is not the leader) to a storage node.
    Exec {
        req: Box<Req>,
    },
    Reply {
        id: u64,
        result: Result<Json, dynasim_engine::Error>,
        node: String,
    },
    LeaderHint {
        group: u32,
        replica: usize,
    },
    /// The control plane asks a group to split at `mid`, creating `new_group`.
    Split {
        group: u32,
        mid: u64,
        new_group: u32,
    },
}

/// A storage node's persisted replicas, by group: what survives a crash.
type Disk = Arc<Mutex<BTreeMap<u32, Replica<Arc<Cmd>>>>>;

/// Everything the run shares: topology, clocks, history, observation of node state.
pub struct World {
    pub scenario: Scenario,
    pub topology: Topology,
    pub plan: Plan,
    pub options: RunOptions,
    start: Instant,
    history: Mutex<History>,
    /// Per storage node clock offset (ms).
    skew: Mutex<Vec<i64>>,
    /// Tables in a throttling storm.
    storms: Mutex<BTreeSet<usize>>,
    /// The partition map (the routers' metadata), changed by splits.
    placement: Mutex<Placement>,
    /// Storage node state, readable by the harness after the run.
    nodes: Mutex<Vec<Option<Arc<Mutex<StorageState>>>>>,
    /// What each storage node has persisted (survives crashes).
    disks: Vec<Disk>,
    stop_clients: AtomicBool,
    pub ops: Mutex<u64>,
    /// Client requests that were answered ok, after the last fault healed (liveness).
    progress_after_heal: Mutex<BTreeMap<usize, u64>>,
    healed: AtomicBool,
}

impl World {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn record(&self, event: Event) {
        self.history.lock().unwrap().push(event);
    }

    fn nemesis(&self, kind: Kind, f: &str, value: Json) {
        let mut e = Event::new(Process::Named("nemesis".into()), kind, f, self.now_ns());
        e.value = value;
        self.record(e);
    }

    /// Records that `node` leads `group` from now, in `term` (the reports draw a lane per
    /// partition from these).
    fn leader(&self, group: u32, node: usize, term: u64) {
        let name = {
            let placement = self.placement.lock().unwrap();
            self.topology.group_name(&placement, group)
        };
        let mut e = Event::new(
            Process::Named("raft".into()),
            Kind::Info,
            "leader",
            self.now_ns(),
        );
        e.key = Some(name);
        e.value = json!({"node": self.topology.storage[node].name, "term": term});
        self.record(e);
    }

    fn fires(&self, point: &str) -> bool {
        self.plan.point_active(point) && madsim::rand::thread_rng().gen_bool(self.plan.point_fire)
    }

    fn bug(&self, bug: Bug) -> bool {
        self.options.bug == Some(bug)
    }
}

async fn send(world: &World, endpoint: &Arc<Endpoint>, to: SocketAddr, wire: Wire) {
    let from = endpoint.local_addr().expect("bound");
    if Topology::region_of(&from) != Topology::region_of(&to) {
        let [lo, hi] = world.scenario.deployment.cross_region_latency_ms;
        let delay = madsim::rand::thread_rng().gen_range(lo..=hi);
        let endpoint = endpoint.clone();
        madsim::task::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let _ = endpoint.send_to_raw(to, TAG, Box::new(wire)).await;
        });
    } else {
        // A clogged or lost message is simply gone: every sender retries or times out.
        let _ = endpoint.send_to_raw(to, TAG, Box::new(wire)).await;
    }
}

/// One replica's volatile state on a storage node.
pub struct GroupState {
    /// `None` for a group created by a split this replica has not replayed yet.
    pub engine: Option<Engine>,
    /// The hash range this replica's group owns at its applied index.
    pub range: Range,
    pub applied: u64,
    /// The broken variant "skip on restart": the newest persisted write, skipped on replay.
    skip: Option<u64>,
    deadline: Instant,
    leader_hint: Option<usize>,
    /// Index → (term, client, request id) of proposals awaiting commit.
    pending: BTreeMap<u64, (u64, Box<Req>)>,
    lease: Lease,
    flow: Flow,
}

/// A leader's flow control per peer: one Append with entries in flight at a time (entries
/// proposed meanwhile travel together in the next one, sent when the peer answers), and what
/// the last Append carried.
#[derive(Default)]
struct Flow {
    /// When the last Append (of any kind) went to the peer, and the commit index it carried.
    sent: [Option<(Instant, u64)>; 3],
    /// When an Append with entries went to the peer and was not answered yet.
    inflight: [Option<Instant>; 3],
}

/// Leader leases, as DynamoDB's partition leaders hold them: a leader serves strongly
/// consistent reads from its own state while a majority recently acknowledged it, and no
/// replica helps elect another leader (votes or campaigns) within `lease_ms` of hearing from
/// the current one, so a new leader cannot exist while the old lease runs. Durations are
/// measured on the monotonic clock, which clock skew and jumps do not touch.
struct Lease {
    /// When this replica last accepted an Append from its term's leader (or started: a restart
    /// forgets what it heard).
    heard: Instant,
    /// Leader: the term `acked` belongs to, and per peer the send stamp of the newest Append
    /// it accepted in that term.
    term: u64,
    acked: [Option<Instant>; 3],
}

impl Lease {
    fn new() -> Lease {
        Lease {
            heard: Instant::now(),
            term: 0,
            acked: [None; 3],
        }
    }
}

impl GroupState {
    fn new(world: &World, engine: Option<Engine>, range: Range, skip: Option<u64>) -> GroupState {
        GroupState {
            engine,
            range,
            applied: 0,
            skip,
            deadline: Instant::now() + election_timeout(world),
            leader_hint: Some(0),
            pending: BTreeMap::new(),
            lease: Lease::new(),
            flow: Flow::default(),
        }
    }

    /// Within the lease window of the last leader this replica heard: it must not vote for
    /// another candidate or campaign.
    fn loyal(&self, world: &World) -> bool {
        Instant::now() < self.lease.heard + lease(world)
    }

    /// A leader whose lease runs: it may answer strongly consistent reads from its own state.
    fn leased(&self, world: &World, replica: &Replica<Arc<Cmd>>) -> bool {
        replica.is_ready_leader()
            && self.lease.term == replica.term()
            && self.applied == replica.commit()
            && self
                .lease
                .acked
                .iter()
                .flatten()
                .max()
                .is_some_and(|&start| Instant::now() < start + lease(world))
    }
}

/// How long a lease lasts: the shortest election timeout (a follower never campaigns sooner).
fn lease(world: &World) -> Duration {
    Duration::from_millis(world.scenario.deployment.election_timeout_ms[0])
}

/// A split a replica applied: the group it creates, with its share of the data.
struct Created {
    group: u32,
    engine: Engine,
    range: Range,
    table: usize,
    mid: u64,
}

pub struct StorageState {
    pub groups: BTreeMap<u32, GroupState>,
}

fn new_engine(world: &World, table: usize) -> Engine {
    let mut engine = Engine::new(Config::default());
    let w = &world.scenario.workloads[table];
    let mut profile = dynasim_engine::profile::Profile::default();
    if w.write_units.is_some() || w.read_units.is_some() {
        profile.defaults.throttling = true;
        engine = Engine::with_profile(Config::default(), profile, world.options.seed);
    }
    engine
        .execute(workload::create_table(w), EPOCH_MS)
        .expect("the workload's table is valid");
    engine
}

fn election_timeout(world: &World) -> Duration {
    let [lo, hi] = world.scenario.deployment.election_timeout_ms;
    Duration::from_millis(madsim::rand::thread_rng().gen_range(lo..=hi))
}

fn node_clock(world: &World, node: usize) -> u64 {
    let skew = world.skew.lock().unwrap()[node];
    (EPOCH_MS as i64 + world.start.elapsed().as_millis() as i64 + skew).max(0) as u64
}

async fn storage_node(world: Arc<World>, index: usize) {
    let info = world.topology.storage[index].clone();
    let endpoint = Arc::new(Endpoint::bind(info.addr()).await.expect("bind"));
    // Recover: the persisted replicas restart; engines are rebuilt by replaying the log. A
    // group created by a split gets its data when the parent's log replays the split.
    let placement = world.placement.lock().unwrap().clone();
    let initial = Placement::new(&world.topology);
    let mut groups = BTreeMap::new();
    {
        let mut disk = world.disks[index].lock().unwrap();
        for (g, group) in placement.groups.iter().enumerate() {
            let g = g as u32;
            let Some(rid) = group.replicas.iter().position(|&n| n == index) else {
                continue;
            };
            let is_initial = (g as usize) < world.topology.groups.len();
            let mut skip = None;
            match disk.get_mut(&g) {
                Some(replica) => {
                    replica.restart();
                    skip = (replica.first_index()..=replica.last_index())
                        .rev()
                        .find(|&i| {
                            replica.entry(i).is_some_and(|e| {
                                e.payload
                                    .as_ref()
                                    .is_some_and(|c| !c.read_only && c.split.is_none())
                            })
                        });
                }
                None if is_initial => {
                    let replica = Replica::bootstrap(rid, 3, 0);
                    if replica.role() == Role::Leader {
                        world.leader(g, index, replica.term());
                    }
                    disk.insert(g, replica);
                }
                None => continue,
            }
            let range = if is_initial {
                initial.range_of(group.table, g)
            } else {
                (0, 0)
            };
            let engine = is_initial.then(|| new_engine(&world, group.table));
            groups.insert(g, GroupState::new(&world, engine, range, skip));
        }
    }
    let state = Arc::new(Mutex::new(StorageState { groups }));
    world.nodes.lock().unwrap()[index] = Some(state.clone());
    let heartbeat = Duration::from_millis(world.scenario.deployment.heartbeat_ms);
    let mut tick = tokio::time::interval(heartbeat);
    // madsim's `recv_from_raw` is not cancel-safe (it sleeps after taking the message), so a
    // receiver task owns it and hands messages over a channel, which `select!` may poll and
    // drop freely.
    let (inbox_tx, mut inbox) = tokio::sync::mpsc::unbounded_channel::<Box<Wire>>();
    let receiver = endpoint.clone();
    madsim::task::spawn(async move {
        while let Ok((payload, _)) = receiver.recv_from_raw(TAG).await {
            if let Ok(wire) = payload.downcast::<Wire>()
                && inbox_tx.send(wire).is_err()
            {
                break;
            }
        }
    });
    loop {
        let mut outgoing: Vec<(SocketAddr, Wire)> = Vec::new();
        // Biased: tokio's fair choice draws from a random source the simulator does not seed.
        tokio::select! {
            biased;
            received = inbox.recv() => {
                let Some(wire) = received else { break };
                let mut s = state.lock().unwrap();
                handle(&world, index, &mut s, *wire, &mut outgoing);
            }
            _ = tick.tick() => {
                let mut s = state.lock().unwrap();
                on_tick(&world, index, &mut s, &mut outgoing);
            }
        }
        for (to, wire) in outgoing {
            send(&world, &endpoint, to, wire).await;
        }
    }
}

fn peer_addr(world: &World, group: u32, replica: usize) -> SocketAddr {
    let node = world.placement.lock().unwrap().groups[group as usize].replicas[replica];
    world.topology.storage[node].addr()
}

/// Sends a replica's messages: Appends stamped with the send time (and, with `flow`, held
/// back while one with entries is in flight to that peer, unless that one is overdue),
/// AppendReplies with `echo` (the stamp of the Append being answered).
fn raft_out(
    world: &World,
    group: u32,
    from: usize,
    out: Vec<(usize, Message<Arc<Cmd>>)>,
    echo: Option<Instant>,
    mut flow: Option<&mut Flow>,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let now = Instant::now();
    for (to, message) in out {
        if let (
            Some(flow),
            Message::Append {
                entries, commit, ..
            },
        ) = (flow.as_deref_mut(), &message)
        {
            if !entries.is_empty() {
                if flow.inflight[to].is_some_and(|at| now < at + heartbeat_interval(world)) {
                    continue;
                }
                flow.inflight[to] = Some(now);
            }
            flow.sent[to] = Some((now, *commit));
        }
        if world.fires("raft.drop-outgoing") {
            continue;
        }
        let stamp = match message {
            Message::Append { .. } => Some(now),
            Message::AppendReply { .. } => echo,
            _ => None,
        };
        outgoing.push((
            peer_addr(world, group, to),
            Wire::Raft {
                group,
                from,
                message,
                stamp,
            },
        ));
    }
}

fn handle(
    world: &World,
    index: usize,
    s: &mut StorageState,
    wire: Wire,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let node_name = &world.topology.storage[index].name;
    match wire {
        Wire::Raft {
            group,
            from,
            message,
            stamp,
        } => {
            let from_leader = matches!(message, Message::Append { .. });
            let mut disk = world.disks[index].lock().unwrap();
            // A group this node has not created yet (its split is not applied here).
            let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
                return;
            };
            if let Message::RequestVote { .. } = message
                && (g.loyal(world) || g.leased(world, replica))
            {
                // A leader may still hold a lease: ignore the candidate (its term included).
                return;
            }
            let acked = match message {
                Message::AppendReply {
                    term,
                    success: true,
                    ..
                } => Some(term),
                _ => None,
            };
            let message_term = message.term();
            let was_leader = replica.role() == Role::Leader;
            let answered = matches!(message, Message::AppendReply { .. });
            if answered {
                g.flow.inflight[from] = None;
            }
            let mut out = Vec::new();
            replica.handle_into(from, message, &mut out);
            if acked.is_some() && !out.iter().any(|(to, _)| *to == from) {
                // The peer took what was in flight: send what was proposed meanwhile.
                if let Some(m @ Message::Append { .. }) = replica.append_to(from)
                    && matches!(&m, Message::Append { entries, .. } if !entries.is_empty())
                {
                    out.push((from, m));
                }
            }
            if !was_leader && replica.role() == Role::Leader {
                world.leader(group, index, replica.term());
            }
            if from_leader && replica.role() == Role::Follower && message_term == replica.term() {
                g.deadline = Instant::now() + election_timeout(world);
                g.leader_hint = Some(from);
                g.lease.heard = Instant::now();
            }
            if let (Some(term), Some(stamp)) = (acked, stamp)
                && replica.role() == Role::Leader
                && term == replica.term()
            {
                if g.lease.term != term {
                    g.lease.term = term;
                    g.lease.acked = [None; 3];
                }
                let slot = &mut g.lease.acked[from];
                *slot = (*slot).max(Some(stamp));
            }
            let id = replica.id();
            let echo = if from_leader { stamp } else { None };
            raft_out(world, group, id, out, echo, Some(&mut g.flow), outgoing);
            apply_all(world, index, &mut disk, s, group, outgoing);
        }
        Wire::Split {
            group,
            mid,
            new_group,
        } => {
            let mut disk = world.disks[index].lock().unwrap();
            let Some(replica) = disk.get_mut(&group) else {
                return;
            };
            if replica.role() != Role::Leader {
                return;
            }
            let cmd = Arc::new(Cmd {
                request: Request::DescribeLimits,
                now_ms: node_clock(world, index),
                read_only: false,
                split: Some((mid, new_group)),
            });
            let mut out = Vec::new();
            replica.propose_into(cmd, &mut out);
            let id = replica.id();
            raft_out(world, group, id, out, None, None, outgoing);
        }

        Wire::Exec { mut req } => {
            let group = req.group;
            let mut disk = world.disks[index].lock().unwrap();
            // A group this node has not created yet (its split is not applied here): back to
            // the router, which retries after a pause.
            let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
                outgoing.push(reroute(req));
                return;
            };
            if g.engine.is_none() {
                outgoing.push(reroute(req));
                return;
            }
            let reply = |result: Result<Json, dynasim_engine::Error>| {
                (
                    req.client,
                    Wire::Reply {
                        id: req.id,
                        result,
                        node: node_name.clone(),
                    },
                )
            };
            if req.mode == Mode::Eventual {
                if let Some(engine) = g.engine.as_mut() {
                    let now = node_clock(world, index);
                    outgoing.push(answer_locally(engine, g.range, req, now, node_name));
                }
                return;
            }
            if replica.role() != Role::Leader {
                match g.leader_hint.filter(|&l| l != replica.id()) {
                    Some(leader) if req.hops < 3 => {
                        req.hops += 1;
                        outgoing.push((
                            req.router,
                            Wire::LeaderHint {
                                group,
                                replica: leader,
                            },
                        ));
                        outgoing.push((peer_addr(world, group, leader), Wire::Exec { req }));
                    }
                    // No leader known (an election is under way): back to the router, which
                    // retries after a pause; past its budget DynamoDB's answer is a 500, and
                    // the client cannot tell whether the request happened.
                    _ => outgoing.push(reroute(req)),
                }
                return;
            }
            let now = node_clock(world, index);
            let is_write = req.mode == Mode::Write;
            if req.mode == Mode::Strong
                && g.leased(world, replica)
                && let Some(engine) = g.engine.as_mut()
            {
                // The leased leader answers from its state, which holds every acknowledged
                // write (it applies before it acknowledges, and no other leader can exist).
                outgoing.push(answer_locally(engine, g.range, req, now, node_name));
                return;
            }
            if is_write
                && world.bug(Bug::LeaderOnlyAck)
                && let Some(engine) = g.engine.as_mut()
            {
                // Broken: the leader applies and acknowledges without replicating.
                let result = engine
                    .execute(req.request.clone(), now)
                    .map(|r| serde_json::to_value(&r).expect("responses serialize"));
                outgoing.push(reply(result));
                return;
            }
            let mut request = req.request.clone();
            if world.bug(Bug::LostIncrement)
                && let Some(engine) = g.engine.as_mut()
            {
                request = increment_from_leader_view(engine, request, now);
            }
            let cmd = Arc::new(Cmd {
                request,
                now_ms: now,
                read_only: !is_write,
                split: None,
            });
            let mut out = Vec::new();
            if let Some(at) = replica.propose_into(cmd, &mut out) {
                g.pending.insert(at, (replica.term(), req));
            }
            let id = replica.id();
            raft_out(world, group, id, out, None, Some(&mut g.flow), outgoing);
            apply_all(world, index, &mut disk, s, group, outgoing);
        }
        _ => {}
    }
}

/// The broken variant "lost increment": the leader turns `ADD v :d` into `SET v = old + d`
/// with the value it sees when the request arrives, before earlier increments in its log have
/// been applied.
fn increment_from_leader_view(engine: &mut Engine, request: Request, now: u64) -> Request {
    let Request::UpdateItem(input) = &request else {
        return request;
    };
    if input.update_expression.as_deref() != Some("ADD v :d") {
        return request;
    }
    let table = input.table_name.clone().unwrap_or_default();
    let key = input.key.clone().unwrap_or_default();
    let read = Request::GetItem(dynasim_engine::api::GetItemInput {
        table_name: Some(table),
        key: Some(key),
        consistent_read: Some(true),
        ..Default::default()
    });
    let current = engine
        .execute(read, now)
        .ok()
        .and_then(|r| serde_json::to_value(&r).ok())
        .and_then(|v| {
            v.get("Item")?
                .get("v")?
                .get("N")?
                .as_str()?
                .parse::<i64>()
                .ok()
        })
        .unwrap_or(0);
    let mut input = input.clone();
    input.update_expression = Some("SET v = :d".into());
    let mut values = input
        .expression_attribute_values
        .clone()
        .unwrap_or_default();
    if let Ok(v) = serde_json::from_value(json!({"N": (current + 1).to_string()})) {
        values.insert(":d".into(), v);
    }
    input.expression_attribute_values = Some(values);
    Request::UpdateItem(input)
}

/// Answers a read from this replica's own state (an eventually consistent read, or a strongly
/// consistent one at a leased leader), unless the partition's range no longer holds it.
fn answer_locally(
    engine: &mut Engine,
    range: Range,
    req: Box<Req>,
    now: u64,
    node: &str,
) -> (SocketAddr, Wire) {
    let result = match misrouted(&req, range) {
        Misrouted::Reroute => return reroute(req),
        Misrouted::Moved => Err(moved()),
        Misrouted::No => engine
            .execute(req.request.clone(), now)
            .map(|r| serde_json::to_value(&r).expect("responses serialize")),
    };
    (
        req.client,
        Wire::Reply {
            id: req.id,
            result,
            node: node.to_string(),
        },
    )
}

enum Misrouted {
    No,
    /// A scan whose partition's range changed: the client must scan again.
    Moved,
    /// A single-item request for a key this partition no longer owns: back to the router.
    Reroute,
}

fn misrouted(req: &Req, range: Range) -> Misrouted {
    match req.range {
        Some(expected) if expected != range => Misrouted::Moved,
        Some(_) => Misrouted::No,
        None => match request_key(&req.request) {
            Some(key) if !in_range(key_hash(&key), range) => Misrouted::Reroute,
            _ => Misrouted::No,
        },
    }
}

fn moved() -> dynasim_engine::Error {
    dynasim_engine::Error::new(dynasim_engine::ErrorKind::InternalServerError, MOVED)
}

/// Sends a request back to its router, which routes it again by the current partition map
/// (a scan keeps its partition) after a pause that grows with the hops.
fn reroute(mut req: Box<Req>) -> (SocketAddr, Wire) {
    req.hops += 1;
    if req.hops > MAX_HOPS {
        return (
            req.client,
            Wire::Reply {
                id: req.id,
                result: Err(dynasim_engine::Error::new(
                    dynasim_engine::ErrorKind::InternalServerError,
                    "The partition is unavailable at the moment; retry.",
                )),
                node: "router".into(),
            },
        );
    }
    let group = req.range.map(|_| req.group);
    (req.router, Wire::Route { req, group })
}

/// How often a request may be sent back to its router before it fails.
const MAX_HOPS: u8 = 8;
/// The router's pause before routing a request again, times the hops it made: 720 ms in all,
/// longer than an election and shorter than the clients' one-second timeout.
const REROUTE_PAUSE_MS: u64 = 20;

/// Applies what committed, creating the groups that applied splits create.
fn apply_all(
    world: &World,
    index: usize,
    disk: &mut BTreeMap<u32, Replica<Arc<Cmd>>>,
    s: &mut StorageState,
    group: u32,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let node_name = &world.topology.storage[index].name;
    let mut work = vec![group];
    while let Some(group) = work.pop() {
        while let (Some(replica), Some(g)) = (disk.get(&group), s.groups.get_mut(&group)) {
            let rid = replica.id();
            let Some(created) = apply_committed(world, node_name, replica, g, outgoing) else {
                break;
            };
            // The new group's replica: persisted from now on, its data the parent's share.
            disk.entry(created.group).or_insert_with(|| {
                let replica = Replica::bootstrap(rid, 3, 0);
                if replica.role() == Role::Leader {
                    world.leader(created.group, index, replica.term());
                }
                replica
            });
            let state = s
                .groups
                .entry(created.group)
                .or_insert_with(|| GroupState::new(world, None, (0, 0), None));
            state.engine = Some(created.engine);
            state.range = created.range;
            world
                .placement
                .lock()
                .unwrap()
                .split(created.table, created.mid, created.group);
            work.push(created.group);
        }
    }
}

/// Applies committed entries in order; stops after a split, returning the group it creates.
fn apply_committed(
    world: &World,
    node_name: &str,
    replica: &Replica<Arc<Cmd>>,
    g: &mut GroupState,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) -> Option<Created> {
    if g.applied < replica.commit() && world.fires("storage.defer-apply") {
        return None;
    }
    let mut created = None;
    while g.applied < replica.commit() && created.is_none() {
        let Some(engine) = g.engine.as_mut() else {
            break;
        };
        let index = g.applied + 1;
        let Some(entry) = replica.entry(index) else {
            break;
        };
        g.applied = index;
        let Some(cmd) = &entry.payload else { continue };
        if let Some((mid, new_group)) = cmd.split {
            if mid > g.range.0 && in_range(mid, g.range) {
                let table = world.placement.lock().unwrap().groups[new_group as usize].table;
                let engine = split_off(world, engine, table, mid, cmd.now_ms);
                created = Some(Created {
                    group: new_group,
                    engine,
                    range: (mid, g.range.1),
                    table,
                    mid,
                });
                g.range.1 = mid;
            }
            continue;
        }
        let pending = g
            .pending
            .remove(&index)
            .filter(|(term, _)| *term == entry.term)
            .map(|(_, req)| req);
        if cmd.read_only && pending.is_none() {
            continue;
        }
        if g.skip == Some(index) && world.bug(Bug::SkipOnRestart) {
            // Broken: the replay after a restart skips one logged write.
            continue;
        }
        // A request for keys this partition gave away in a split ordered before it: no
        // replica executes it; the leader sends it back to be routed again.
        let range = pending.as_ref().and_then(|r| r.range);
        let wrong = match (range, request_key(&cmd.request)) {
            (Some(expected), _) if expected != g.range => Some(Misrouted::Moved),
            (None, Some(key)) if !in_range(key_hash(&key), g.range) => Some(Misrouted::Reroute),
            _ => None,
        };
        if let Some(wrong) = wrong {
            if let Some(req) = pending {
                outgoing.push(match wrong {
                    Misrouted::Moved => (
                        req.client,
                        Wire::Reply {
                            id: req.id,
                            result: Err(moved()),
                            node: node_name.to_string(),
                        },
                    ),
                    _ => reroute(req),
                });
            }
            continue;
        }
        let result = engine.execute(cmd.request.clone(), cmd.now_ms);
        // Only the replica that proposed it answers (and renders the response).
        if let Some(req) = pending {
            outgoing.push((
                req.client,
                Wire::Reply {
                    id: req.id,
                    result: result.map(|r| serde_json::to_value(&r).expect("responses serialize")),
                    node: node_name.to_string(),
                },
            ));
        }
    }
    // Proposals at indexes now applied under another term were overwritten: forget them.
    let applied = g.applied;
    g.pending.retain(|&i, _| i > applied);
    created
}

/// Moves the items whose key hashes to `[mid, ...)` out of `engine` into a new engine.
fn split_off(world: &World, engine: &mut Engine, table: usize, mid: u64, now: u64) -> Engine {
    let name = &world.topology.tables[table].name;
    let mut new = new_engine(world, table);
    let moves = |item: &dynasim_engine::Item| match item.get("pk") {
        Some(dynasim_engine::Value::S(key)) => key_hash(key) >= mid,
        _ => false,
    };
    engine
        .move_items(name, &mut new, moves, now, world.bug(Bug::SplitDropsItem))
        .expect("both engines hold the table");
    new
}

/// The partition key a single-item request names.
fn request_key(request: &Request) -> Option<String> {
    match request {
        Request::GetItem(i) => key_string(i.key.as_ref()),
        Request::PutItem(i) => key_string(i.item.as_ref()),
        Request::UpdateItem(i) | Request::DeleteItem(i) => key_string(i.key.as_ref()),
        // The workloads' Queries name their partition key as `:p`.
        Request::Query(i) => i.expression_attribute_values.as_ref()?.get(":p")?.s.clone(),
        _ => None,
    }
}

fn on_tick(
    world: &World,
    index: usize,
    s: &mut StorageState,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let mut disk = world.disks[index].lock().unwrap();
    let groups: Vec<u32> = s.groups.keys().copied().collect();
    for group in groups {
        let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
            continue;
        };
        let out = if replica.role() == Role::Leader {
            g.deadline = Instant::now() + election_timeout(world);
            // A peer that got an Append within the interval, carrying the current commit
            // index, needs no heartbeat (an Append with entries is a retransmission: sent).
            let mut out = replica.heartbeat();
            let (commit, interval) = (replica.commit(), heartbeat_interval(world));
            out.retain(|(peer, m)| match (m, g.flow.sent[*peer]) {
                (Message::Append { entries, .. }, Some((at, carried))) => {
                    !entries.is_empty() || carried < commit || at + interval <= Instant::now()
                }
                _ => true,
            });
            out
        } else if Instant::now() >= g.deadline
            // The fault point fires the election timer early, but never inside the lease
            // window: a leader's lease relies on that timing (DynamoDB survives early
            // timers, not broken clocks).
            || (!g.loyal(world) && world.fires("replica.early-election"))
        {
            g.deadline = Instant::now() + election_timeout(world);
            g.leader_hint = None;
            replica.campaign()
        } else {
            Vec::new()
        };
        let id = replica.id();
        raft_out(world, group, id, out, None, Some(&mut g.flow), outgoing);
        apply_all(world, index, &mut disk, s, group, outgoing);
    }
}

fn heartbeat_interval(world: &World) -> Duration {
    Duration::from_millis(world.scenario.deployment.heartbeat_ms)
}

/// A router's state, shared by its network loop and (with the HTTP transport) its HTTP
/// connections: the leader it believes in per partition, and HTTP requests awaiting replies.
#[derive(Default)]
struct RouterState {
    leaders: BTreeMap<u32, usize>,
    waiting: BTreeMap<u64, tokio::sync::oneshot::Sender<Result<Json, dynasim_engine::Error>>>,
    next_id: u64,
}

fn storm_error() -> dynasim_engine::Error {
    dynasim_engine::Error::new(
        dynasim_engine::ErrorKind::ProvisionedThroughputExceeded,
        "The level of configured provisioned throughput for the table was exceeded. Consider \
         increasing your provisioning level with the UpdateTable API.",
    )
}

/// Picks the partition and the replica for a request: an error when the table is in a storm.
fn route(
    world: &World,
    router: &crate::topology::NodeInfo,
    state: &mut RouterState,
    mut req: Box<Req>,
    group: Option<u32>,
) -> Result<(SocketAddr, Wire), dynasim_engine::Error> {
    if world.storms.lock().unwrap().contains(&req.table) {
        return Err(storm_error());
    }
    let key = request_key(&req.request);
    req.group = {
        let placement = world.placement.lock().unwrap();
        group
            .or_else(|| key.map(|k| placement.group_of(req.table, &k)))
            .unwrap_or(placement.maps[req.table][0].1)
    };
    req.router = router.addr();
    if world.fires("router.forget-leader") {
        state.leaders.remove(&req.group);
    }
    let follower_read = world.bug(Bug::FollowerStrongRead) && req.mode == Mode::Strong;
    let replica = if req.mode == Mode::Eventual || follower_read {
        if follower_read {
            req.mode = Mode::Eventual;
        }
        madsim::rand::thread_rng().gen_range(0..3)
    } else {
        // A request sent back (no leader where it went) tries the next replica each time.
        let believed = state.leaders.get(&req.group).copied().unwrap_or(0);
        (believed + usize::from(req.hops)) % 3
    };
    Ok((peer_addr(world, req.group, replica), Wire::Exec { req }))
}

/// Routes a request, or answers its client with the error that refused it.
fn route_or_refuse(
    world: &World,
    info: &crate::topology::NodeInfo,
    state: &Mutex<RouterState>,
    req: Box<Req>,
    group: Option<u32>,
) -> (SocketAddr, Wire) {
    let (id, client) = (req.id, req.client);
    match route(world, info, &mut state.lock().unwrap(), req, group) {
        Ok(sent) => sent,
        Err(error) => (
            client,
            Wire::Reply {
                id,
                result: Err(error),
                node: info.name.clone(),
            },
        ),
    }
}

async fn router_node(world: Arc<World>, index: usize) {
    let info = world.topology.routers[index].clone();
    let endpoint = Arc::new(Endpoint::bind(info.addr()).await.expect("bind"));
    let state = Arc::new(Mutex::new(RouterState::default()));
    if world.scenario.transport == "http" {
        let listener = tokio::net::TcpListener::bind(http_addr(&info))
            .await
            .expect("bind");
        let handler = {
            let (world, endpoint, state, info) =
                (world.clone(), endpoint.clone(), state.clone(), info.clone());
            move |request: dynasim_server::HttpRequest| {
                let (world, endpoint, state, info) =
                    (world.clone(), endpoint.clone(), state.clone(), info.clone());
                async move { http_request(&world, &endpoint, &state, &info, request).await }
            }
        };
        madsim::task::spawn(dynasim_server::http::serve_with(
            listener,
            Arc::new(handler),
            std::future::pending(),
        ));
    }
    loop {
        let Ok((payload, _)) = endpoint.recv_from_raw(TAG).await else {
            continue;
        };
        let Ok(wire) = payload.downcast::<Wire>() else {
            continue;
        };
        match *wire {
            Wire::LeaderHint { group, replica } => {
                state.lock().unwrap().leaders.insert(group, replica);
            }
            Wire::Reply { id, result, .. } => {
                if let Some(waiter) = state.lock().unwrap().waiting.remove(&id) {
                    let _ = waiter.send(result);
                }
            }
            Wire::Route { req, group } if req.hops > 0 => {
                // Sent back by a partition that could not serve it yet: retried after a pause.
                let (world, endpoint, state, info) =
                    (world.clone(), endpoint.clone(), state.clone(), info.clone());
                madsim::task::spawn(async move {
                    let pause = Duration::from_millis(REROUTE_PAUSE_MS * u64::from(req.hops));
                    tokio::time::sleep(pause).await;
                    let (to, wire) = route_or_refuse(&world, &info, &state, req, group);
                    send(&world, &endpoint, to, wire).await;
                });
            }
            Wire::Route { req, group } => {
                let (to, wire) = route_or_refuse(&world, &info, &state, req, group);
                send(&world, &endpoint, to, wire).await;
            }
            _ => {}
        }
    }
}

/// A router's HTTP address (its wire address, port 8000).
fn http_addr(info: &crate::topology::NodeInfo) -> SocketAddr {
    SocketAddr::new(info.ip, 8000)
}

/// One DynamoDB HTTP request at a router: decoded and validated by the server's own code,
/// routed to the partition, answered when the partition replies (or 500 after the timeout).
async fn http_request(
    world: &World,
    endpoint: &Arc<Endpoint>,
    state: &Mutex<RouterState>,
    info: &crate::topology::NodeInfo,
    request: dynasim_server::HttpRequest,
) -> dynasim_server::HttpResponse {
    let now = EPOCH_MS + world.start.elapsed().as_millis() as u64;
    let (id, request_id) = {
        let mut s = state.lock().unwrap();
        s.next_id += 1;
        (s.next_id, dynasim_server::protocol::request_id(s.next_id))
    };
    let decoded = dynasim_server::protocol::decode_http(&request, now);
    let result: Result<Json, dynasim_engine::Error> = async {
        let decoded = decoded?;
        let name = decoded.table_name().unwrap_or_default().to_string();
        let Some(table) = world.topology.tables.iter().position(|t| t.name == name) else {
            return Err(dynasim_engine::Error::new(
                dynasim_engine::ErrorKind::ResourceNotFound,
                "Requested resource not found",
            ));
        };
        let mode = mode_of_request(&decoded);
        let req = Req {
            id,
            client: endpoint.local_addr().expect("bound"),
            router: info.addr(),
            table,
            group: 0,
            mode,
            request: decoded,
            hops: 0,
            range: None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let routed = {
            let mut s = state.lock().unwrap();
            s.waiting.insert(id, tx);
            route(world, info, &mut s, Box::new(req), None)
        };
        let (to, wire) = match routed {
            Ok(sent) => sent,
            Err(error) => {
                state.lock().unwrap().waiting.remove(&id);
                return Err(error);
            }
        };
        send(world, endpoint, to, wire).await;
        let timeout = Duration::from_millis(world.scenario.op_timeout_ms);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            _ => {
                state.lock().unwrap().waiting.remove(&id);
                Err(dynasim_engine::Error::internal())
            }
        }
    }
    .await;
    let body = result.map(|json| serde_json::to_vec(&json).expect("JSON serializes"));
    dynasim_server::protocol::http_response(&request, body, &request_id)
}

/// How a decoded request must travel: writes and strongly consistent reads through the log.
fn mode_of_request(request: &Request) -> Mode {
    match request {
        Request::GetItem(i) if i.consistent_read != Some(true) => Mode::Eventual,
        Request::Query(i) | Request::Scan(i) if i.consistent_read != Some(true) => Mode::Eventual,
        Request::GetItem(_) | Request::Query(_) | Request::Scan(_) => Mode::Strong,
        _ => Mode::Write,
    }
}

fn key_string(item: Option<&dynasim_engine::api::RawItem>) -> Option<String> {
    item?.get("pk")?.s.clone()
}

/// One client process: runs its workload until told to stop, recording every operation.
/// The region whose client node runs a process: the table's own region for local clients,
/// otherwise round robin over the regions.
fn client_region(world: &World, table: usize, process: u64) -> usize {
    if world.scenario.workloads[table].local_clients {
        world.topology.tables[table].region
    } else {
        process as usize % world.topology.clients.len()
    }
}

async fn client_process(world: Arc<World>, table: usize, process: u64, port: u16, region: usize) {
    let home = &world.topology.clients[region];
    let addr = SocketAddr::new(home.ip, port);
    let endpoint = Arc::new(Endpoint::bind(addr).await.expect("bind"));
    let workload = world.scenario.workloads[table].clone();
    let mut generator = Generator::new(&workload, world.options.seed, process);
    let mut process = process;
    let mut next_id = 0u64;
    let mut http: HttpConnection = None;
    let processes_total = 10_000u64;
    if workload.kind == "bank"
        && process < processes_total
        && is_first_process(&world, table, process)
    {
        let planned = workload::bank_setup(&workload);
        loop {
            let (kind, _) = perform(
                &world,
                &endpoint,
                &mut http,
                table,
                process,
                &planned,
                &mut next_id,
            )
            .await;
            if kind == Kind::Ok {
                break;
            }
            if kind == Kind::Info {
                process += processes_total;
            }
        }
    }
    while !world.stop_clients.load(Ordering::Relaxed) {
        let think = generator.think_ms();
        if think > 0 {
            tokio::time::sleep(Duration::from_millis(think)).await;
        }
        if world
            .options
            .max_ops
            .is_some_and(|m| *world.ops.lock().unwrap() >= m)
        {
            break;
        }
        let planned = generator.step();
        let (kind, output) = perform(
            &world,
            &endpoint,
            &mut http,
            table,
            process,
            &planned,
            &mut next_id,
        )
        .await;
        generator.observe(&planned, kind == Kind::Ok, &output);
        if kind == Kind::Ok && world.healed.load(Ordering::Relaxed) {
            *world
                .progress_after_heal
                .lock()
                .unwrap()
                .entry(table)
                .or_default() += 1;
        }
        if kind == Kind::Info {
            // A process whose operation's outcome is unknown is retired (Jepsen's rule): a
            // fresh process number continues.
            process += processes_total;
        }
    }
}

fn is_first_process(world: &World, table: usize, process: u64) -> bool {
    first_process(world, table) == process
}

fn first_process(world: &World, table: usize) -> u64 {
    world.scenario.workloads[..table]
        .iter()
        .map(|w| w.processes as u64)
        .sum()
}

/// Performs one operation (several requests for a scan), recording invoke and completion.
/// An HTTP/1.1 connection from a client process to its router (HTTP transport).
type HttpConnection =
    Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>>;

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// One DynamoDB call over HTTP, as an SDK makes it: `None` when no answer came in time (the
/// connection is then dropped), otherwise the body or the error type.
async fn http_call(
    world: &World,
    connection: &mut HttpConnection,
    router: SocketAddr,
    operation: &str,
    body: &Json,
) -> Option<Result<Json, String>> {
    use http_body_util::BodyExt;
    let timeout = Duration::from_millis(world.scenario.op_timeout_ms);
    let deadline = Instant::now() + timeout;
    if connection.as_ref().is_none_or(|c| c.is_closed()) {
        let connect = async {
            let stream = tokio::net::TcpStream::connect(router).await.ok()?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .ok()?;
            madsim::task::spawn(conn);
            Some(sender)
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Some(sender)) => *connection = Some(sender),
            // Nothing was sent: the request certainly did not happen.
            _ => return Some(Err("ConnectionRefused".into())),
        }
    }
    let sender = connection.as_mut().expect("connected above");
    let request = hyper::Request::post("/")
        .header("host", "dynamodb.simulated")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTHORIZATION)
        .body(http_body_util::Full::new(bytes::Bytes::from(
            serde_json::to_vec(body).expect("JSON serializes"),
        )))
        .expect("a valid request");
    let exchange = async {
        let response = sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, bytes))
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let Ok(Some((status, bytes))) = tokio::time::timeout(left, exchange).await else {
        *connection = None;
        return None;
    };
    let json: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    if status == 200 {
        return Some(Ok(json));
    }
    let kind = json
        .get("__type")
        .and_then(Json::as_str)
        .and_then(|t| t.rsplit('#').next())
        .unwrap_or("InternalServerError")
        .to_string();
    Some(Err(kind))
}

async fn perform(
    world: &World,
    endpoint: &Arc<Endpoint>,
    http: &mut HttpConnection,
    table: usize,
    process: u64,
    planned: &Planned,
    next_id: &mut u64,
) -> (Kind, Json) {
    let table_name = world.topology.tables[table].name.clone();
    let mut invoke = Event::new(
        Process::Client(process),
        Kind::Invoke,
        planned.f,
        world.now_ns(),
    );
    invoke.key = Some(planned.key.clone());
    invoke.value = planned.input.clone();
    invoke.consistent = planned.consistent;
    world.record(invoke);
    *world.ops.lock().unwrap() += 1;
    let router = world.topology.router_for(table, process);
    let mut outcome: (Kind, Json, Option<String>, Option<String>) =
        (Kind::Ok, Json::Null, None, None);
    // A scan whose partitions split under it starts over with the new map (up to 10 times).
    let mut moved_seen = false;
    for _attempt in 0..10 {
        let requests: Vec<(Request, Mode, Option<u32>, Option<Range>)> = match planned.step {
            Step::Scan { consistent } => {
                let placement = world.placement.lock().unwrap();
                let mode = if consistent {
                    Mode::Strong
                } else {
                    Mode::Eventual
                };
                placement.maps[table]
                    .iter()
                    .map(|&(_, g)| {
                        (
                            workload::scan_request(&table_name, consistent),
                            mode,
                            Some(g),
                            Some(placement.range_of(table, g)),
                        )
                    })
                    .collect()
            }
            _ => {
                let (r, m) = workload::request(&table_name, planned);
                vec![(r, m, None, None)]
            }
        };
        let mut merged = serde_json::Map::new();
        outcome = (Kind::Ok, Json::Null, None, None);
        moved_seen = false;
        for (request, mode, group, range) in requests {
            *next_id += 1;
            let id = *next_id;
            let req = Req {
                id,
                client: endpoint.local_addr().expect("bound"),
                router,
                table,
                group: 0,
                mode,
                request,
                hops: 0,
                range,
            };
            if world.scenario.transport == "http" {
                let (operation, body, _) = workload::request_json(&table_name, planned);
                let router_http = SocketAddr::new(router.ip(), 8000);
                let answer = http_call(world, http, router_http, operation, &body).await;
                match answer {
                    None => outcome = (Kind::Info, Json::Null, Some("RequestTimeout".into()), None),
                    Some(Err(kind)) => {
                        let k = if kind == "InternalServerError" {
                            Kind::Info
                        } else {
                            Kind::Fail
                        };
                        outcome = (k, Json::Null, Some(kind), None);
                    }
                    Some(Ok(response)) => {
                        outcome = (Kind::Ok, workload::output(planned, &response), None, None);
                    }
                }
                break;
            }
            send(
                world,
                endpoint,
                router,
                Wire::Route {
                    req: Box::new(req),
                    group,
                },
            )
            .await;
            let deadline = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms);
            let answer = loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, endpoint.recv_from_raw(TAG)).await {
                    Err(_) => break None,
                    Ok(Err(_)) => continue,
                    Ok(Ok((payload, _))) => {
                        if let Ok(wire) = payload.downcast::<Wire>()
                            && let Wire::Reply {
                                id: got,
                                result,
                                node,
                            } = *wire
                            && got == id
                        {
                            break Some((result, node));
                        }
                    }
                }
            };
            match answer {
                None => {
                    outcome = (Kind::Info, Json::Null, Some("RequestTimeout".into()), None);
                    break;
                }
                Some((Err(error), _)) if error.message == MOVED => {
                    moved_seen = true;
                    break;
                }
                Some((Err(error), node)) => {
                    // Errors before the log (validation, throttling) and conditional check failures
                    // are definite; an internal error leaves the outcome unknown.
                    let k = if error.kind == dynasim_engine::ErrorKind::InternalServerError {
                        Kind::Info
                    } else {
                        Kind::Fail
                    };
                    outcome = (
                        k,
                        Json::Null,
                        Some(error.kind.name().to_string()),
                        Some(node),
                    );
                    break;
                }
                Some((Ok(response), node)) => {
                    let out = workload::output(planned, &response);
                    if let Json::Object(m) = &out
                        && matches!(planned.step, Step::Scan { .. })
                    {
                        merged.extend(m.clone());
                        outcome = (Kind::Ok, Json::Object(merged.clone()), None, Some(node));
                    } else {
                        outcome = (Kind::Ok, out, None, Some(node));
                    }
                }
            }
        }
        if !moved_seen {
            break;
        }
    }
    if moved_seen {
        // A read that never got a consistent set of partitions: it returned nothing.
        outcome = (
            Kind::Fail,
            Json::Null,
            Some("InternalServerError".into()),
            None,
        );
    }
    let (kind, value, error, node) = outcome;
    let mut done = Event::new(Process::Client(process), kind, planned.f, world.now_ns());
    done.key = Some(planned.key.clone());
    done.value = value.clone();
    done.error = error;
    if planned.consistent == Some(false) {
        done.node = node;
    }
    world.record(done);
    (kind, value)
}

fn storage_node_ids(world: &World, ids: &[NodeId]) -> Vec<NodeId> {
    ids[..world.topology.storage.len()].to_vec()
}

async fn nemesis(world: Arc<World>, ids: Vec<NodeId>, region_of: Vec<usize>) {
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
        let now = world.start.elapsed().as_millis() as u64;
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
                world.nodes.lock().unwrap()[*node] = None;
            }
            (Fault::Crash { node }, false) => handle.restart(storage[*node]),
            (Fault::Skew { node, offset_ms }, true) => {
                world.skew.lock().unwrap()[*node] = *offset_ms
            }
            (Fault::Skew { node, .. }, false) => world.skew.lock().unwrap()[*node] = 0,
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
            (Fault::Storm { table }, on) => {
                let mut storms = world.storms.lock().unwrap();
                if on {
                    storms.insert(*table);
                } else {
                    storms.remove(table);
                }
            }
            (Fault::Split { table }, true) => {
                // The control plane splits the widest partition: it names the new group and
                // asks the group's replicas; the leader orders the split in its log.
                let request = {
                    let mut placement = world.placement.lock().unwrap();
                    placement.widest(*table).map(|(group, mid)| {
                        let parent = placement.groups[group as usize].clone();
                        let new_group = placement.groups.len() as u32;
                        let partition = placement
                            .groups
                            .iter()
                            .filter(|g| g.table == *table)
                            .count();
                        placement.groups.push(crate::topology::GroupInfo {
                            table: *table,
                            partition,
                            replicas: parent.replicas,
                            created: false,
                        });
                        (group, mid, new_group, parent.replicas)
                    })
                };
                // The control plane asks again until a replica applied the split (a leader
                // may be down, or lose its term before the split commits): applying it twice
                // does nothing.
                if let Some((group, mid, new_group, replicas)) = request {
                    let (world, endpoint) = (world.clone(), endpoint.clone());
                    madsim::task::spawn(async move {
                        for _ in 0..SPLIT_ATTEMPTS {
                            if world.placement.lock().unwrap().groups[new_group as usize].created {
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
        }
        if !start {
            world.nemesis(Kind::Ok, fault.name(), value);
        }
    }
}

fn engine_digest(engine: &mut Engine, table: &str) -> (String, usize) {
    let mut items: Vec<String> = Vec::new();
    let mut start: Option<Json> = None;
    loop {
        let mut input = json!({"TableName": table, "ConsistentRead": true});
        if let Some(s) = &start {
            input["ExclusiveStartKey"] = s.clone();
        }
        let request = Request::Scan(serde_json::from_value(input).expect("a valid Scan"));
        let Ok(response) = engine.execute(request, EPOCH_MS) else {
            break;
        };
        let v = serde_json::to_value(&response).expect("responses serialize");
        if let Some(list) = v.get("Items").and_then(Json::as_array) {
            items.extend(list.iter().map(|i| i.to_string()));
        }
        match v.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    items.sort();
    let digest = xxhash_rust::xxh3::xxh3_64(items.join("\n").as_bytes());
    (format!("{digest:016x}"), items.len())
}

/// Runs the scenario on the current madsim runtime; returns the history.
pub async fn run(world: Arc<World>) -> History {
    let handle = Handle::current();
    let mut ids = Vec::new();
    let mut region_of = Vec::new();
    for (i, info) in world.topology.storage.iter().enumerate() {
        let w = world.clone();
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.ip)
            .init(move || storage_node(w.clone(), i))
            .build();
        ids.push(node.id());
        region_of.push(info.region);
    }
    for (i, info) in world.topology.routers.iter().enumerate() {
        let w = world.clone();
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.ip)
            .init(move || router_node(w.clone(), i))
            .build();
        ids.push(node.id());
        region_of.push(info.region);
    }
    let mut client_nodes = Vec::new();
    for info in world.topology.clients.iter() {
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.ip)
            .build();
        ids.push(node.id());
        region_of.push(info.region);
        client_nodes.push(node);
    }
    // Let the nodes bind before clients send.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut tasks = Vec::new();
    let mut process = 0u64;
    for (t, w) in world.scenario.workloads.iter().enumerate() {
        for _ in 0..w.processes {
            let region = client_region(&world, t, process);
            let node = &client_nodes[region];
            let port = PORT + 1 + process as u16;
            tasks.push(node.spawn(client_process(world.clone(), t, process, port, region)));
            process += 1;
        }
    }
    let nemesis_task = handle
        .create_node()
        .name("nemesis")
        .ip(NEMESIS_IP.parse().unwrap())
        .build()
        .spawn(nemesis(world.clone(), ids.clone(), region_of));
    tokio::time::sleep(Duration::from_millis(world.scenario.duration_ms)).await;
    let _ = nemesis_task.await;
    world.healed.store(true, Ordering::Relaxed);
    world.nemesis(Kind::Info, "heal", Json::Null);
    tokio::time::sleep(Duration::from_millis(world.scenario.liveness_ms)).await;
    world.stop_clients.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    // The final readers: a strongly consistent read of every item, retried until answered,
    // from the client node of each table's home region, several readers per table.
    let mut readers = Vec::new();
    for (t, table) in world.topology.tables.iter().enumerate() {
        for r in 0..FINAL_READERS {
            readers.push(client_nodes[table.region].spawn(final_reads(world.clone(), t, r)));
        }
    }
    for reader in readers {
        let _ = reader.await;
    }
    // Convergence: every replica of every group caught up with its leader, within the bound.
    let bound = Instant::now() + Duration::from_millis(world.scenario.converge_within_ms);
    let converged = loop {
        let converged = groups_caught_up(&world);
        if converged.values().all(|&c| c) || Instant::now() >= bound {
            break converged;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let time = world.now_ns();
    for (t, w) in world.scenario.workloads.iter().enumerate() {
        let mut e = Event::new(Process::Named("final".into()), Kind::Info, "liveness", time);
        e.key = Some(w.name.clone());
        e.value = json!(
            world
                .progress_after_heal
                .lock()
                .unwrap()
                .get(&t)
                .copied()
                .unwrap_or(0)
        );
        world.record(e);
    }
    for (&group, &ok) in &converged {
        let placement = world.placement.lock().unwrap().clone();
        let name = world.topology.group_name(&placement, group);
        let mut e = Event::new(
            Process::Named("final".into()),
            Kind::Info,
            "converged",
            time,
        );
        e.key = Some(name.clone());
        e.value = json!(ok);
        world.record(e);
        let info = &placement.groups[group as usize];
        let table = world.topology.tables[info.table].name.clone();
        for &node in &info.replicas {
            let state = world.nodes.lock().unwrap()[node].clone();
            let Some(state) = state else { continue };
            let mut s = state.lock().unwrap();
            let Some(g) = s.groups.get_mut(&group) else {
                continue;
            };
            let Some(engine) = g.engine.as_mut() else {
                continue;
            };
            let (digest, items) = engine_digest(engine, &table);
            let mut e = Event::new(
                Process::Named("final".into()),
                Kind::Info,
                "replica-state",
                time,
            );
            e.key = Some(name.clone());
            e.value = json!({
                "replica": world.topology.storage[node].name,
                "applied": g.applied,
                "items": items,
                "digest": digest,
            });
            world.record(e);
        }
    }
    world.history.lock().unwrap().clone()
}

fn groups_caught_up(world: &World) -> BTreeMap<u32, bool> {
    let mut out = BTreeMap::new();
    let nodes = world.nodes.lock().unwrap();
    let placement = world.placement.lock().unwrap().clone();
    for (g, info) in placement.groups.iter().enumerate() {
        if !info.created {
            continue;
        }
        let group = g as u32;
        let mut ok = true;
        let mut leader_commit = None;
        for &n in &info.replicas {
            let disk = world.disks[n].lock().unwrap();
            if let Some(r) = disk.get(&group)
                && r.role() == Role::Leader
            {
                leader_commit = Some(leader_commit.unwrap_or(0).max(r.commit()));
            }
        }
        match leader_commit {
            None => ok = false,
            Some(commit) => {
                for &n in &info.replicas {
                    let applied = nodes[n]
                        .as_ref()
                        .and_then(|s| s.lock().unwrap().groups.get(&group).map(|g| g.applied));
                    if applied != Some(commit) {
                        ok = false;
                    }
                }
            }
        }
        out.insert(group, ok);
    }
    out
}

/// Strongly consistent reads of every item after the clients stopped, retried until answered;
/// one reader per workload, each on its own port.
/// Concurrent final readers per table; reader `r` reads the keys `k` with `k % FINAL_READERS == r`.
const FINAL_READERS: usize = 8;

async fn final_reads(world: Arc<World>, t: usize, r: usize) {
    let w = world.scenario.workloads[t].clone();
    let keys: Vec<(String, Step, &'static str)> = match w.kind.as_str() {
        "bank" => vec![(
            format!("{}/0", w.name),
            Step::ReadBank { consistent: true },
            "read-bank",
        )],
        // A query workload's collections, each read whole by one Query.
        "query" => (0..w.keys)
            .map(|c| {
                (
                    format!("{}/{c}", w.name),
                    Step::Query { consistent: true },
                    "query",
                )
            })
            .collect(),
        _ => (0..w.keys)
            .map(|k| {
                (
                    format!("{}/{k}", w.name),
                    Step::Read { consistent: true },
                    "read",
                )
            })
            .collect(),
    };
    let mine: Vec<_> = keys
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % FINAL_READERS == r)
        .map(|(_, key)| key)
        .collect();
    if mine.is_empty() {
        return;
    }
    let region = world.topology.tables[t].region;
    let port = PORT + 1000 + (t * FINAL_READERS + r) as u16;
    let addr = SocketAddr::new(world.topology.clients[region].ip, port);
    let endpoint = Arc::new(Endpoint::bind(addr).await.expect("bind"));
    let mut next_id = 1_000_000_000u64;
    let mut http: HttpConnection = None;
    let mut process = FINAL_PROCESS + (t * FINAL_READERS + r) as u64 * 1_000;
    for (key, step, f) in mine {
        let planned = Planned {
            f,
            key,
            input: Json::Null,
            consistent: Some(true),
            step,
        };
        for _ in 0..20 {
            let (kind, _) = perform(
                &world,
                &endpoint,
                &mut http,
                t,
                process,
                &planned,
                &mut next_id,
            )
            .await;
            if kind == Kind::Ok {
                break;
            }
            if kind == Kind::Info {
                process += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Builds the shared world for a run.
pub fn world(scenario: &Scenario, plan: Plan, options: RunOptions) -> Arc<World> {
    let topology = Topology::new(scenario);
    let storage = topology.storage.len();
    Arc::new(World {
        scenario: scenario.clone(),
        plan,
        options,
        start: Instant::now(),
        history: Mutex::new(History::default()),
        skew: Mutex::new(vec![0; storage]),
        storms: Mutex::new(BTreeSet::new()),
        placement: Mutex::new(Placement::new(&topology)),
        nodes: Mutex::new(vec![None; storage]),
        disks: (0..storage).map(|_| Arc::default()).collect(),
        stop_clients: AtomicBool::new(false),
        ops: Mutex::new(0),
        progress_after_heal: Mutex::new(BTreeMap::new()),
        healed: AtomicBool::new(false),
        topology,
    })
}
