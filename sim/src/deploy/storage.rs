//! Storage nodes: one `Replica` (ordering) and one `Engine` (the state machine it orders) per
//! partition replica; the engine's leader leases, vote loyalty and flow control applied on
//! madsim's clock; splits; and the replies to clients.

use super::feed::{self, Feed, FeedEntry, ItemChange, Pull};
use super::snapshot::{self, Log, RaftMessage, Snap, empty_engine};
use super::txn::{self, Decided, TxnCmd, TxnPart};
use super::{Cmd, EPOCH_MS, MOVED, Req, TAG, Wire, World, node_clock, send};
use crate::faults::FaultPoint;
use crate::options::Bug;
use crate::seeds::Component;
use crate::topology::{Placement, Range, in_range, key_hash};
use crate::workloads::{self, Mode};
use dynasim_engine::replication::flow::Flow;
use dynasim_engine::replication::lease::Lease;
use dynasim_engine::replication::log_file::Problem;
use dynasim_engine::replication::proposer::Proposer;
use dynasim_engine::replication::raft::{LogEntry, Message, Replica, Role};
use dynasim_engine::storage::change::Change;
use dynasim_engine::txn::Participant;
use dynasim_engine::{Engine, Request};
use madsim::net::Endpoint;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One replica's volatile state on a storage node.
pub struct GroupState {
    /// `None` for a group created by a split this replica has not replayed yet.
    pub engine: Option<Engine>,
    /// The hash range this replica's group owns at its applied index.
    pub range: Range,
    pub applied: u64,
    /// The broken variant "skip on restart": the newest persisted write, skipped on replay.
    skip: Option<u64>,
    /// When the election timer fires ([`World::now_ns`]).
    deadline: u64,
    leader_hint: Option<usize>,
    /// A snapshot taken at an applied index, which the log is compacted to a little later
    /// (volatile: a crash loses it, and a new one is taken).
    snapshot: Option<(u64, Arc<Snap>)>,
    /// Proposals of this replica awaiting commit, by index.
    pending: BTreeMap<u64, Pending>,
    /// A disk sync of this replica's entries is in flight.
    syncing: bool,
    /// The send stamp of the newest Append heard from the leader (a held acknowledgement
    /// echoes it when the entries become durable).
    heard_stamp: Option<u64>,
    /// The leader's proposals as mutations (the newest proposed image of each key), in step
    /// with the log's unapplied suffix in term `proposer_term`.
    pub(super) proposer: Proposer,
    proposer_term: Option<u64>,
    /// Leader leases and vote loyalty, on the monotonic clock ([`World::now_ns`]), which clock
    /// skew and jumps do not touch.
    lease: Lease,
    flow: Flow,
    /// What this replica applied, for the change-feed components (`None` without any).
    pub feed: Option<Feed>,
    /// The transaction participant as of the applied index (`txn`), and the leader's view of
    /// it (what it applied plus its log's unapplied suffix) in the term it was built for.
    pub txn: Participant<String>,
    pub txn_view: Option<(u64, Participant<String>)>,
}

impl GroupState {
    fn new(world: &World, engine: Option<Engine>, range: Range, skip: Option<u64>) -> GroupState {
        let now = world.now_ns();
        let mut lease = Lease::new(3, nanos(lease_window(world)), now);
        if let Some(rule) = world.options.bug.and_then(|b| b.broken_lease()) {
            lease.break_rule(rule);
        }
        GroupState {
            engine,
            range,
            applied: 0,
            skip,
            deadline: now + nanos(election_timeout(world)),
            leader_hint: Some(0),
            snapshot: None,
            pending: BTreeMap::new(),
            syncing: false,
            heard_stamp: None,
            proposer: Proposer::new(),
            proposer_term: None,
            lease,
            flow: Flow::new(3, nanos(heartbeat_interval(world))),
            feed: (!world.topology.feeds.is_empty())
                .then(|| Feed::new(0, world.topology.feeds.len())),
            txn: Participant::with_bug(txn::participant_bug(world)),
            txn_view: None,
        }
    }
}

/// A leader about to send `out` at `now` tells its lease whether an Append is among it (only
/// the broken variant "lease renewed on send" counts a lease from that).
fn note_sent(g: &mut GroupState, replica: &Log, out: &[(usize, RaftMessage)], now: u64) {
    if replica.role() == Role::Leader
        && out.iter().any(|(_, m)| matches!(m, Message::Append { .. }))
    {
        g.lease.sent(replica.term(), now);
    }
}

/// A duration in the nanoseconds of [`World::now_ns`], which the engine's replication rules
/// take as their time.
fn nanos(duration: Duration) -> u64 {
    duration.as_nanos() as u64
}

/// How long a lease lasts: the shortest election timeout (a follower never campaigns sooner).
pub(super) fn lease_window(world: &World) -> Duration {
    Duration::from_millis(world.scenario.deployment.election_timeout_ms[0])
}

/// A proposal awaiting commit: the client's request, the term it was proposed in (an entry at
/// its index of another term replaced it), and for a write the answer the leader computed.
struct Pending {
    term: u64,
    req: Box<Req>,
    answer: Option<Result<Json, dynasim_engine::Error>>,
    /// A transaction's prepare: the vote (the after image) to send once it is applied.
    vote: Option<Vec<Change>>,
}

/// A split a replica applied: the group it creates, with its share of the data.
pub(super) struct Created {
    group: u32,
    engine: Engine,
    txn: Participant<String>,
    range: Range,
    table: usize,
    mid: u64,
}

pub struct StorageState {
    pub groups: BTreeMap<u32, GroupState>,
}

pub(super) fn new_engine(world: &World, table: usize) -> Engine {
    let mut engine = empty_engine(world, table);
    let w = &world.scenario.workloads[table];
    engine
        .execute(workloads::create_table(w), EPOCH_MS)
        .expect("the workload's table is valid");
    engine
}

pub(super) fn election_timeout(world: &World) -> Duration {
    let [lo, hi] = world.scenario.deployment.election_timeout_ms;
    Duration::from_millis(world.streams.between(Component::ElectionTimeouts, lo, hi))
}

pub(super) async fn storage_node(world: Arc<World>, index: usize) {
    let info = world.topology.storage[index].clone();
    let endpoint = Arc::new(Endpoint::bind(info.addr()).await.expect("bind"));
    let groups = recover(&world, index);
    let state = Arc::new(Mutex::new(StorageState { groups }));
    world.nodes.lock().unwrap()[index] = Some(state.clone());
    let heartbeat = Duration::from_millis(world.scenario.deployment.heartbeat_ms);
    let mut tick = tokio::time::interval(heartbeat);
    // madsim's `recv_from_raw` is not cancel-safe (it sleeps after taking the message), so a
    // receiver task owns it and hands messages over a channel, which `select!` may poll and
    // drop freely.
    let (inbox_tx, mut inbox) = tokio::sync::mpsc::unbounded_channel::<Box<Wire>>();
    // The disk reports (group, index, term) when a sync completes; a crash loses the node's
    // tasks and with them the syncs in flight.
    let (synced_tx, mut synced) = tokio::sync::mpsc::unbounded_channel::<Synced>();
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
            Some(done) = synced.recv() => {
                let mut s = state.lock().unwrap();
                on_synced(&world, index, &mut s, done, &mut outgoing);
            }
            _ = tick.tick() => {
                let mut s = state.lock().unwrap();
                on_tick(&world, index, &mut s, &mut outgoing);
            }
        }
        // Terms, votes and new entries reach the disk before anything that depends on them
        // is sent.
        save(&world, index);
        start_syncs(&world, index, &mut state.lock().unwrap(), &synced_tx);
        for (to, wire) in outgoing {
            send(&world, &endpoint, to, wire).await;
        }
    }
}

/// A disk sync that completed: a replica of `group` has its entries up to `index` (of
/// `term`) durable.
struct Synced {
    group: u32,
    index: u64,
    term: u64,
    /// The disk's writes the sync covers (those issued before it began).
    mark: u64,
}

/// Starts a sync for every replica with appended entries not durable and no sync in flight
/// (one at a time per replica: the next takes what was appended meanwhile, as a group
/// commit), completing after a drawn `disk_sync_us`.
fn start_syncs(
    world: &World,
    index: usize,
    s: &mut StorageState,
    synced: &tokio::sync::mpsc::UnboundedSender<Synced>,
) {
    let disk = world.disks[index].lock().unwrap();
    let [lo, hi] = world.scenario.deployment.disk_sync_us;
    for (&group, g) in s.groups.iter_mut() {
        let Some(replica) = disk.get(&group) else {
            continue;
        };
        let Some((_, last)) = replica.to_persist() else {
            continue;
        };
        if g.syncing {
            continue;
        }
        g.syncing = true;
        let term = replica.entry(last).expect("appended").term;
        let done = Synced {
            group,
            index: last,
            term,
            mark: world.media[index].mark(),
        };
        let micros = world.streams.between(Component::DiskSyncs, lo, hi);
        let synced = synced.clone();
        madsim::task::spawn(async move {
            tokio::time::sleep(Duration::from_micros(micros)).await;
            let _ = synced.send(done);
        });
    }
}

/// A sync completed: the replica acknowledges what it held, or as leader counts its entries
/// (and may commit); what committed is applied.
fn on_synced(
    world: &World,
    index: usize,
    s: &mut StorageState,
    done: Synced,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let mut disk = world.disks[index].lock().unwrap();
    let group = done.group;
    world.media[index].sync(group, done.mark);
    let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
        return;
    };
    g.syncing = false;
    let mut out = Vec::new();
    replica.persisted(done.index, done.term, &mut out);
    let id = replica.id();
    // A held acknowledgement answers the newest Append heard from the leader.
    let echo = g.heard_stamp;
    raft_out(world, group, id, out, echo, Some(&mut g.flow), outgoing);
    apply_all(world, index, &mut disk, s, group, outgoing);
}

/// Writes what the node's replicas changed to its disk (entries synced at once only on a
/// disk whose syncs take no time).
fn save(world: &World, index: usize) {
    let sync_entries = world.scenario.deployment.disk_sync_us == [0, 0];
    world.media[index].save(&world.disks[index].lock().unwrap(), sync_entries);
}

/// Recovery: the node's disk loses what it had not synced (keeping a seeded prefix of it,
/// torn under `torn-write`), and under `corrupt` a bit of a synced entry flips; each replica
/// is then rebuilt from the bytes its file holds, and its engine from the replica's snapshot
/// (a group created by a split always has one) or the table's start, then by replaying the
/// log. A group the partition map says exists here but that this node never created (it
/// installed a parent's snapshot past the split, or crashed before applying it) starts blank
/// and receives its leader's snapshot.
fn recover(world: &World, index: usize) -> BTreeMap<u32, GroupState> {
    let placement = world.placement.lock().unwrap().clone();
    let initial = Placement::new(&world.topology);
    let mut groups = BTreeMap::new();
    let damaged = world.take_damage(index);
    let media = &world.media[index];
    media.power_cut(index, world.take_tear(index));
    let mut disk = world.disks[index].lock().unwrap();
    for (g, group) in placement.groups.iter().enumerate() {
        let g = g as u32;
        let Some(rid) = group.replicas.iter().position(|&n| n == index) else {
            continue;
        };
        let is_initial = (g as usize) < world.topology.groups.len();
        if damaged && !peer_repairing(world, index, g, &group.replicas) && media.damage(g) {
            world.raft_event(g, index, "damaged", 0);
        }
        match media.read(g, !world.bug(Bug::TornEntryKept)) {
            Some(recovered) => {
                let replica = Replica::recovered(rid, 3, recovered.persistent);
                let replica = hosted(world, replica);
                match recovered.problem {
                    Some(Problem::Torn { .. }) => {
                        world.raft_event(g, index, "torn", replica.last_index())
                    }
                    Some(Problem::Damaged { .. }) => {
                        world.raft_event(g, index, "repairing", replica.last_index())
                    }
                    None => {}
                }
                disk.insert(g, replica);
            }
            None if is_initial => {
                let replica = new_replica(world, rid);
                if replica.role() == Role::Leader {
                    world.leader(g, index, replica.term());
                }
                disk.insert(g, replica);
            }
            None if group.created => {
                disk.insert(g, blank_replica(world, rid));
            }
            None => {
                disk.remove(&g);
                continue;
            }
        }
        let replica = disk.get(&g).expect("inserted above");
        groups.insert(
            g,
            recovered_state(world, replica, group.table, is_initial, &initial, g, index),
        );
    }
    drop(disk);
    save(world, index);
    groups
}

/// A recovered replica's volatile state: its engine from its snapshot, or the table's start
/// for a partition the table began with (none otherwise, until a snapshot arrives).
fn recovered_state(
    world: &World,
    replica: &Log,
    table: usize,
    is_initial: bool,
    initial: &Placement,
    g: u32,
    index: usize,
) -> GroupState {
    let skip = (replica.first_index()..=replica.last_index())
        .rev()
        .find(|&i| {
            replica
                .entry(i)
                .is_some_and(|e| e.payload.as_ref().is_some_and(|c| c.is_write()))
        });
    let mut state = GroupState::new(world, None, (0, 0), skip);
    if let Some((base, snap)) = replica.snapshot() {
        let now = node_clock(world, index);
        state.engine = Some(snap.engine(world, table, now));
        state.txn = txn::restored(world, snap);
        state.range = snap.range;
        state.applied = base;
        if let Some(feed) = &mut state.feed {
            feed.reset(base);
        }
    } else if is_initial {
        state.engine = Some(new_engine(world, table));
        state.range = initial.range_of(table, g);
    }
    state
}

/// Whether another replica of `group` still repairs a damaged log: the `corrupt` fault
/// damages one replica of a group at a time (a group cannot recover what two of its three
/// replicas lost; it would stay unavailable, as it must).
fn peer_repairing(world: &World, index: usize, group: u32, replicas: &[usize; 3]) -> bool {
    replicas.iter().filter(|&&n| n != index).any(|&n| {
        world.disks[n]
            .lock()
            .unwrap()
            .get(&group)
            .is_some_and(|r| r.repairing())
    })
}

/// A replica of a group this node never created: blank (term 0, no log, no snapshot) until
/// the group's leader sends it a snapshot; it does not campaign until then.
fn blank_replica(world: &World, rid: usize) -> Log {
    let replica = Replica::new(rid, 3);
    hosted(world, replica)
}

/// Replica `rid` of a group a split creates, starting from `snap` (the parent's share) with
/// replica 0 leading term 1, breaking the run's broken replication rule, if any.
fn child_replica(world: &World, rid: usize, snap: Arc<Snap>) -> Log {
    let replica = Replica::bootstrap_from(rid, 3, 0, snap);
    hosted(world, replica)
}

/// Replica `rid` of a new group whose term-1 leader is replica 0, breaking the replication
/// rule of the run's broken variant, if it is one.
fn new_replica(world: &World, rid: usize) -> Log {
    let replica = Replica::bootstrap(rid, 3, 0);
    hosted(world, replica)
}

/// A replica as this deployment hosts it: its entries durable only once the node's disk
/// reports a sync (unless `disk_sync_us` is `[0, 0]`), breaking the run's broken replication
/// rule, if it is one.
fn hosted(world: &World, mut replica: Log) -> Log {
    if world.scenario.deployment.disk_sync_us != [0, 0] {
        replica.persist_asynchronously();
    }
    if let Some(rule) = world.options.bug.and_then(|b| b.broken_rule()) {
        replica.break_rule(rule);
    }
    replica
}

pub(super) fn peer_addr(world: &World, group: u32, replica: usize) -> SocketAddr {
    let node = world.placement.lock().unwrap().groups[group as usize].replicas[replica];
    world.topology.storage[node].addr()
}

/// Sends a replica's messages: Appends stamped with the send time (and, with `flow`, held
/// back while one with entries is in flight to that peer, unless that one is overdue),
/// AppendReplies with `echo` (the stamp of the Append being answered).
pub(super) fn raft_out(
    world: &World,
    group: u32,
    from: usize,
    out: Vec<(usize, RaftMessage)>,
    echo: Option<u64>,
    mut flow: Option<&mut Flow>,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let now = world.now_ns();
    for (to, message) in out {
        assert!(to < 3, "a replica group has three replicas");
        assert_ne!(to, from, "a replica sends nothing to itself");
        if let Some(flow) = flow.as_deref_mut()
            && !flow.admit(to, &message, now)
        {
            continue;
        }
        if world.fires(FaultPoint::RaftDropOutgoing) {
            continue;
        }
        let stamp = match message {
            Message::Append { .. } | Message::Snapshot { .. } => Some(now),
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

pub(super) fn handle(
    world: &World,
    index: usize,
    s: &mut StorageState,
    wire: Wire,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    match wire {
        Wire::Raft {
            group,
            from,
            message,
            stamp,
        } => handle_raft(world, index, s, (group, from, message, stamp), outgoing),
        Wire::Split {
            group,
            mid,
            new_group,
        } => handle_split(world, (index, s), group, mid, new_group, outgoing),
        Wire::Exec { req } => handle_exec(world, index, s, req, outgoing),
        Wire::Pull {
            group,
            component,
            from,
            durable,
            reply_to,
        } => {
            let pull = Pull {
                group,
                component,
                from,
                durable,
                reply_to,
            };
            feed::handle_pull(world, index, s, pull, outgoing);
        }
        _ => {}
    }
}

/// A Raft message from a peer replica of `group`: loyalty to a leased leader, flow control,
/// lease bookkeeping, a new leader's announcement, then what committed is applied.
fn handle_raft(
    world: &World,
    index: usize,
    s: &mut StorageState,
    (group, from, message, stamp): (u32, usize, RaftMessage, Option<u64>),
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let from_leader = matches!(message, Message::Append { .. } | Message::Snapshot { .. });
    let mut disk = world.disks[index].lock().unwrap();
    // A group this node has not created yet (its split is not applied here).
    let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
        return;
    };
    let now = world.now_ns();
    if let Message::RequestVote { .. } = message
        && g.lease.ignores_candidate(replica, g.applied, now)
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
    g.flow.answered(from, &message);
    let mut out = Vec::new();
    replica.handle_into(from, message, &mut out);
    if acked.is_some() {
        // The peer took what was in flight: send what was proposed meanwhile.
        Flow::resume(replica, from, &mut out);
    }
    if !was_leader && replica.role() == Role::Leader {
        world.leader(group, index, replica.term());
        announce_leader(world, group, replica.id(), outgoing);
    }
    if from_leader && replica.role() == Role::Follower && message_term == replica.term() {
        g.deadline = now + nanos(election_timeout(world));
        g.leader_hint = Some(from);
        g.lease.heard(now);
        g.heard_stamp = stamp;
    }
    if let (Some(term), Some(stamp)) = (acked, stamp)
        && replica.role() == Role::Leader
        && term == replica.term()
    {
        g.lease.acknowledged(term, from, stamp, now);
    }
    let id = replica.id();
    let echo = if from_leader { stamp } else { None };
    note_sent(g, replica, &out, now);
    raft_out(world, group, id, out, echo, Some(&mut g.flow), outgoing);
    install_snapshot(world, index, &mut disk, s, group);
    apply_all(world, index, &mut disk, s, group, outgoing);
}

/// A new leader announces itself to the routers of its table's region (the partition
/// metadata DynamoDB's request routers cache).
fn announce_leader(
    world: &World,
    group: u32,
    replica: usize,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let table = world.placement.lock().unwrap().groups[group as usize].table;
    let region = world.topology.tables[table].region;
    let zones = world.topology.zones;
    for router in &world.topology.routers[region * zones..(region + 1) * zones] {
        outgoing.push((router.addr(), Wire::LeaderHint { group, replica }));
    }
}

/// The control plane asks for a split: a leader orders it in its log.
fn handle_split(
    world: &World,
    (index, s): (usize, &mut StorageState),
    group: u32,
    mid: u64,
    new_group: u32,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let mut disk = world.disks[index].lock().unwrap();
    let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
        return;
    };
    // A transaction's marks stay with their partition: the control plane asks again later.
    if replica.role() != Role::Leader || txn::view(g, replica).has_marks() {
        return;
    }
    let cmd = Arc::new(Cmd::Split {
        mid,
        new_group,
        now_ms: node_clock(world, index),
    });
    let mut out = Vec::new();
    replica.propose_into(cmd, &mut out);
    let id = replica.id();
    raft_out(world, group, id, out, None, None, outgoing);
}

/// A client request routed here: answered locally (eventual reads, strong reads at a leased
/// leader), forwarded to the leader, or proposed to the log.
fn handle_exec(
    world: &World,
    index: usize,
    s: &mut StorageState,
    req: Box<Req>,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let node_name = &world.topology.storage[index].name;
    let group = req.group;
    let mut disk = world.disks[index].lock().unwrap();
    // A group this node has not created yet, or has no data of yet (its split is not applied
    // here): back to the router, which retries after a pause.
    let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
        return outgoing.push(reroute(req));
    };
    if g.engine.is_none() {
        return outgoing.push(reroute(req));
    }
    if req.mode == Mode::Eventual {
        if let Some(engine) = g.engine.as_mut() {
            let now = node_clock(world, index);
            outgoing.push(answer_locally(engine, g.range, req, now, node_name));
        }
        return;
    }
    if replica.role() != Role::Leader {
        let leader = g.leader_hint.filter(|&l| l != replica.id());
        forward_to_leader(world, leader, req, outgoing);
        return;
    }
    let now = node_clock(world, index);
    if let Some(part) = req.txn.clone() {
        handle_txn(world, (index, group, replica, g), req, part, outgoing);
        apply_all(world, index, &mut disk, s, group, outgoing);
        return;
    }
    let is_write = req.mode == Mode::Write;
    if req.mode == Mode::Strong
        && g.lease.serves_reads(replica, g.applied, world.now_ns())
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
        outgoing.push(leader_only_ack(engine, &req, now, node_name));
        return;
    }
    let (cmd, answer) = if is_write {
        let Some(cmd) = execute_write(world, replica, g, &req, now, outgoing) else {
            return;
        };
        cmd
    } else {
        (Cmd::Read { now_ms: now }, None)
    };
    let pending = Pending {
        term: replica.term(),
        req,
        answer,
        vote: None,
    };
    propose(world, (group, replica, g), cmd, pending, outgoing);
    apply_all(world, index, &mut disk, s, group, outgoing);
}

/// A coordinator's message about one item, at the partition's leader: a read-only
/// transaction's read (under the lease from what it applied, otherwise through the log), or
/// a prepare, commit or cancel decided on the leader's view and proposed.
fn handle_txn(
    world: &World,
    (index, group, replica, g): (usize, u32, &mut Log, &mut GroupState),
    req: Box<Req>,
    part: TxnPart,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let now = node_clock(world, index);
    if let TxnPart::Read = part {
        if g.lease.serves_reads(replica, g.applied, world.now_ns())
            && let Some(engine) = g.engine.as_mut()
        {
            outgoing.push(txn::read(engine, &g.txn, (g.range, req), now));
        } else {
            let pending = Pending {
                term: replica.term(),
                req,
                answer: None,
                vote: None,
            };
            propose(
                world,
                (group, replica, g),
                Cmd::Read { now_ms: now },
                pending,
                outgoing,
            );
        }
        return;
    }
    sync_proposer(replica, g);
    match txn::decide(g, replica, &req, &part, now) {
        Decided::Answer(answer) => outgoing.push(answer),
        Decided::Propose(cmd, vote) => {
            let pending = Pending {
                term: replica.term(),
                req,
                answer: None,
                vote,
            };
            propose(world, (group, replica, g), cmd, pending, outgoing);
        }
    }
}

/// A leader proposes `cmd` for the client of `pending` and sends what replicates it.
fn propose(
    world: &World,
    (group, replica, g): (u32, &mut Log, &mut GroupState),
    cmd: Cmd,
    pending: Pending,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let mut out = Vec::new();
    let cmd = Arc::new(cmd);
    // The view is in step with the log before the entry joins it, and takes the entry after.
    txn::view(g, replica);
    if let Some(at) = replica.propose_into(cmd.clone(), &mut out) {
        if let Some(changes) = cmd.changes() {
            g.proposer.proposed(at, changes);
        }
        if let Some((_, view)) = g.txn_view.as_mut() {
            txn::apply(view, &cmd);
        }
        g.pending.insert(at, pending);
    }
    note_sent(g, replica, &out, world.now_ns());
    let id = replica.id();
    raft_out(world, group, id, out, None, Some(&mut g.flow), outgoing);
}

/// The leader executes a write once, against what it applied plus what it proposed and has
/// not applied yet, and proposes its changes (the broken variant "lost increment" ignores the
/// unapplied proposals). A key its range no longer holds goes back to the router. Returns the
/// command to propose and the answer to give once it commits.
#[allow(clippy::type_complexity)]
fn execute_write(
    world: &World,
    replica: &Log,
    g: &mut GroupState,
    req: &Req,
    now: u64,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) -> Option<(Cmd, Option<Result<Json, dynasim_engine::Error>>)> {
    if let Misrouted::Reroute = misrouted(req, g.range) {
        outgoing.push(reroute(Box::new(req.clone())));
        return None;
    }
    g.engine.as_ref()?;
    if txn::write_conflicts(g, replica, &req.request) {
        // The item is prepared by a transaction: DynamoDB refuses the write.
        let reply = Wire::Reply {
            id: req.id,
            result: Err(dynasim_engine::Error::transaction_conflict()),
            node: "leader".into(),
        };
        outgoing.push((req.client, reply));
        return None;
    }
    sync_proposer(replica, g);
    let engine = g.engine.as_mut()?;
    let request = req.request.clone();
    let proposal = if world.bug(Bug::LostIncrement) {
        g.proposer.execute_ignoring_proposals(engine, request, now)
    } else {
        g.proposer.execute(engine, request, now)
    };
    let answer = proposal
        .result
        .map(|r| serde_json::to_value(&r).expect("responses serialize"));
    let cmd = Cmd::Write {
        key: request_key(&req.request),
        changes: proposal.changes,
        now_ms: now,
    };
    Some((cmd, Some(answer)))
}

/// Brings the leader's proposer in step with its log in a new term: the log's unapplied
/// suffix may hold earlier terms' entries, which commit before this leader's own.
fn sync_proposer(replica: &Log, g: &mut GroupState) {
    if g.proposer_term != Some(replica.term()) {
        let suffix = (g.applied + 1..=replica.last_index())
            .filter_map(|i| Some((i, replica.entry(i)?.payload.as_deref()?.changes()?)));
        g.proposer.rebuild(suffix);
        g.proposer_term = Some(replica.term());
    }
}

/// A request at a replica that is not the leader: forwarded to the leader it knows (and the
/// router told), at most three times; otherwise back to the router.
fn forward_to_leader(
    world: &World,
    leader: Option<usize>,
    mut req: Box<Req>,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let group = req.group;
    match leader {
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
        // No leader known (an election is under way): back to the router, which retries
        // after a pause; past its budget DynamoDB's answer is a 500, and the client cannot
        // tell whether the request happened.
        _ => outgoing.push(reroute(req)),
    }
}

/// The broken variant "leader only ack": the leader applies and acknowledges a write without
/// replicating it.
fn leader_only_ack(engine: &mut Engine, req: &Req, now: u64, node: &str) -> (SocketAddr, Wire) {
    let result = engine
        .execute(req.request.clone(), now)
        .map(|r| serde_json::to_value(&r).expect("responses serialize"));
    let reply = Wire::Reply {
        id: req.id,
        result,
        node: node.to_string(),
    };
    (req.client, reply)
}

/// Answers a read from this replica's own state (an eventually consistent read, or a strongly
/// consistent one at a leased leader), unless the partition's range no longer holds it.
pub(super) fn answer_locally(
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

pub(super) enum Misrouted {
    No,
    /// A scan whose partition's range changed: the client must scan again.
    Moved,
    /// A single-item request for a key this partition no longer owns: back to the router.
    Reroute,
}

pub(super) fn misrouted(req: &Req, range: Range) -> Misrouted {
    match req.range {
        Some(expected) if expected != range => Misrouted::Moved,
        Some(_) => Misrouted::No,
        None => match request_key(&req.request) {
            Some(key) if !in_range(key_hash(&key), range) => Misrouted::Reroute,
            _ => Misrouted::No,
        },
    }
}

pub(super) fn moved() -> dynasim_engine::Error {
    dynasim_engine::Error::new(dynasim_engine::ErrorKind::InternalServerError, MOVED)
}

/// Sends a request back to its router, which routes it again by the current partition map
/// (a scan keeps its partition) after a pause that grows with the hops.
pub(super) fn reroute(mut req: Box<Req>) -> (SocketAddr, Wire) {
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
pub(super) const MAX_HOPS: u8 = 8;
/// The router's pause before routing a request again, times the hops it made: 720 ms in all,
/// longer than an election and shorter than the clients' one-second timeout.
pub(super) const REROUTE_PAUSE_MS: u64 = 20;

/// Applies what committed, creating the groups that applied splits create.
pub(super) fn apply_all(
    world: &World,
    index: usize,
    disk: &mut BTreeMap<u32, Log>,
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
            // A blank replica made for the group before this node replayed its split (a
            // restart, or another group's snapshot) that nothing has touched yet (term 0: it
            // never voted; no entry, no snapshot) takes the share computed here instead.
            let untouched =
                |r: &Log| r.term() == 0 && r.last_index() == 0 && r.snapshot().is_none();
            if disk.get(&created.group).is_some_and(untouched) {
                disk.remove(&created.group);
            }
            if let Entry::Vacant(vacant) = disk.entry(created.group) {
                // The new group's replica, persisted from now on: it starts from a snapshot
                // of the parent's share (a replica created blank receives it).
                let snap = Snap::of(&created.engine, created.table, world, created.range, 0)
                    .with_txn(created.txn.clone());
                let replica = child_replica(world, rid, Arc::new(snap));
                if replica.role() == Role::Leader {
                    world.leader(created.group, index, replica.term());
                }
                vacant.insert(replica);
                let mut state = GroupState::new(world, Some(created.engine), created.range, None);
                state.txn = created.txn;
                state.applied = 1;
                if let Some(feed) = &mut state.feed {
                    feed.reset(1);
                }
                s.groups.insert(created.group, state);
            }
            world
                .placement
                .lock()
                .unwrap()
                .split(created.table, created.mid, created.group);
            work.push(created.group);
        }
        if let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) {
            compact_if_due(world, replica, g, group);
        }
    }
}

/// Compaction in two steps, so that a follower a few entries behind still gets entries, not
/// a snapshot: once the log holds `compact_after_entries` applied entries, a snapshot of the
/// engine is taken at the applied index; the log is compacted to it once
/// `compact_keep_entries` more entries are applied.
fn compact_if_due(world: &World, replica: &mut Log, g: &mut GroupState, group: u32) {
    let Some(engine) = &g.engine else { return };
    let deployment = &world.scenario.deployment;
    match g.snapshot.take() {
        // With change-feed components, never past what each of them made durable: a
        // component that crashes pulls those entries again (the snapshot waits).
        Some((at, snap)) if g.feed.as_ref().is_some_and(|f| at > f.floor()) => {
            g.snapshot = Some((at, snap));
        }
        Some((at, snap)) if g.applied >= at + deployment.compact_keep_entries => {
            // Dropped if a snapshot installed since covers it.
            let current = at >= replica.first_index() && at <= replica.compactable();
            if current {
                replica.compact(at, snap);
            }
        }
        Some(taken) => g.snapshot = Some(taken),
        None if g.applied >= replica.first_index() + deployment.compact_after_entries => {
            let at = g.applied.min(replica.compactable());
            let table = world.placement.lock().unwrap().groups[group as usize].table;
            let hash = snapshot::log_hash_at(replica, at);
            let snap = Snap::of(engine, table, world, g.range, hash).with_txn(g.txn.clone());
            g.snapshot = Some((at, Arc::new(snap)));
        }
        None => {}
    }
}

/// A follower that just installed its leader's snapshot (past what it applied): its engine,
/// range and applied index are the snapshot's. Groups the partition map says this node holds
/// but that it never created (the snapshot covers their split) start blank.
fn install_snapshot(
    world: &World,
    index: usize,
    disk: &mut BTreeMap<u32, Log>,
    s: &mut StorageState,
    group: u32,
) {
    let (Some(replica), Some(g)) = (disk.get(&group), s.groups.get_mut(&group)) else {
        return;
    };
    let Some((base, snap)) = replica.snapshot() else {
        return;
    };
    if base <= g.applied {
        return;
    }
    let placement = world.placement.lock().unwrap().clone();
    let table = placement.groups[group as usize].table;
    world.raft_event(group, index, "snapshot", base);
    g.engine = Some(snap.engine(world, table, node_clock(world, index)));
    g.txn = txn::restored(world, snap);
    g.txn_view = None;
    g.range = snap.range;
    g.applied = base;
    if let Some(feed) = &mut g.feed {
        feed.reset(base);
    }
    g.pending.retain(|&i, _| i > base);
    g.proposer_term = None;
    g.snapshot = None;
    for (child, info) in placement.groups.iter().enumerate() {
        let child = child as u32;
        let Some(rid) = info.replicas.iter().position(|&n| n == index) else {
            continue;
        };
        if info.created && !disk.contains_key(&child) {
            disk.insert(child, blank_replica(world, rid));
            let state = GroupState::new(world, None, (0, 0), None);
            s.groups.insert(child, state);
        }
    }
}

/// Applies committed entries in order; stops after a split, returning the group it creates.
pub(super) fn apply_committed(
    world: &World,
    node_name: &str,
    replica: &Log,
    g: &mut GroupState,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) -> Option<Created> {
    if g.applied < replica.commit() && world.fires(FaultPoint::StorageDeferApply) {
        return None;
    }
    let mut created = None;
    while g.applied < replica.commit() && created.is_none() {
        if g.engine.is_none() {
            break;
        }
        let index = g.applied + 1;
        let Some(entry) = replica.entry(index) else {
            break;
        };
        g.applied = index;
        created = apply_entry(world, node_name, g, (index, entry), outgoing);
    }
    assert!(
        g.applied <= replica.commit(),
        "a replica applies only what committed"
    );
    assert!(
        replica.commit() <= replica.last_index(),
        "what committed is in the log"
    );
    // Proposals at indexes now applied under another term were overwritten: forget them.
    let applied = g.applied;
    g.pending.retain(|&i, _| i > applied);
    created
}

/// Applies the committed entry at `index` (just counted as applied); returns the group a
/// split creates.
fn apply_entry(
    world: &World,
    node_name: &str,
    g: &mut GroupState,
    (index, entry): (u64, &LogEntry<Arc<Cmd>>),
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) -> Option<Created> {
    let cmd = entry.payload.as_ref()?;
    match &**cmd {
        &Cmd::Split {
            mid,
            new_group,
            now_ms,
        } => {
            let created = apply_split(world, g, mid, new_group, now_ms);
            if created.is_some()
                && let Some(feed) = &mut g.feed
            {
                feed.record(index, FeedEntry::Split { new_group });
            }
            return created;
        }
        Cmd::Write {
            key,
            changes,
            now_ms,
        } => {
            let pending = take_pending(g, index, entry.term);
            g.proposer.applied(index);
            txn::apply(&mut g.txn, cmd);
            if g.skip == Some(index) && world.bug(Bug::SkipOnRestart) {
                // Broken: the replay after a restart skips one logged write.
                return None;
            }
            let write = Applied {
                key: key.as_deref(),
                changes,
                now_ms: *now_ms,
                pending,
            };
            apply_write(node_name, g, (index, write), outgoing);
        }
        &Cmd::Read { now_ms } => {
            // Only the replica that proposed a read executes it, on what it applied.
            if let Some(pending) = take_pending(g, index, entry.term)
                && let Some(engine) = g.engine.as_mut()
            {
                let range = g.range;
                let answer = if pending.req.txn.is_some() {
                    txn::read(engine, &g.txn, (range, pending.req), now_ms)
                } else {
                    answer_locally(engine, range, pending.req, now_ms, node_name)
                };
                outgoing.push(answer);
            }
        }
        Cmd::Txn(t) => {
            let pending = take_pending(g, index, entry.term);
            g.proposer.applied(index);
            apply_txn(node_name, g, (index, t, cmd), pending, outgoing);
        }
    }
    None
}

/// Applies a transaction entry: the participant's rule, and a commit's write if it applies;
/// the proposing replica answers the coordinator.
fn apply_txn(
    node_name: &str,
    g: &mut GroupState,
    (index, t, cmd): (u64, &TxnCmd, &Cmd),
    pending: Option<Pending>,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    // A key a split ordered before this entry gave away: nothing applies (the leader refuses
    // transactions while a split waits in its log, so only a cancel of an unmarked key).
    let key = match t {
        TxnCmd::Prepare { key, .. } | TxnCmd::Commit { key, .. } | TxnCmd::Cancel { key, .. } => {
            key
        }
    };
    if !in_range(key_hash(key), g.range) {
        if let Some(pending) = pending {
            outgoing.push(reroute(pending.req));
        }
        return;
    }
    let writes = txn::apply(&mut g.txn, cmd);
    if let TxnCmd::Commit {
        changes, now_ms, ..
    } = t
        && writes
    {
        let write = Applied {
            key: Some(key),
            changes,
            now_ms: *now_ms,
            pending: None,
        };
        apply_write(node_name, g, (index, write), outgoing);
    }
    if let Some(pending) = pending {
        outgoing.push(txn::applied_answer(&pending.req, pending.vote));
    }
}

/// A split entry: the group gives `[mid, ..)` of its range (and the items there) to
/// `new_group`, unless its range does not hold `mid` (the split was applied already).
fn apply_split(
    world: &World,
    g: &mut GroupState,
    mid: u64,
    new_group: u32,
    now_ms: u64,
) -> Option<Created> {
    if !(mid > g.range.0 && in_range(mid, g.range)) {
        return None;
    }
    let (lo, hi) = g.range;
    let engine = g
        .engine
        .as_mut()
        .expect("the caller checked the engine exists");
    let table = world.placement.lock().unwrap().groups[new_group as usize].table;
    let engine = split_off(world, engine, table, mid, now_ms);
    let created = Created {
        group: new_group,
        engine,
        txn: g.txn.split_off(),
        range: (mid, g.range.1),
        table,
        mid,
    };
    g.range.1 = mid;
    assert!(lo < mid, "the parent keeps a non-empty range");
    assert!(
        mid < hi || hi == u64::MAX,
        "the new group gets a non-empty range"
    );
    Some(created)
}

/// The proposal this replica made at `index` in `term`, if it made one and the entry there is
/// still it.
fn take_pending(g: &mut GroupState, index: u64, term: u64) -> Option<Pending> {
    g.pending.remove(&index).filter(|p| p.term == term)
}

/// A committed write to apply, and the client waiting for it (at the replica that proposed
/// it).
struct Applied<'a> {
    key: Option<&'a str>,
    changes: &'a [Change],
    now_ms: u64,
    pending: Option<Pending>,
}

/// Applies a committed write's changes, unless its key left this partition in a split
/// ordered before it; the proposing replica answers its client (or sends the request back).
fn apply_write(
    node_name: &str,
    g: &mut GroupState,
    (index, write): (u64, Applied<'_>),
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let Applied {
        key,
        changes,
        now_ms,
        pending,
    } = write;
    // A write for a key this partition gave away in a split ordered before it: no replica
    // applies it; the leader sends it back to be routed again.
    if key.is_some_and(|key| !in_range(key_hash(key), g.range)) {
        if let Some(pending) = pending {
            outgoing.push(reroute(pending.req));
        }
        return;
    }
    let engine = g
        .engine
        .as_mut()
        .expect("the caller checked the engine exists");
    let mut fed = Vec::new();
    for change in changes {
        if let Change::Item { table, key, item } = change {
            // The image before, for the change feed (only when a component consumes it).
            let before = g.feed.as_ref().and_then(|_| engine.item_at(table, key));
            engine
                .restore_item(table, key, item.as_deref(), now_ms)
                .expect("a write's table exists on every replica");
            if g.feed.is_some() {
                let after = engine.item_at(table, key);
                if before != after {
                    let table = table.clone();
                    fed.push(ItemChange {
                        table,
                        before,
                        after,
                    });
                }
            }
        }
    }
    if let Some(feed) = &mut g.feed {
        let entry = FeedEntry::Write {
            now_ms,
            changes: fed,
        };
        feed.record(index, entry);
    }
    // Only the replica that proposed it answers, with what it computed when it proposed.
    if let Some(Pending {
        req,
        answer: Some(result),
        ..
    }) = pending
    {
        outgoing.push((
            req.client,
            Wire::Reply {
                id: req.id,
                result,
                node: node_name.to_string(),
            },
        ));
    }
}

/// Moves the items whose key hashes to `[mid, ...)` out of `engine` into a new engine.
pub(super) fn split_off(
    world: &World,
    engine: &mut Engine,
    table: usize,
    mid: u64,
    now: u64,
) -> Engine {
    let name = &world.topology.tables[table].name;
    let mut new = new_engine(world, table);
    let moves = |item: &dynasim_engine::Item| match item.get(workloads::PARTITION_KEY) {
        Some(dynasim_engine::Value::S(key)) => key_hash(key) >= mid,
        _ => false,
    };
    engine
        .move_items(name, &mut new, moves, now, world.bug(Bug::SplitDropsItem))
        .expect("both engines hold the table");
    new
}

/// The partition key a single-item request names.
pub(super) fn request_key(request: &Request) -> Option<String> {
    match request {
        Request::GetItem(i) => key_string(i.key.as_ref()),
        Request::PutItem(i) => key_string(i.item.as_ref()),
        Request::UpdateItem(i) | Request::DeleteItem(i) => key_string(i.key.as_ref()),
        // The workloads' Queries name their partition key as `:p`.
        Request::Query(i) => i.expression_attribute_values.as_ref()?.get(":p")?.s.clone(),
        _ => None,
    }
}

pub(super) fn on_tick(
    world: &World,
    index: usize,
    s: &mut StorageState,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let mut disk = world.disks[index].lock().unwrap();
    // The engines' time-driven work, on the node's own (possibly skewed) clock.
    let now = node_clock(world, index);
    for g in s.groups.values_mut() {
        if let Some(engine) = &mut g.engine {
            engine.handle_timeout(now);
        }
    }
    let groups: Vec<u32> = s.groups.keys().copied().collect();
    for group in groups {
        let (Some(replica), Some(g)) = (disk.get_mut(&group), s.groups.get_mut(&group)) else {
            continue;
        };
        let now = world.now_ns();
        let out = if replica.role() == Role::Leader {
            g.deadline = now + nanos(election_timeout(world));
            // A peer that got an Append within the interval, carrying the current commit
            // index, needs no heartbeat (an Append with entries is a retransmission: sent).
            let mut out = replica.heartbeat();
            g.flow.skip_heartbeats(&mut out, now);
            out
        } else if g.engine.is_none() {
            // A blank replica (no data yet) does not campaign.
            Vec::new()
        } else if now >= g.deadline
            // The fault point fires the election timer early, but never inside the lease
            // window: a leader's lease relies on that timing (DynamoDB survives early
            // timers, not broken clocks).
            || (g.lease.may_campaign_early(now) && world.fires(FaultPoint::ReplicaEarlyElection))
        {
            g.deadline = now + nanos(election_timeout(world));
            g.leader_hint = None;
            replica.campaign()
        } else {
            Vec::new()
        };
        note_sent(g, replica, &out, now);
        let id = replica.id();
        raft_out(world, group, id, out, None, Some(&mut g.flow), outgoing);
        apply_all(world, index, &mut disk, s, group, outgoing);
    }
}

pub(super) fn heartbeat_interval(world: &World) -> Duration {
    Duration::from_millis(world.scenario.deployment.heartbeat_ms)
}

/// The workload partition key of a request's key or item, as routing and splits read it.
fn key_string(item: Option<&dynasim_engine::api::RawItem>) -> Option<String> {
    item?.get(workloads::PARTITION_KEY)?.s.clone()
}
