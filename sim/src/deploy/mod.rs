//! The deployment on madsim: storage nodes hosting partition replicas (the engine's
//! [`Replica`] for ordering, an [`Engine`] per replica as the state machine it orders), request
//! routers, client nodes running workloads, and the nemesis executing the fault plan. Only
//! built with `--cfg madsim`.

mod client;
mod consumer;
mod coordinator;
mod disk_log;
mod feed;
mod nemesis;
mod router;
mod snapshot;
mod storage;
mod sweeper;
mod txn;

use client::{HttpConnection, client_process, client_region, perform};
use router::router_node;
use snapshot::{Log, RaftMessage};
use storage::{StorageState, storage_node};

use crate::faults::{FaultPoint, Plan};
use crate::history::{Event, History, Kind, Process};
use crate::options::{Bug, RunOptions};
use crate::scenario::Scenario;
use crate::seeds::{Component, Streams, sub_seed};
use crate::topology::{GroupInfo, PORT, Placement, Range, Topology};
use crate::workloads::{Mode, Planned};
use dynasim_engine::replication::raft::Role;
use dynasim_engine::storage::change::Change;
use dynasim_engine::{Engine, Request};
use madsim::net::Endpoint;
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
/// The nemesis (and control plane) node's address.
const NEMESIS_IP: &str = "10.250.0.1";
/// Process numbers of the final reader.
pub const FINAL_PROCESS: u64 = 1_000_000;

/// A command in a partition's log. (A new leader's no-op entry is the engine log's entry
/// without a payload, so it needs no variant here.)
#[derive(Debug)]
pub enum Cmd {
    /// A client's write as the leader executed it: the changes every replica applies, not the
    /// request (followers never evaluate a condition or an update expression).
    Write {
        /// The workload partition key the write names (a replica whose range no longer holds
        /// it, after a split ordered before it, applies nothing).
        key: Option<String>,
        changes: Vec<Change>,
        /// The leader's clock when it executed the write (the items' write time).
        now_ms: u64,
    },
    /// A strongly consistent read that travels the log (a leader without a lease): only the
    /// replica that proposed it executes it, when it applies the entry.
    Read { now_ms: u64 },
    /// A split: the group keeps `[lo, mid)` and `new_group` takes the rest of its range.
    Split {
        mid: u64,
        new_group: u32,
        /// The leader's clock when it was proposed (the moved items' write time).
        now_ms: u64,
    },
    /// A transaction's prepare, commit or cancel of one item, as the leader decided it
    /// (`txn`).
    Txn(txn::TxnCmd),
}

impl Cmd {
    /// A write a replica replays from its log (not a read, not a split).
    fn is_write(&self) -> bool {
        matches!(self, Cmd::Write { .. })
    }

    /// The item images the entry writes when it applies (a write's, a commit's), for the
    /// leader's proposer.
    fn changes(&self) -> Option<&[Change]> {
        match self {
            Cmd::Write { changes, .. } => Some(changes),
            Cmd::Txn(txn::TxnCmd::Commit { changes, .. }) => Some(changes),
            _ => None,
        }
    }
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
    /// A coordinator's message about one item of a transaction (`None`: a client's request).
    txn: Option<txn::TxnPart>,
}

/// The message a scan gets when its partition's range changed (a split): the client re-reads
/// the partition map and scans again.
const MOVED: &str = "Partition moved: its key range changed; re-read the partition map.";

enum Wire {
    Raft {
        group: u32,
        from: usize,
        message: RaftMessage,
        /// An Append's send time on the leader's monotonic clock (`World::now_ns`); an
        /// AppendReply echoes the stamp of the Append it answers (leases count from it).
        stamp: Option<u64>,
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
    /// A client's transaction (TransactWriteItems or TransactGetItems, as the JSON an SDK
    /// sends) to a coordinator.
    Txn {
        id: u64,
        client: SocketAddr,
        operation: &'static str,
        body: Json,
    },
    /// A partition's answer to a coordinator about one item of a transaction.
    TxnReply {
        id: u64,
        result: Result<txn::TxnAnswer, dynasim_engine::Error>,
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
    /// A change-feed component asks a group's replicas for the changes from `from` on (it
    /// made durable what it consumed up to `durable`).
    Pull {
        group: u32,
        component: usize,
        from: u64,
        durable: u64,
        reply_to: SocketAddr,
    },
    /// A group's leader answers a pull: the entries of `from..=upto` that changed something,
    /// from storage node `source.0` in term `source.1`.
    Pulled {
        group: u32,
        from: u64,
        upto: u64,
        entries: Vec<(u64, Arc<feed::FeedEntry>)>,
        source: (usize, u64),
    },
}

/// A storage node's persisted replicas, by group: what survives a crash.
type Disk = Arc<Mutex<BTreeMap<u32, Log>>>;

/// Everything the run shares: topology, clocks, history, observation of node state.
pub struct World {
    pub scenario: Scenario,
    pub topology: Topology,
    pub plan: Plan,
    pub options: RunOptions,
    /// The components' own random streams (sub-seeds of the run's seed).
    streams: Streams,
    start: Instant,
    history: Mutex<History>,
    /// Per storage node clock offset (ms).
    skew: Mutex<Vec<i64>>,
    /// Tables in a throttling storm.
    storms: Mutex<BTreeSet<usize>>,
    /// Tables whose first partition's leader the nemesis churns.
    churning: Mutex<BTreeSet<usize>>,
    /// Per router, the lags (ns) of the `router-lag` faults on it now: the leader hints it
    /// receives take effect the longest of them late.
    router_lag: Mutex<Vec<Vec<u64>>>,
    /// The partition map (the routers' metadata), changed by splits.
    placement: Mutex<Placement>,
    /// Storage node state, readable by the harness after the run.
    nodes: Mutex<Vec<Option<Arc<Mutex<StorageState>>>>>,
    /// Each storage node's replicas (their volatile state is rebuilt from `media` when the
    /// node restarts; the harness reads them after the run).
    disks: Vec<Disk>,
    /// Each storage node's disk: its replicas' persistent state as bytes (survives crashes).
    media: Vec<disk_log::NodeDisk>,
    /// Each change-feed component's state (`topology.feeds`): what it consumed and built,
    /// live and as of its last checkpoint (what survives its crash).
    feeds: Vec<Mutex<consumer::ComponentState>>,
    /// Storage nodes the nemesis killed and has not restarted yet.
    down: Mutex<BTreeSet<usize>>,
    /// Storage nodes whose disks return their logs damaged when they next start.
    damaged: Mutex<BTreeSet<usize>>,
    /// Storage nodes whose disks keep part of their unsynced writes when they next start
    /// (`torn-write`), with the fault's seed.
    torn: Mutex<BTreeMap<usize, u64>>,
    stop_clients: AtomicBool,
    pub ops: Mutex<u64>,
    /// Client requests that were answered ok, after the last fault healed (liveness).
    progress_after_heal: Mutex<BTreeMap<usize, u64>>,
    healed: AtomicBool,
    /// The coordinators' ledger and what it keeps of each transaction (the service's ledger
    /// table: it outlives any coordinator).
    ledger: Mutex<coordinator::Books>,
}

impl World {
    /// Simulated nanoseconds since the run started: the monotonic clock of the history and
    /// of the replication rules (leases, loyalty, flow control, election timers), which
    /// compare instants as madsim's `Instant`s would (time advances between task polls by
    /// tens of nanoseconds).
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

    /// Records a replication event `f` of `node`'s replica of `group` at log index `index`
    /// (`snapshot`: it installed its leader's snapshot up to `index`).
    fn raft_event(&self, group: u32, node: usize, f: &str, index: u64) {
        let name = {
            let placement = self.placement.lock().unwrap();
            self.topology.group_name(&placement, group)
        };
        let mut e = Event::new(Process::Named("raft".into()), Kind::Info, f, self.now_ns());
        e.key = Some(name);
        e.value = json!({"node": self.topology.storage[node].name, "index": index});
        self.record(e);
    }

    fn fires(&self, point: FaultPoint) -> bool {
        self.plan.point_active(point)
            && self
                .streams
                .chance(Component::FaultPoints, self.plan.point_fire)
    }

    fn bug(&self, bug: Bug) -> bool {
        self.options.bug == Some(bug)
    }

    /// Simulated milliseconds since the run started.
    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Offsets storage node `node`'s physical clock (0: none).
    fn set_skew(&self, node: usize, offset_ms: i64) {
        self.skew.lock().unwrap()[node] = offset_ms;
    }

    /// The `corrupt` fault: `node`'s disk returns its logs damaged when it next starts.
    fn damage_disk(&self, node: usize) {
        self.damaged.lock().unwrap().insert(node);
    }

    /// Whether `node`'s disk was damaged since it last started (and forgets it).
    fn take_damage(&self, node: usize) -> bool {
        self.damaged.lock().unwrap().remove(&node)
    }

    /// The `torn-write` fault: `node`'s disk kept part of what it had not synced when it
    /// next starts (how much, from `seed`).
    fn tear_disk(&self, node: usize, seed: u64) {
        self.torn.lock().unwrap().insert(node, seed);
    }

    /// The seed of `node`'s torn disk, if it was torn since it last started (and forgets it).
    fn take_tear(&self, node: usize) -> Option<u64> {
        self.torn.lock().unwrap().remove(&node)
    }

    /// Forgets a crashed storage node's volatile state (its disk stays).
    fn crashed(&self, node: usize) {
        self.nodes.lock().unwrap()[node] = None;
    }

    /// Starts or ends a throttling storm on `table`.
    fn set_storm(&self, table: usize, on: bool) {
        let mut storms = self.storms.lock().unwrap();
        if on {
            storms.insert(table);
        } else {
            storms.remove(&table);
        }
    }

    /// Starts or ends leader churn on `table`.
    fn set_churn(&self, table: usize, on: bool) {
        let mut churning = self.churning.lock().unwrap();
        if on {
            churning.insert(table);
        } else {
            churning.remove(&table);
        }
    }

    fn churning(&self, table: usize) -> bool {
        self.churning.lock().unwrap().contains(&table)
    }

    /// Starts (`on`) or ends a lag of router `router`'s leader hints.
    fn set_router_lag(&self, router: usize, lag: Duration, on: bool) {
        let lag = lag.as_nanos() as u64;
        let mut lags = self.router_lag.lock().unwrap();
        let lags = &mut lags[router];
        if on {
            lags.push(lag);
        } else if let Some(i) = lags.iter().position(|&l| l == lag) {
            lags.remove(i);
        }
    }

    /// How late (ns) the leader hints router `router` receives take effect now (0: at once).
    fn router_lag(&self, router: usize) -> u64 {
        self.router_lag.lock().unwrap()[router]
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// The storage node whose replica of `group` leads in the highest term, as its disk says.
    fn current_leader(&self, group: u32) -> Option<usize> {
        let replicas = self.placement.lock().unwrap().groups[group as usize].replicas;
        replicas
            .into_iter()
            .filter_map(|node| {
                let disk = self.disks[node].lock().unwrap();
                let replica = disk.get(&group)?;
                (replica.role() == Role::Leader).then(|| (replica.term(), node))
            })
            .max()
            .map(|(_, node)| node)
    }

    /// The control plane's half of a split of `table`'s widest partition: names the new group
    /// in the partition map (not created until a replica applies the split). Returns the
    /// group, the split point, the new group and the replicas to ask.
    fn plan_split(&self, table: usize) -> Option<(u32, u64, u32, [usize; 3])> {
        let mut placement = self.placement.lock().unwrap();
        let (group, mid) = placement.widest(table)?;
        let parent = placement.groups[group as usize].clone();
        let new_group = placement.groups.len() as u32;
        let partition = placement.groups.iter().filter(|g| g.table == table).count();
        placement.groups.push(GroupInfo {
            table,
            partition,
            replicas: parent.replicas,
            created: false,
        });
        Some((group, mid, new_group, parent.replicas))
    }

    /// Whether a replica applied the split that creates `group`.
    fn group_created(&self, group: u32) -> bool {
        self.placement.lock().unwrap().groups[group as usize].created
    }
}

async fn send(world: &World, endpoint: &Arc<Endpoint>, to: SocketAddr, wire: Wire) {
    let from = endpoint.local_addr().expect("bound");
    if Topology::region_of(&from) != Topology::region_of(&to) {
        let [lo, hi] = world.scenario.deployment.cross_region_latency_ms;
        let delay = world.streams.between(Component::CrossRegionLatency, lo, hi);
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

fn node_clock(world: &World, node: usize) -> u64 {
    let skew = world.skew.lock().unwrap()[node];
    (EPOCH_MS as i64 + world.start.elapsed().as_millis() as i64 + skew).max(0) as u64
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
    let (ids, region_of, client_nodes) = create_nodes(&world, &handle);
    // Let the nodes bind before clients send.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let tasks = start_clients(&world, &client_nodes);
    let nemesis_task = handle
        .create_node()
        .name("nemesis")
        .ip(NEMESIS_IP.parse().unwrap())
        .build()
        .spawn(nemesis::nemesis(world.clone(), ids.clone(), region_of));
    tokio::time::sleep(Duration::from_millis(world.scenario.duration_ms)).await;
    let _ = nemesis_task.await;
    world.healed.store(true, Ordering::Relaxed);
    world.nemesis(Kind::Info, "heal", Json::Null);
    tokio::time::sleep(Duration::from_millis(world.scenario.liveness_ms)).await;
    world.stop_clients.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    // The TTL sweeper stops with the clients; its deletes in flight complete (or time out).
    let quiet = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms + 100);
    while world.feeds.iter().any(|f| f.lock().unwrap().sweeps.busy()) && Instant::now() < quiet {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    read_final_state(&world, &client_nodes).await;
    // Convergence: every replica of every group caught up with its leader, within the bound.
    let bound = Instant::now() + Duration::from_millis(world.scenario.converge_within_ms);
    let converged = loop {
        let converged = groups_caught_up(&world);
        if converged.values().all(|&c| c) || Instant::now() >= bound {
            break converged;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The change-feed components catch up with every partition's leader, within the bound.
    // (Within a bound of their own: the replicas may have used theirs catching up.)
    let bound = Instant::now() + Duration::from_millis(world.scenario.converge_within_ms);
    while !world.topology.feeds.is_empty() && !consumer::caught_up(&world) {
        if Instant::now() >= bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Judged now: the final index reads below take time, and entries (a new term's first,
    // say) may be appended meanwhile.
    let feeds_caught_up: Vec<bool> = (0..world.feeds.len())
        .map(|c| consumer::caught_up_one(&world, c))
        .collect();
    // A global secondary index is read only eventually: once every replica caught up.
    read_final_index(&world, &client_nodes).await;
    record_final_state(&world, &converged);
    record_logs(&world);
    consumer::record_feeds(&world, &feeds_caught_up);
    std::mem::take(&mut *world.history.lock().unwrap())
}

/// Records each replica's log as the `log-agreement` checker reads it: its commit index, and
/// the cumulative hash of its log (term and command of each entry) at each commit index of its
/// group that it has reached and not compacted (a compacted prefix is in its snapshot's hash,
/// where the chain goes on from).
fn record_logs(world: &World) {
    let placement = world.placement.lock().unwrap().clone();
    let time = world.now_ns();
    for (g, info) in placement.groups.iter().enumerate() {
        let group = g as u32;
        let logs: Vec<(usize, Log)> = info
            .replicas
            .iter()
            .filter_map(|&node| {
                Some((node, world.disks[node].lock().unwrap().get(&group)?.clone()))
            })
            .collect();
        let commits: BTreeSet<u64> = logs.iter().map(|(_, r)| r.commit()).collect();
        let name = world.topology.group_name(&placement, group);
        for (node, replica) in &logs {
            let mut prefix = serde_json::Map::new();
            // From the snapshot's hash on: a replica's compacted entries are in its snapshot.
            let (base, mut hash) = replica
                .snapshot()
                .map_or((0, 0), |(index, snap)| (index, snap.log_hash));
            if commits.contains(&base) && base > 0 {
                prefix.insert(base.to_string(), json!(format!("{hash:016x}")));
            }
            for index in replica.first_index()..=replica.commit() {
                let Some(entry) = replica.entry(index) else {
                    break;
                };
                hash = snapshot::chain(hash, entry);
                if commits.contains(&index) {
                    prefix.insert(index.to_string(), json!(format!("{hash:016x}")));
                }
            }
            let mut e = Event::new(
                Process::Named("final".into()),
                Kind::Info,
                "replica-log",
                time,
            );
            e.key = Some(name.clone());
            e.value = json!({
                "replica": world.topology.storage[*node].name,
                "commit": replica.commit(),
                "prefix": prefix,
            });
            world.record(e);
        }
    }
}

/// Creates the storage nodes, the routers, the client nodes and the change-feed components;
/// returns every node's id and region (storage nodes first, then routers, then clients, then
/// the components) and the client nodes.
fn create_nodes(
    world: &Arc<World>,
    handle: &Handle,
) -> (Vec<NodeId>, Vec<usize>, Vec<madsim::runtime::NodeHandle>) {
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
    for (c, (_, info)) in world.topology.feeds.iter().enumerate() {
        let w = world.clone();
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.ip)
            .init(move || consumer::feed_node(w.clone(), c))
            .build();
        ids.push(node.id());
        region_of.push(info.region);
    }
    for (c, info) in world.topology.coordinators.iter().enumerate() {
        let w = world.clone();
        let node = handle
            .create_node()
            .name(info.name.clone())
            .ip(info.ip)
            .init(move || coordinator::coordinator_node(w.clone(), c))
            .build();
        ids.push(node.id());
        region_of.push(info.region);
    }
    (ids, region_of, client_nodes)
}

/// Starts every workload's client processes on their client nodes.
fn start_clients(
    world: &Arc<World>,
    client_nodes: &[madsim::runtime::NodeHandle],
) -> Vec<madsim::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let mut process = 0u64;
    for (t, w) in world.scenario.workloads.iter().enumerate() {
        for _ in 0..w.processes {
            let region = client_region(world, t, process);
            let node = &client_nodes[region];
            let port = PORT + 1 + process as u16;
            tasks.push(node.spawn(client_process(world.clone(), t, process, port, region)));
            process += 1;
        }
    }
    tasks
}

/// The final readers: a strongly consistent read of every item, retried until answered,
/// from the client node of each table's home region, several readers per table.
async fn read_final_state(world: &Arc<World>, client_nodes: &[madsim::runtime::NodeHandle]) {
    let mut readers = Vec::new();
    for (t, table) in world.topology.tables.iter().enumerate() {
        for r in 0..FINAL_READERS {
            readers.push(client_nodes[table.region].spawn(final_reads(
                world.clone(),
                t,
                r,
                FinalReads::Items,
            )));
        }
    }
    for reader in readers {
        let _ = reader.await;
    }
}

/// The final reads of every table's index (eventually consistent, every value group), after
/// the replicas converged; nothing runs for tables without one.
async fn read_final_index(world: &Arc<World>, client_nodes: &[madsim::runtime::NodeHandle]) {
    let mut readers = Vec::new();
    for (t, table) in world.topology.tables.iter().enumerate() {
        let w = &world.scenario.workloads[t];
        if w.kind.final_index_reads(w).is_empty() {
            continue;
        }
        for r in 0..FINAL_READERS {
            readers.push(client_nodes[table.region].spawn(final_reads(
                world.clone(),
                t,
                r,
                FinalReads::Index,
            )));
        }
    }
    for reader in readers {
        let _ = reader.await;
    }
}

/// Records each table's progress after healing, each group's convergence and each replica's
/// state (what the convergence checker reads).
fn record_final_state(world: &World, converged: &BTreeMap<u32, bool>) {
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
    for (&group, &ok) in converged {
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

/// Which final reads a reader performs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FinalReads {
    /// Strongly consistent reads of every item, as soon as the clients stopped.
    Items,
    /// Every value group of the index, once the replicas converged.
    Index,
}

/// One final reader: its share of table `t`'s final reads of kind `which`, each retried until
/// answered.
async fn final_reads(world: Arc<World>, t: usize, r: usize, which: FinalReads) {
    let w = world.scenario.workloads[t].clone();
    let planned = match which {
        FinalReads::Items => w.kind.final_reads(&w),
        FinalReads::Index => w.kind.final_index_reads(&w),
    };
    let mine: Vec<Planned> = planned
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % FINAL_READERS == r)
        .map(|(_, planned)| planned)
        .collect();
    if mine.is_empty() {
        return;
    }
    let region = world.topology.tables[t].region;
    let offset = if which == FinalReads::Index {
        3000
    } else {
        1000
    };
    let port = PORT + offset + (t * FINAL_READERS + r) as u16;
    let addr = SocketAddr::new(world.topology.clients[region].ip, port);
    let endpoint = Arc::new(Endpoint::bind(addr).await.expect("bind"));
    let mut next_id = 1_000_000_000u64;
    let mut http: HttpConnection = None;
    let mut process = FINAL_PROCESS + (t * FINAL_READERS + r) as u64 * 1_000;
    if which == FinalReads::Index {
        process += 500;
    }
    for planned in mine {
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
    let media = (0..storage)
        .map(|n| disk_log::NodeDisk::new(sub_seed(options.seed, &format!("disk-{n}"))))
        .collect();
    Arc::new(World {
        scenario: scenario.clone(),
        plan,
        streams: Streams::new(options.seed),
        options,
        start: Instant::now(),
        history: Mutex::new(History::default()),
        skew: Mutex::new(vec![0; storage]),
        storms: Mutex::new(BTreeSet::new()),
        churning: Mutex::new(BTreeSet::new()),
        router_lag: Mutex::new(vec![Vec::new(); topology.routers.len()]),
        placement: Mutex::new(Placement::new(&topology)),
        nodes: Mutex::new(vec![None; storage]),
        disks: (0..storage).map(|_| Arc::default()).collect(),
        media,
        damaged: Mutex::new(BTreeSet::new()),
        down: Mutex::new(BTreeSet::new()),
        feeds: (0..topology.feeds.len())
            .map(|_| Mutex::new(consumer::ComponentState::new(&topology)))
            .collect(),
        torn: Mutex::new(BTreeMap::new()),
        stop_clients: AtomicBool::new(false),
        ops: Mutex::new(0),
        progress_after_heal: Mutex::new(BTreeMap::new()),
        healed: AtomicBool::new(false),
        ledger: Mutex::new(coordinator::Books::default()),
        topology,
    })
}
