//! A partition's three replicas hosted in one process: the real replica state machines
//! ([`crate::replication::raft::Replica`]) with their messages delivered at once, and a
//! follower that applies a committed entry after the lag the caller drew for it.
//!
//! The engine keeps one copy of a partition's items, the leader's. A follower's view is that
//! copy minus the writes it has not applied yet, reconstructed from the unapplied log tail,
//! whose entries carry the item they replaced.

use crate::data::store::{Entry, ItemStore};
use crate::replication::raft::{Message, Replica};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Replicas per partition: one per availability zone.
pub const REPLICA_COUNT: usize = 3;

/// How often a leader with followers behind on commits sends a heartbeat (which tells them
/// what committed), in milliseconds; between heartbeats they learn it from the next append.
pub const HEARTBEAT_MS: u64 = 50;

/// One replicated write: the entry it replaced and the entry it wrote (`None` for a delete),
/// each holding the key and the item's encoding. At least one is present.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Write {
    pub before: Option<Entry>,
    pub after: Option<Entry>,
}

impl Write {
    pub fn key(&self) -> &[u8] {
        match (&self.after, &self.before) {
            (Some(e), _) | (None, Some(e)) => e.key(),
            (None, None) => &[],
        }
    }
}

type Payload = Arc<Write>;

/// A partition's replicas hosted in one process.
#[derive(Debug)]
pub struct ReplicaGroup {
    replicas: Vec<Replica<Payload>>,
    leader: usize,
    /// The last index each replica applied.
    applied: [u64; REPLICA_COUNT],
    /// Per replica: committed entries not applied yet, with the time each will be.
    pending: [VecDeque<(u64, u64)>; REPLICA_COUNT],
    queue: VecDeque<(usize, usize, Message<Payload>)>,
    /// Reused for each replica's outgoing messages.
    scratch: Vec<(usize, Message<Payload>)>,
    /// When the leader last sent a heartbeat.
    last_heartbeat_ms: Option<u64>,
}

impl ReplicaGroup {
    pub fn new(leader: usize) -> ReplicaGroup {
        ReplicaGroup {
            replicas: (0..REPLICA_COUNT)
                .map(|id| Replica::bootstrap(id, REPLICA_COUNT, leader))
                .collect(),
            leader,
            applied: [0; REPLICA_COUNT],
            pending: Default::default(),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            last_heartbeat_ms: None,
        }
    }

    pub fn leader(&self) -> usize {
        self.leader
    }

    pub fn replica(&self, zone: usize) -> &Replica<Payload> {
        &self.replicas[zone]
    }

    /// The last index `zone` has applied.
    pub fn applied(&self, zone: usize) -> u64 {
        self.applied[zone]
    }

    /// Entries the leader holds that some replica has not applied yet.
    pub fn unapplied_len(&self) -> u64 {
        let leader = &self.replicas[self.leader];
        leader.last_index() + 1 - leader.first_index()
    }

    fn pump(&mut self, from: usize, out: Vec<(usize, Message<Payload>)>) {
        self.queue
            .extend(out.into_iter().map(|(to, m)| (from, to, m)));
        self.deliver();
    }

    /// Delivers queued messages, and what they cause, until the group is quiet.
    fn deliver(&mut self) {
        let mut out = std::mem::take(&mut self.scratch);
        while let Some((from, to, message)) = self.queue.pop_front() {
            out.clear();
            self.replicas[to].handle_into(from, message, &mut out);
            self.queue
                .extend(out.drain(..).map(|(next, m)| (to, next, m)));
        }
        self.scratch = out;
    }

    /// Replicates one write through the leader: a majority persists it and it commits before
    /// this returns (the caller acknowledges it after). Follower `z` applies it `lags[z]`
    /// milliseconds after `now_ms`, and never before an earlier entry. Followers learn that an
    /// entry committed from the leader's next append (the next write, or a heartbeat when an
    /// entry falls due first), and apply only what they know is committed.
    pub fn write(&mut self, write: Write, now_ms: u64, lags: [u64; REPLICA_COUNT]) {
        if lags == [0; REPLICA_COUNT] && self.pending.iter().all(VecDeque::is_empty) {
            // Every replica has applied everything and would apply this at once: the round
            // would leave every replica's view where the leader's store already is, so it is
            // skipped (a default `serve`, with no replica lag, pays no replication).
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let index = self.replicas[self.leader]
            .propose_into(Arc::new(write), &mut out)
            .expect("the in-process group always has its leader");
        let leader = self.leader;
        self.queue
            .extend(out.drain(..).map(|(to, m)| (leader, to, m)));
        self.scratch = out;
        self.deliver();
        let commit = self.replicas[self.leader].commit();
        assert!(commit >= index, "a majority of an in-process group is up");
        self.applied[self.leader] = index;
        for (zone, &lag) in lags.iter().enumerate() {
            if zone == self.leader {
                continue;
            }
            let after = self.pending[zone].back().map_or(0, |&(_, at)| at);
            let at = now_ms.saturating_add(lag).max(after);
            self.pending[zone].push_back((index, at));
        }
        // This append told the followers that earlier entries committed.
        self.apply_due(now_ms, false);
    }

    /// Applies, on every follower, the entries whose time has come and which it knows
    /// committed; the leader heartbeats (at most every [`HEARTBEAT_MS`]) when a follower has
    /// due entries it has not heard committed.
    pub fn catch_up(&mut self, now_ms: u64) {
        let may_heartbeat = self
            .last_heartbeat_ms
            .is_none_or(|last| now_ms >= last.saturating_add(HEARTBEAT_MS));
        self.apply_due(now_ms, may_heartbeat);
    }

    /// When `catch_up` next has something to do: the earliest time a follower's pending entry
    /// is due, or, when the follower has not heard that the entry committed, the earliest time
    /// the leader may heartbeat to tell it. `None`: every follower is current.
    pub fn next_due_ms(&self) -> Option<u64> {
        let heartbeat_ms = self
            .last_heartbeat_ms
            .map_or(0, |last| last.saturating_add(HEARTBEAT_MS));
        (0..REPLICA_COUNT)
            .filter_map(|zone| {
                let &(index, at) = self.pending[zone].front()?;
                let known = self.replicas[zone].commit() >= index;
                Some(if known { at } else { at.max(heartbeat_ms) })
            })
            .min()
    }

    /// Applies everything due now, heartbeating if needed (a split's sync point).
    fn catch_up_now(&mut self, now_ms: u64) {
        self.apply_due(now_ms, true);
    }

    fn apply_due(&mut self, now_ms: u64, heartbeat: bool) {
        let mut changed = false;
        for zone in 0..REPLICA_COUNT {
            while let Some(&(index, at)) = self.pending[zone].front() {
                if at > now_ms {
                    break;
                }
                if self.replicas[zone].commit() < index {
                    if !heartbeat {
                        break;
                    }
                    // The follower has not heard that the entry committed yet: the leader's
                    // heartbeat tells it (and every other follower).
                    let out = self.replicas[self.leader].heartbeat();
                    self.pump(self.leader, out);
                    self.last_heartbeat_ms = Some(now_ms);
                }
                assert!(
                    index > self.applied[zone],
                    "a follower applies in log order"
                );
                assert!(
                    index <= self.replicas[zone].commit(),
                    "a follower applies only entries it knows committed"
                );
                self.applied[zone] = index;
                self.pending[zone].pop_front();
                changed = true;
            }
        }
        if changed {
            self.compact();
        }
    }

    /// Applies everything on every replica (before a split hands the items to new groups).
    pub fn sync(&mut self) {
        self.catch_up_now(u64::MAX);
    }

    fn compact(&mut self) {
        let upto = *self.applied.iter().min().expect("replicas");
        for replica in &mut self.replicas {
            replica.compact(upto, ());
        }
    }

    /// The encoding `zone` holds under `key`: the leader's, unless a write to the key that
    /// `zone` has not applied replaced it.
    pub fn read<'a>(&'a self, zone: usize, key: &[u8], store: &'a ItemStore) -> Option<&'a [u8]> {
        if let Some(write) = self.first_unapplied(zone, key) {
            return write.before.as_ref().map(Entry::item_bytes);
        }
        store.get(key)
    }

    fn first_unapplied(&self, zone: usize, key: &[u8]) -> Option<&Write> {
        let leader = &self.replicas[self.leader];
        ((self.applied[zone] + 1)..=leader.commit())
            .filter_map(|index| leader.entry(index)?.payload.as_deref())
            .find(|write| write.key() == key)
    }

    /// The unapplied writes of `zone`, first per key: what its view differs in.
    pub fn overlay(&self, zone: usize) -> BTreeMap<&[u8], Option<&Entry>> {
        let leader = &self.replicas[self.leader];
        let mut overlay = BTreeMap::new();
        for index in (self.applied[zone] + 1)..=leader.commit() {
            if let Some(write) = leader.entry(index).and_then(|e| e.payload.as_deref()) {
                overlay.entry(write.key()).or_insert(write.before.as_ref());
            }
        }
        overlay
    }
}
