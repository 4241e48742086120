//! A global table under the simulator (`[global_tables]` scenarios): one node per region,
//! each hosting its region's replica with the engine's own `global::regions::Regions` (what
//! `dynasim serve` runs), and one client node per region whose processes put, delete and read
//! the table's items in their region. Regions replicate by pulls over madsim's network
//! (`global::remote`: from the frontier on, with frontier reports), so region partitions,
//! one-way links and clocks that are skewed and step back (`skew`, ending in a backwards jump
//! when it was ahead) act on the real replication rules. Every local write's version is
//! recorded (`global-stamp`), and after healing each region's final state (`global-final`),
//! for the `global-tables` checker.

use crate::faults::{Fault, Plan};
use crate::history::{Event, History, Kind, Process};
use crate::options::RunOptions;
use crate::scenario::{GlobalTables, Scenario};
use crate::seeds::sub_seed;
use crate::topology::REGION_NAMES;
use dynasim_engine::global::regions::{Regions, Stamp};
use dynasim_engine::global::replication::{PullRequest, Shipped};
use dynasim_engine::{Config, Engine, Request, Response};
use madsim::net::{Endpoint, NetSim};
use madsim::runtime::Handle;
use madsim::task::NodeId;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const TAG: u64 = 7;
const PORT: u16 = 7000;
/// The simulated wall clock at the run's start (2026-01-01).
const EPOCH_MS: u64 = 1_767_225_600_000;
const TABLE: &str = "global";
/// How often a region node runs its timers.
const TICK_MS: u64 = 5;
/// Writes one pull answer carries at most.
const PULL_BATCH: usize = 64;

/// A client's request of its region.
#[derive(Clone, Debug)]
enum ClientOp {
    Put { key: String, value: i64 },
    Delete { key: String },
    Get { key: String, consistent: bool },
}

enum Msg {
    Request {
        id: u64,
        op: ClientOp,
    },
    Reply {
        id: u64,
        result: Result<Json, String>,
    },
    Pull(PullRequest),
    Shipped {
        from: String,
        writes: Vec<Shipped>,
    },
    /// MRSC: a region passes a client's write or strong read to the ordering region, which
    /// answers the client itself.
    Forward {
        id: u64,
        op: ClientOp,
        client: SocketAddr,
        origin: usize,
    },
    /// MRSC: a region has applied the ordering region's writes up to `upto`.
    Ack {
        upto: u64,
    },
}

/// MRSC: the region that orders every write and strong read (the first).
const ORDERING: usize = 0;

/// The ordering region's writes waiting for another region to apply them, and the items they
/// are modifying (a write to one from another region is a ReplicatedWriteConflictException).
#[derive(Default)]
struct Sequencer {
    /// Sequence → (client, request id, the write's answer).
    pending: BTreeMap<u64, (SocketAddr, u64, Json)>,
    /// Item → (the region whose write it is, its sequence).
    modifying: BTreeMap<String, (usize, u64)>,
}

/// What the nodes share: the history, each region's host, the clocks.
struct Shared {
    scenario: Scenario,
    global: GlobalTables,
    plan: Plan,
    options: RunOptions,
    regions: Vec<String>,
    hosts: Vec<Mutex<Regions>>,
    /// Stored key → the history's key name.
    keys: BTreeMap<Box<[u8]>, String>,
    events: Mutex<Vec<Event>>,
    skew: Mutex<Vec<i64>>,
    stop: AtomicBool,
    ops: AtomicU64,
    start: Instant,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Region `r`'s physical clock: the simulated wall clock plus its skew.
    fn clock(&self, r: usize) -> u64 {
        let skew = self.skew.lock().unwrap()[r];
        EPOCH_MS
            .saturating_add(self.elapsed_ms())
            .saturating_add_signed(skew)
    }

    fn record(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    /// Records the versions region `r` stamped since the last call.
    fn record_stamps(&self, r: usize, stamps: Vec<Stamp>) {
        for stamp in stamps {
            let mut event = Event::new(
                Process::Named("replication".into()),
                Kind::Info,
                "global-stamp",
                self.now_ns(),
            );
            event.key = self.keys.get(&stamp.key).cloned();
            let v = &stamp.version;
            let frontier: serde_json::Map<String, Json> = stamp
                .frontier
                .iter()
                .map(|(region, seq)| (region.to_string(), Json::from(*seq)))
                .collect();
            event.value = json!({
                "value": stamp.item.as_deref().map_or(Json::Null, value_of_stored),
                "version": [v.hlc.wall_ms, v.hlc.logical, v.region, v.seq],
                "frontier": frontier,
            });
            event.node = Some(self.regions[r].clone());
            self.record(event);
        }
    }
}

/// The `v` of an item in its stored encoding.
fn value_of_stored(bytes: &[u8]) -> Json {
    let item = dynasim_engine::types::item::decode(bytes);
    let json = serde_json::to_value(&item).expect("items serialize");
    value_of_item(&json)
}

fn value_of_item(item: &Json) -> Json {
    item["v"]["N"]
        .as_str()
        .and_then(|n| n.parse::<i64>().ok())
        .map_or(Json::Null, Json::from)
}

fn node_addr(r: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, r as u8 + 1, 0, 1)), PORT)
}

fn client_ip(r: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, r as u8 + 1, 0, 2))
}

fn between(rng: &mut ChaCha8Rng, [lo, hi]: [u64; 2]) -> u64 {
    lo + rng.next_u64() % (hi - lo + 1)
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
}

/// Region `r`'s host: its engine, the table, and the global table across every region.
fn host(r: usize, regions: &[String], options: &RunOptions) -> Regions {
    let config = Config {
        region: regions[r].clone(),
        ..Config::default()
    };
    let mut host = Regions::new(Engine::new(config));
    if let Some(bug) = options.bug {
        host.set_bug(bug.lww_bug());
    }
    host.record_stamps();
    let create = json!({
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    });
    let create = Request::CreateTable(serde_json::from_value(create).expect("a request"));
    host.execute(&regions[r], create, EPOCH_MS)
        .expect("the table is created");
    let ids: Vec<(&str, u32)> = regions
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), i as u32))
        .collect();
    host.join_remote(&regions[r], TABLE, &ids)
        .expect("the table exists");
    host
}

/// The engine request of a client's operation.
fn request_of(op: &ClientOp) -> Request {
    let key = |k: &str| json!({"pk": {"S": k}});
    fn body<T: serde::de::DeserializeOwned>(v: Json) -> T {
        serde_json::from_value(v).expect("a request")
    }
    match op {
        ClientOp::Put { key: k, value } => {
            let item = json!({"pk": {"S": k}, "v": {"N": value.to_string()}});
            Request::PutItem(body(json!({"TableName": TABLE, "Item": item})))
        }
        ClientOp::Delete { key: k } => {
            Request::DeleteItem(body(json!({"TableName": TABLE, "Key": key(k)})))
        }
        ClientOp::Get { key: k, consistent } => Request::GetItem(body(json!({
            "TableName": TABLE, "Key": key(k), "ConsistentRead": consistent,
        }))),
    }
}

/// What a client records of an answer: a read's value, or nothing.
fn answer_of(result: Result<Response, dynasim_engine::Error>) -> Result<Json, String> {
    match result {
        Ok(response) => {
            let json = serde_json::to_value(&response).expect("answers serialize");
            Ok(value_of_item(&json["Item"]))
        }
        Err(error) => Err(error.kind.name().to_string()),
    }
}

/// Sends `msg` to `to`, a cross-region message after the deployment's extra latency.
fn send(shared: &Shared, rng: &mut ChaCha8Rng, endpoint: &Arc<Endpoint>, to: SocketAddr, msg: Msg) {
    let delay = between(rng, shared.scenario.deployment.cross_region_latency_ms);
    let endpoint = endpoint.clone();
    madsim::task::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let _ = endpoint.send_to_raw(to, TAG, Box::new(msg)).await;
    });
}

/// A region's node: answers its clients, answers pulls, pulls every other region in turn.
async fn region_node(shared: Arc<Shared>, r: usize) {
    let endpoint = Arc::new(Endpoint::bind(node_addr(r)).await.expect("bind"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let receiver = endpoint.clone();
    // A receiver task owns `recv_from_raw`, which is not cancel-safe.
    madsim::task::spawn(async move {
        while let Ok((payload, from)) = receiver.recv_from_raw(TAG).await {
            if let Ok(msg) = payload.downcast::<Msg>() {
                let _ = tx.send((*msg, from));
            }
        }
    });
    let seed = sub_seed(shared.options.seed, &format!("global-region-{r}"));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let others: Vec<usize> = (0..shared.regions.len()).filter(|&o| o != r).collect();
    let mut next_pull: Vec<u64> = others.iter().map(|_| 0).collect();
    let mut ordering = Sequencer::default();
    loop {
        tokio::select! {
            biased;
            Some((msg, from)) = rx.recv() => {
                let mut node = Node {
                    shared: &shared,
                    r,
                    rng: &mut rng,
                    endpoint: &endpoint,
                    ordering: &mut ordering,
                };
                node.handle(msg, from);
            }
            _ = tokio::time::sleep(Duration::from_millis(TICK_MS)) => {}
        }
        let now = shared.clock(r);
        let stamps = {
            let mut host = shared.hosts[r].lock().unwrap();
            host.handle_timeout(now);
            host.take_stamps()
        };
        shared.record_stamps(r, stamps);
        for (i, &o) in others.iter().enumerate() {
            if next_pull[i] > shared.elapsed_ms() {
                continue;
            }
            next_pull[i] = shared.elapsed_ms() + between(&mut rng, shared.global.pull_ms);
            let host = shared.hosts[r].lock().unwrap();
            let pull = host.pull_request(&shared.regions[r], TABLE, &shared.regions[o]);
            drop(host);
            if let Some(pull) = pull {
                send(&shared, &mut rng, &endpoint, node_addr(o), Msg::Pull(pull));
            }
        }
    }
}

/// A region node's context while it handles one message.
struct Node<'a> {
    shared: &'a Shared,
    r: usize,
    rng: &'a mut ChaCha8Rng,
    endpoint: &'a Arc<Endpoint>,
    ordering: &'a mut Sequencer,
}

impl Node<'_> {
    fn region(&self) -> &str {
        &self.shared.regions[self.r]
    }

    /// Answers a client: at once in this region, after the cross-region latency elsewhere.
    fn reply(&mut self, to: SocketAddr, id: u64, result: Result<Json, String>) {
        let reply = Msg::Reply { id, result };
        if to.ip() == client_ip(self.r) {
            let endpoint = self.endpoint.clone();
            madsim::task::spawn(async move {
                let _ = endpoint.send_to_raw(to, TAG, Box::new(reply)).await;
            });
        } else {
            send(self.shared, self.rng, self.endpoint, to, reply);
        }
    }

    /// Executes a client's operation on this region's replica; its answer.
    fn execute(&mut self, op: &ClientOp) -> Result<Json, String> {
        let now = self.shared.clock(self.r);
        let (result, stamps) = {
            let mut host = self.shared.hosts[self.r].lock().unwrap();
            let result = host.execute(&self.shared.regions[self.r], request_of(op), now);
            (answer_of(result), host.take_stamps())
        };
        self.shared.record_stamps(self.r, stamps);
        result
    }

    fn handle(&mut self, msg: Msg, from: SocketAddr) {
        match msg {
            Msg::Request { id, op } => self.request(id, op, from),
            Msg::Forward {
                id,
                op,
                client,
                origin,
            } => self.order(id, op, client, origin),
            Msg::Pull(pull) => self.answer_pull(pull),
            Msg::Shipped { from, writes } => self.apply(&from, writes),
            Msg::Ack { upto } => self.acknowledged(upto),
            Msg::Reply { .. } => {}
        }
    }

    /// A client's request of this region: executed here, or (MRSC: a write or a strong read)
    /// passed to the ordering region.
    fn request(&mut self, id: u64, op: ClientOp, client: SocketAddr) {
        let broken = self.shared.options.bug == Some(crate::options::Bug::MrscLocalStrongRead);
        let local = match op {
            ClientOp::Get { consistent, .. } => !consistent || broken,
            _ => false,
        };
        if !self.shared.global.strong() || local {
            let result = self.execute(&op);
            self.reply(client, id, result);
        } else if self.r == ORDERING {
            self.order(id, op, client, self.r);
        } else {
            let forward = Msg::Forward {
                id,
                op,
                client,
                origin: self.r,
            };
            send(
                self.shared,
                self.rng,
                self.endpoint,
                node_addr(ORDERING),
                forward,
            );
        }
    }

    /// MRSC, in the ordering region: a strong read answered at once; a write refused while
    /// another region's write of the item is replicating, else executed and pushed to the
    /// other regions, and answered once one of them has applied it.
    fn order(&mut self, id: u64, op: ClientOp, client: SocketAddr, origin: usize) {
        let key = match &op {
            ClientOp::Get { .. } => {
                let result = self.execute(&op);
                return self.reply(client, id, result);
            }
            ClientOp::Put { key, .. } | ClientOp::Delete { key } => key.clone(),
        };
        if let Some(&(writer, _)) = self.ordering.modifying.get(&key)
            && writer != origin
        {
            let conflict = Err("ReplicatedWriteConflictException".to_string());
            return self.reply(client, id, conflict);
        }
        let region = self.region().to_string();
        let log_len = |node: &Node<'_>| {
            let host = node.shared.hosts[node.r].lock().unwrap();
            host.log_from(&region, TABLE, 0)
        };
        let before = log_len(self).len();
        let result = self.execute(&op);
        let log = log_len(self);
        let (Ok(answer), Some(written)) = (&result, log.get(before)) else {
            // Nothing changed (a delete of nothing, an error): nothing to replicate.
            return self.reply(client, id, result);
        };
        let seq = written.version.seq;
        self.ordering
            .pending
            .insert(seq, (client, id, answer.clone()));
        self.ordering.modifying.insert(key, (origin, seq));
        for other in (0..self.shared.regions.len()).filter(|&o| o != self.r) {
            let push = Msg::Shipped {
                from: region.clone(),
                writes: log[before..].to_vec(),
            };
            send(self.shared, self.rng, self.endpoint, node_addr(other), push);
        }
    }

    /// MRSC, in the ordering region: another region applied its writes up to `upto`.
    fn acknowledged(&mut self, upto: u64) {
        let later = self.ordering.pending.split_off(&(upto + 1));
        let done = std::mem::replace(&mut self.ordering.pending, later);
        self.ordering.modifying.retain(|_, (_, seq)| *seq > upto);
        for (_, (client, id, answer)) in done {
            self.reply(client, id, Ok(answer));
        }
    }

    fn answer_pull(&mut self, pull: PullRequest) {
        let writes = self.shared.hosts[self.r]
            .lock()
            .unwrap()
            .answer_pull(&pull, PULL_BATCH);
        let Some(asker) = self.shared.regions.iter().position(|n| *n == pull.to) else {
            return;
        };
        let answer = Msg::Shipped {
            from: self.region().to_string(),
            writes,
        };
        send(
            self.shared,
            self.rng,
            self.endpoint,
            node_addr(asker),
            answer,
        );
    }

    /// Applies another region's writes (pulled or pushed); under MRSC, tells the ordering
    /// region how far this one has applied its writes.
    fn apply(&mut self, from: &str, writes: Vec<Shipped>) {
        let now = self.shared.clock(self.r);
        let region = self.region().to_string();
        let applied = {
            let mut host = self.shared.hosts[self.r].lock().unwrap();
            host.apply_shipped(&region, TABLE, from, writes, now);
            host.applied_from(&region, TABLE, from)
        };
        if self.shared.global.strong() && from == self.shared.regions[ORDERING] {
            let ack = Msg::Ack { upto: applied };
            send(
                self.shared,
                self.rng,
                self.endpoint,
                node_addr(ORDERING),
                ack,
            );
        }
    }
}

/// The next operation of a client process.
fn draw_op(global: &GlobalTables, rng: &mut ChaCha8Rng, pid: u64, counter: u64) -> ClientOp {
    let key = format!("k{}", rng.next_u64() % global.keys as u64);
    if chance(rng, global.read_fraction) {
        let consistent = !chance(rng, global.eventual_fraction);
        ClientOp::Get { key, consistent }
    } else if chance(rng, global.delete_fraction) {
        ClientOp::Delete { key }
    } else {
        let value = (pid * 1_000_000 + counter) as i64;
        ClientOp::Put { key, value }
    }
}

fn invoke_event(shared: &Shared, pid: u64, r: usize, op: &ClientOp) -> Event {
    let (f, key, value, consistent) = match op {
        ClientOp::Put { key, value } => ("global-put", key, Json::from(*value), None),
        ClientOp::Delete { key } => ("global-delete", key, Json::Null, None),
        ClientOp::Get { key, consistent } => ("global-get", key, Json::Null, Some(*consistent)),
    };
    let mut event = Event::new(Process::Client(pid), Kind::Invoke, f, shared.now_ns());
    event.key = Some(key.clone());
    event.value = value;
    event.consistent = consistent;
    event.node = Some(shared.regions[r].clone());
    event
}

/// One client process of region `r`: operations until the run stops them.
async fn client(shared: Arc<Shared>, r: usize, p: usize, pid: u64) {
    let addr = SocketAddr::new(client_ip(r), PORT + 1 + p as u16);
    let endpoint = Arc::new(Endpoint::bind(addr).await.expect("bind"));
    let seed = sub_seed(shared.options.seed, &format!("global-client-{pid}"));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let timeout = Duration::from_millis(shared.scenario.op_timeout_ms);
    let max_ops = shared.options.max_ops.unwrap_or(u64::MAX);
    let mut counter = 0;
    while !shared.stop.load(Ordering::Relaxed)
        && shared.ops.fetch_add(1, Ordering::Relaxed) < max_ops
    {
        counter += 1;
        let op = draw_op(&shared.global, &mut rng, pid, counter);
        let invoke = invoke_event(&shared, pid, r, &op);
        let (f, key, input) = (invoke.f.clone(), invoke.key.clone(), invoke.value.clone());
        shared.record(invoke);
        let msg = Msg::Request { id: counter, op };
        let _ = endpoint.send_to_raw(node_addr(r), TAG, Box::new(msg)).await;
        let reply = await_reply(&endpoint, counter, Instant::now() + timeout).await;
        let (kind, value, error) = match reply {
            Some(Ok(read)) if f == "global-get" => (Kind::Ok, read, None),
            Some(Ok(_)) => (Kind::Ok, input, None),
            Some(Err(error)) => (Kind::Fail, Json::Null, Some(error)),
            None => (Kind::Info, Json::Null, Some("timeout".to_string())),
        };
        let mut done = Event::new(Process::Client(pid), kind, &f, shared.now_ns());
        done.key = key;
        done.value = value;
        done.error = error;
        done.node = Some(shared.regions[r].clone());
        shared.record(done);
        let think = between(&mut rng, shared.global.think_ms);
        tokio::time::sleep(Duration::from_millis(think)).await;
    }
}

async fn await_reply(
    endpoint: &Arc<Endpoint>,
    id: u64,
    deadline: Instant,
) -> Option<Result<Json, String>> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, endpoint.recv_from_raw(TAG)).await {
            Err(_) => return None,
            Ok(Err(_)) => continue,
            Ok(Ok((payload, _))) => {
                if let Ok(msg) = payload.downcast::<Msg>()
                    && let Msg::Reply { id: got, result } = *msg
                    && got == id
                {
                    return Some(result);
                }
            }
        }
    }
}

/// Starts (`on`) or ends a fault on the region nodes.
fn execute(shared: &Shared, net: &NetSim, ids: &[NodeId], fault: &Fault, on: bool) {
    let link = |a: usize, b: usize| {
        if on {
            net.clog_link(ids[a], ids[b]);
        } else {
            net.unclog_link(ids[a], ids[b]);
        }
    };
    match *fault {
        Fault::Partition { region } => {
            for other in (0..ids.len()).filter(|&o| o != region) {
                link(region, other);
                link(other, region);
            }
        }
        Fault::OneWay { from, to } => link(from, to),
        Fault::Skew { node, offset_ms } => {
            shared.skew.lock().unwrap()[node] = if on { offset_ms } else { 0 };
        }
        // Validation admits only the kinds above in a global-tables scenario.
        _ => {}
    }
}

/// Executes the plan's faults at their times, recording each in the history.
async fn nemesis(shared: Arc<Shared>, ids: Vec<NodeId>) {
    let net = NetSim::current();
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, f) in shared.plan.faults.iter().enumerate() {
        events.push((f.start_ms, true, i));
        events.push((f.end_ms, false, i));
    }
    events.sort();
    for (at, start, i) in events {
        let now = shared.elapsed_ms();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
        let fault = &shared.plan.faults[i].fault;
        let value = serde_json::to_value(fault).expect("faults serialize");
        let kind = if start { Kind::Invoke } else { Kind::Ok };
        let mut event = Event::new(
            Process::Named("nemesis".into()),
            kind,
            fault.name(),
            shared.now_ns(),
        );
        event.value = value;
        shared.record(event);
        execute(&shared, &net, &ids, fault, start);
    }
}

/// Each region's final state of every key, strongly consistent, recorded as `global-final`.
fn final_reads(shared: &Shared) {
    for (r, region) in shared.regions.iter().enumerate() {
        for k in 0..shared.global.keys {
            let key = format!("k{k}");
            let op = ClientOp::Get {
                key: key.clone(),
                consistent: true,
            };
            let now = shared.clock(r);
            let result = shared.hosts[r]
                .lock()
                .unwrap()
                .execute(region, request_of(&op), now);
            let mut event = Event::new(
                Process::Named("final".into()),
                Kind::Ok,
                "global-final",
                shared.now_ns(),
            );
            event.key = Some(key);
            event.value = answer_of(result).unwrap_or_else(|error| json!({ "error": error }));
            event.node = Some(region.clone());
            shared.record(event);
        }
    }
}

fn shared(scenario: &Scenario, plan: Plan, options: RunOptions) -> Arc<Shared> {
    let global = scenario.global.clone().expect("a global-tables scenario");
    let regions: Vec<String> = REGION_NAMES[..scenario.deployment.regions]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let hosts: Vec<Regions> = (0..regions.len())
        .map(|r| host(r, &regions, &options))
        .collect();
    let mut keys = BTreeMap::new();
    for k in 0..global.keys {
        let name = format!("k{k}");
        let probe = request_of(&ClientOp::Delete { key: name.clone() });
        let engine = hosts[0]
            .engine(&regions[0])
            .expect("the first region's engine");
        if let Some((_, stored)) = engine.write_key(&probe) {
            keys.insert(stored, name);
        }
    }
    let count = regions.len();
    Arc::new(Shared {
        scenario: scenario.clone(),
        global,
        plan,
        options,
        regions,
        hosts: hosts.into_iter().map(Mutex::new).collect(),
        keys,
        events: Mutex::new(Vec::new()),
        skew: Mutex::new(vec![0; count]),
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        start: Instant::now(),
    })
}

/// Runs a global-tables scenario: the history, and how many operations the clients began.
pub async fn run(scenario: &Scenario, plan: Plan, options: RunOptions) -> (History, u64) {
    let shared = shared(scenario, plan, options);
    let mut mode = Event::new(
        Process::Named("replication".into()),
        Kind::Info,
        "global-consistency",
        0,
    );
    mode.value = Json::from(shared.global.consistency.clone());
    shared.record(mode);
    let handle = Handle::current();
    let mut ids = Vec::new();
    for r in 0..shared.regions.len() {
        let name = format!("{}-replica", shared.regions[r]);
        let node = handle
            .create_node()
            .name(name)
            .ip(node_addr(r).ip())
            .build();
        ids.push(node.id());
        node.spawn(region_node(shared.clone(), r));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut clients = Vec::new();
    for r in 0..shared.regions.len() {
        let name = format!("{}-clients", shared.regions[r]);
        let node = handle.create_node().name(name).ip(client_ip(r)).build();
        for p in 0..shared.global.processes {
            let pid = (r * shared.global.processes + p) as u64;
            clients.push(node.spawn(client(shared.clone(), r, p, pid)));
        }
    }
    let nemesis_node = handle
        .create_node()
        .name("nemesis")
        .ip("10.250.0.1".parse().unwrap())
        .build();
    let nemesis_task = nemesis_node.spawn(nemesis(shared.clone(), ids.clone()));
    tokio::time::sleep(Duration::from_millis(scenario.duration_ms)).await;
    let _ = nemesis_task.await;
    heal(&shared, &ids);
    tokio::time::sleep(Duration::from_millis(scenario.liveness_ms)).await;
    shared.stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.await;
    }
    tokio::time::sleep(Duration::from_millis(scenario.converge_within_ms)).await;
    final_reads(&shared);
    let ops = shared.ops.load(Ordering::Relaxed);
    let events = std::mem::take(&mut *shared.events.lock().unwrap());
    (History { events }, ops)
}

/// Every link open and every clock back on time (the plan's faults have ended by now).
fn heal(shared: &Shared, ids: &[NodeId]) {
    let net = NetSim::current();
    for &a in ids {
        for &b in ids {
            if a != b {
                net.unclog_link(a, b);
            }
        }
    }
    shared.skew.lock().unwrap().fill(0);
    let event = Event::new(
        Process::Named("nemesis".into()),
        Kind::Info,
        "heal",
        shared.now_ns(),
    );
    shared.record(event);
}
