//! The change-feed components, each on a node of its own: the stream publisher (every
//! table's stream: one open shard per partition, the parent closed and two children opened
//! at a split, records numbered in publication order) and the index propagator (every
//! `index = true` workload's global secondary index, which answers the index queries). Each
//! pulls every partition's committed changes from the partition's leader (`deploy/feed.rs`)
//! every `feed_pull_ms`, so it lags behind the table; it makes its state durable every
//! `feed_checkpoint_ms` and, after a crash (the `feed-crash` fault), starts again from that
//! checkpoint and pulls again what it lost. The harness reads the streams at the end of a run
//! for the `stream` checker.

use super::feed::{FeedEntry, ItemChange, Pull, pull_group};
use super::sweeper;
use super::{Req, TAG, Wire, World, send};
use crate::history::{Event, Kind, Process};
use crate::options::Bug;
use crate::seeds::Component;
use crate::topology::{FeedComponent, Topology};
use crate::workloads;
use dynasim_engine::{Item, Value};
use madsim::net::Endpoint;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A component's state: what it consumed and built, live and as of its last checkpoint.
#[derive(Debug)]
pub struct ComponentState {
    pub live: Progress,
    pub durable: Progress,
    /// The TTL sweeper's deletes in flight (volatile).
    pub sweeps: sweeper::Sweeps,
}

/// What a component consumed (per group, the last log index) and what it built from it.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub cursors: BTreeMap<u32, u64>,
    /// Per group: the storage node and term whose answer was consumed last.
    sources: BTreeMap<u32, (usize, u64)>,
    pub stream: StreamLog,
    index: BTreeMap<(usize, String), Item>,
    /// The TTL sweeper's items with an expiry.
    pub due: sweeper::DueItems,
}

/// The streams the publisher built: every shard of every table, in creation order.
#[derive(Clone, Debug, Default)]
pub struct StreamLog {
    pub shards: Vec<Shard>,
    /// Per group, its open shard.
    open: BTreeMap<u32, usize>,
    next_sequence: u64,
    /// Per group, the records of the last batch published (what the broken variant
    /// `stream-duplicate-on-leader-change` publishes again).
    last: BTreeMap<u32, Vec<Record>>,
}

#[derive(Clone, Debug)]
pub struct Shard {
    pub table: usize,
    pub group: u32,
    pub parent: Option<usize>,
    pub records: Vec<Record>,
}

/// A stream record as the checker reads it: the item's key and value (its attribute `v`, as
/// the history names them) before and after.
#[derive(Clone, Debug)]
pub struct Record {
    pub sequence: u64,
    /// ApproximateCreationDateTime: the leader's clock when it executed the write (ms).
    pub created_ms: u64,
    pub key: String,
    pub old: Json,
    pub new: Json,
}

impl ComponentState {
    /// A component that has consumed nothing yet.
    pub fn new(topology: &Topology) -> ComponentState {
        ComponentState {
            live: Progress::initial(topology),
            durable: Progress::initial(topology),
            sweeps: sweeper::Sweeps::default(),
        }
    }
}

impl Progress {
    /// What a component starts from: every partition of the initial map at index 0, and for
    /// the publisher one open shard per partition.
    fn initial(topology: &Topology) -> Progress {
        let mut progress = Progress::default();
        for (g, info) in topology.groups.iter().enumerate() {
            let group = g as u32;
            progress.cursors.insert(group, 0);
            progress.stream.open_shard(info.table, group, None);
        }
        progress
    }
}

impl StreamLog {
    fn open_shard(&mut self, table: usize, group: u32, parent: Option<usize>) {
        self.shards.push(Shard {
            table,
            group,
            parent,
            records: Vec::new(),
        });
        self.open.insert(group, self.shards.len() - 1);
    }

    /// Appends a record of `change` to `group`'s open shard.
    fn publish(&mut self, group: u32, (created_ms, change): (u64, &ItemChange)) {
        let Some(&shard) = self.open.get(&group) else {
            return;
        };
        let image = change.after.as_ref().or(change.before.as_ref());
        let Some(key) = image.and_then(history_key) else {
            return;
        };
        self.next_sequence += 1;
        let record = Record {
            sequence: self.next_sequence,
            created_ms,
            key,
            old: change.before.as_ref().map_or(Json::Null, value_of),
            new: change.after.as_ref().map_or(Json::Null, value_of),
        };
        self.last.entry(group).or_default().push(record.clone());
        self.shards[shard].records.push(record);
    }

    /// Publishes the records of `group`'s last batch again, under new sequence numbers.
    fn republish_last(&mut self, group: u32) {
        let (Some(&shard), Some(last)) = (self.open.get(&group), self.last.get(&group)) else {
            return;
        };
        for record in last.clone() {
            self.next_sequence += 1;
            let sequence = self.next_sequence;
            self.shards[shard]
                .records
                .push(Record { sequence, ..record });
        }
    }

    /// `group` split: its shard closes; it and `new_group` continue in two children.
    fn split(&mut self, group: u32, new_group: u32) {
        let Some(&parent) = self.open.get(&group) else {
            return;
        };
        let table = self.shards[parent].table;
        self.open_shard(table, group, Some(parent));
        self.open_shard(table, new_group, Some(parent));
    }
}

/// The item's key as the history names it: `pk`, or `pk/sk` in a table with a sort key.
pub(super) fn history_key(item: &Item) -> Option<String> {
    let Some(Value::S(pk)) = item.get(workloads::PARTITION_KEY) else {
        return None;
    };
    Some(match item.get("sk") {
        Some(Value::N(sk)) => format!("{pk}/{}", sk.render()),
        _ => pk.clone(),
    })
}

/// The table (its position in the topology) and history key of the item a change changed.
pub(super) fn changed_item(world: &World, change: &ItemChange) -> Option<(usize, String)> {
    let tables = &world.topology.tables;
    let table = tables.iter().position(|t| t.name == change.table)?;
    let image = change.after.as_ref().or(change.before.as_ref());
    Some((table, image.and_then(history_key)?))
}

/// An item's value as the history names it: its attribute `v` (null without one).
fn value_of(item: &Item) -> Json {
    match item.get("v") {
        Some(Value::N(n)) => n.to_i64().map_or(Json::Null, Json::from),
        _ => Json::Null,
    }
}

/// The node of change-feed component `c`: restarts from its checkpoint, then pulls, applies
/// and checkpoints until the run ends.
pub(super) async fn feed_node(world: Arc<World>, c: usize) {
    let (component, info) = world.topology.feeds[c].clone();
    {
        let mut state = world.feeds[c].lock().unwrap();
        state.live = state.durable.clone();
        state.sweeps.restart();
    }
    let endpoint = Arc::new(Endpoint::bind(info.addr()).await.expect("bind"));
    // A receiver task owns `recv_from_raw`, which is not cancel-safe (see `storage_node`).
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
    let deployment = &world.scenario.deployment;
    let checkpoint_every = Duration::from_millis(deployment.feed_checkpoint_ms);
    let mut next_checkpoint = Instant::now() + checkpoint_every;
    let mut next_pull = Instant::now();
    loop {
        let wake = next_pull.min(next_checkpoint);
        tokio::select! {
            biased;
            received = inbox.recv() => {
                let Some(wire) = received else { break };
                if let Some((to, reply)) = handle(&world, c, component, *wire) {
                    send(&world, &endpoint, to, reply).await;
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                if now >= next_checkpoint {
                    let mut state = world.feeds[c].lock().unwrap();
                    state.durable = state.live.clone();
                    next_checkpoint = now + checkpoint_every;
                }
                if now >= next_pull {
                    pull_all(&world, c, &endpoint).await;
                    if component == FeedComponent::TtlSweeper {
                        sweeper::sweep(&world, c, &endpoint).await;
                    }
                    let [lo, hi] = deployment.feed_pull_ms;
                    let wait = world.streams.between(Component::FeedPulls, lo, hi);
                    next_pull = now + Duration::from_millis(wait);
                }
            }
        }
    }
}

/// Pulls every group the component consumes, from the index after its cursor.
async fn pull_all(world: &World, c: usize, endpoint: &Arc<Endpoint>) {
    let pulls: Vec<(u32, u64, u64)> = {
        let state = world.feeds[c].lock().unwrap();
        state
            .live
            .cursors
            .iter()
            .map(|(&g, &cursor)| {
                let durable = state.durable.cursors.get(&g).copied().unwrap_or(0);
                (g, cursor + 1, durable)
            })
            .collect()
    };
    let reply_to = endpoint.local_addr().expect("bound");
    for (group, from, durable) in pulls {
        let pull = Pull {
            group,
            component: c,
            from,
            durable,
            reply_to,
        };
        pull_group(world, endpoint, pull).await;
    }
}

/// A message to component `c`: a leader's answer to a pull, or (the propagator) an index
/// query, answered at once.
fn handle(
    world: &World,
    c: usize,
    component: FeedComponent,
    wire: Wire,
) -> Option<(SocketAddr, Wire)> {
    match wire {
        Wire::Pulled {
            group,
            from,
            upto,
            entries,
            source,
        } => {
            let mut state = world.feeds[c].lock().unwrap();
            let state = &mut *state;
            let batch = Batch {
                group,
                from,
                upto,
                entries,
                source,
            };
            consume(world, component, &mut state.live, batch);
            None
        }
        Wire::Reply { id, result, .. } if component == FeedComponent::TtlSweeper => {
            sweeper::on_reply(world, c, id, result);
            None
        }
        Wire::Exec { req } if component == FeedComponent::IndexPropagator => {
            let state = world.feeds[c].lock().unwrap();
            Some(answer_index_query(world, &state.live, &req))
        }
        _ => None,
    }
}

/// A leader's answer to a pull: the entries of `from..=upto` that changed something.
struct Batch {
    group: u32,
    from: u64,
    upto: u64,
    entries: Vec<(u64, Arc<FeedEntry>)>,
    source: (usize, u64),
}

/// Consumes a batch that continues where the component's cursor of the group is (an answer
/// to an earlier pull is dropped).
fn consume(world: &World, component: FeedComponent, live: &mut Progress, batch: Batch) {
    let group = batch.group;
    let Some(&cursor) = live.cursors.get(&group) else {
        return;
    };
    if batch.from != cursor + 1 || batch.upto < cursor {
        return;
    }
    let previous = live.sources.insert(group, batch.source);
    if world.bug(Bug::StreamDuplicateOnLeaderChange)
        && component == FeedComponent::StreamPublisher
        && previous.is_some_and(|p| p != batch.source)
    {
        // Broken: when a partition's answers come from a new leader, the publisher publishes
        // the records of the old leader's last batch again (as if they had not been
        // acknowledged).
        live.stream.republish_last(group);
    }
    let mut writes: Vec<(u64, &ItemChange)> = Vec::new();
    for (_, entry) in &batch.entries {
        match &**entry {
            FeedEntry::Write { now_ms, changes } => {
                writes.extend(changes.iter().map(|c| (*now_ms, c)));
            }
            FeedEntry::Split { new_group } => {
                apply(world, component, live, group, &mut writes);
                if component == FeedComponent::StreamPublisher {
                    live.stream.split(group, *new_group);
                }
                // The new group's log starts after its snapshot (index 1).
                live.cursors.entry(*new_group).or_insert(1);
            }
        }
    }
    apply(world, component, live, group, &mut writes);
    live.cursors.insert(group, batch.upto);
}

/// Applies (and empties) a run of item changes of `group`, in order.
fn apply(
    world: &World,
    component: FeedComponent,
    live: &mut Progress,
    group: u32,
    writes: &mut Vec<(u64, &ItemChange)>,
) {
    match component {
        FeedComponent::StreamPublisher => {
            if !writes.is_empty() {
                live.stream.last.insert(group, Vec::new());
            }
            if world.bug(Bug::StreamReordersRecords) {
                // Broken: a batch's records published newest first.
                writes.reverse();
            }
            for &change in writes.iter() {
                live.stream.publish(group, change);
            }
        }
        FeedComponent::IndexPropagator => {
            for (_, change) in writes.iter() {
                index_change(world, &mut live.index, change);
            }
        }
        FeedComponent::TtlSweeper => {
            for (_, change) in writes.iter() {
                sweeper::note(world, &mut live.due, change);
            }
        }
    }
    writes.clear();
}

/// Keeps the index entry of a changed item: under its new index key, or gone when the item
/// or its index key is.
fn index_change(world: &World, index: &mut BTreeMap<(usize, String), Item>, change: &ItemChange) {
    let Some((table, key)) = changed_item(world, change) else {
        return;
    };
    match &change.after {
        Some(after) if after.contains_key("g") => {
            index.insert((table, key), after.clone());
        }
        _ if world.bug(Bug::IndexKeepsRemovedKey) => {
            // Broken: an item whose index key was removed (or that was deleted) keeps its
            // entry under the old key.
        }
        _ => {
            index.remove(&(table, key));
        }
    }
}

/// An index query of one value group (its `:g`), answered from the propagator's index as a
/// Query response.
fn answer_index_query(world: &World, live: &Progress, req: &Req) -> (SocketAddr, Wire) {
    let wanted = match &req.request {
        dynasim_engine::Request::Query(q) => q
            .expression_attribute_values
            .as_ref()
            .and_then(|v| v.get(":g"))
            .and_then(|v| v.s.clone()),
        _ => None,
    };
    let items: Vec<Json> = live
        .index
        .range((req.table, String::new())..(req.table + 1, String::new()))
        .filter(
            |(_, item)| matches!((item.get("g"), &wanted), (Some(Value::S(g)), Some(w)) if g == w),
        )
        .map(|(_, item)| serde_json::to_value(item).expect("items serialize"))
        .collect();
    let node = world.topology.feeds[req_component(world)].1.name.clone();
    let reply = Wire::Reply {
        id: req.id,
        result: Ok(json!({"Items": items, "Count": items.len()})),
        node,
    };
    (req.client, reply)
}

fn req_component(world: &World) -> usize {
    world
        .topology
        .feed(FeedComponent::IndexPropagator)
        .expect("only the propagator answers index queries")
}

/// Whether every component consumed everything each group's leader applied.
pub(super) fn caught_up(world: &World) -> bool {
    (0..world.feeds.len()).all(|c| caught_up_one(world, c))
}

/// Whether component `c` consumed everything each group's leader applied.
pub(super) fn caught_up_one(world: &World, c: usize) -> bool {
    let placement = world.placement.lock().unwrap().clone();
    let nodes = world.nodes.lock().unwrap();
    {
        let state = world.feeds[c].lock().unwrap();
        placement
            .groups
            .iter()
            .enumerate()
            .filter(|(_, info)| info.created)
            .all(|(g, _)| {
                let group = g as u32;
                let Some(leader) = world.current_leader(group) else {
                    return false;
                };
                let applied = nodes[leader]
                    .as_ref()
                    .and_then(|s| s.lock().unwrap().groups.get(&group).map(|g| g.applied));
                state.live.cursors.get(&group).copied() >= applied
            })
    }
}

/// Records whether each component had caught up when the wait ended (`feed-caught-up`,
/// judged by the `convergence` checker) and the publisher's shards.
pub(super) fn record_feeds(world: &World, caught_up: &[bool]) {
    let time = world.now_ns();
    for (c, (_, info)) in world.topology.feeds.iter().enumerate() {
        let mut e = Event::new(
            Process::Named("final".into()),
            Kind::Info,
            "feed-caught-up",
            time,
        );
        e.key = Some(info.name.clone());
        e.value = json!(caught_up[c]);
        world.record(e);
    }
    if let Some(c) = world.topology.feed(FeedComponent::StreamPublisher) {
        record_streams(world, caught_up[c]);
    }
}

/// Records the publisher's shards, one `stream-shard` event each (what the `stream` checker
/// reads), and whether it had caught up.
fn record_streams(world: &World, caught_up: bool) {
    let Some(c) = world.topology.feed(FeedComponent::StreamPublisher) else {
        return;
    };
    let time = world.now_ns();
    let state = world.feeds[c].lock().unwrap();
    for (s, shard) in state.live.stream.shards.iter().enumerate() {
        let records: Vec<Json> = shard
            .records
            .iter()
            .map(|r| json!([r.sequence, r.key, r.old, r.new, r.created_ms]))
            .collect();
        let mut e = Event::new(
            Process::Named("final".into()),
            Kind::Info,
            "stream-shard",
            time,
        );
        e.key = Some(world.topology.tables[shard.table].name.clone());
        e.value = json!({
            "shard": s,
            "parent": shard.parent,
            "group": shard.group,
            "caught_up": caught_up,
            "records": records,
        });
        world.record(e);
    }
}
