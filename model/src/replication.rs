//! `replication`: the engine's own Raft replica (`engine::replication::raft::Replica`, the
//! state machine the in-process groups and the simulator's storage nodes run) explored
//! exhaustively as a stateright model: three replicas, a network that loses, reorders and
//! duplicates messages (in flight as a set: a message can be delivered, delivered again, or
//! dropped, in any order), crashes that keep only the persistent state, and a host that makes
//! appended entries durable asynchronously (`persist_asynchronously`: an entry counts toward
//! a majority only once the host reported it durable). Clients propose up to `values` writes
//! to whichever replica leads; a write is acknowledged when its leader's commit index reaches
//! it with the entry still there.
//!
//! With a lease window (`ReplicationModel::leases`), each replica also runs the engine's
//! leader lease (`engine::replication::lease::Lease`) on a global discrete clock (`Tick`
//! advances it, up to `max_time`), applied where the simulator's storage node applies it
//! (`sim/src/deploy/storage.rs`): an Append carries its send time, and its reply echoes it; a
//! follower that accepts an Append of its term's leader has heard it (loyal for a window); a
//! leader counts its lease from the send stamps its peers acknowledged; a replica ignores a
//! RequestVote while `ignores_candidate` (loyal, or a leased leader); a replica campaigns
//! only outside its loyalty window (its election timer is never shorter than the window);
//! a crash restarts the lease (loyal for a window). Clients make strong reads: a replica whose
//! lease `serves_reads` answers from its applied state (the host applies what commits at
//! once), returning the values committed there.
//!
//! Properties (each `always` has a `sometimes` showing its interesting state is reached):
//! - `no acknowledged write lost`: every leader of a term later than the acknowledgement holds
//!   the write at its index (Raft's leader completeness, what clients see as durability);
//! - `no two values committed at one index`: replicas agree on the entries both committed;
//! - `no replica assertion fails`: the replica's own invariants (its commit index never goes
//!   back, never past its log) hold on every step;
//! - with leases, `a leased strong read never returns a stale value`: a read served under a
//!   lease returns every write acknowledged before it was served (in the model's order of
//!   steps: the acknowledgement was a step before the read's);
//! - `sometimes a write is acknowledged`, `sometimes a later leader after an acknowledgement`;
//!   with leases, `sometimes a leased strong read is served` and `sometimes a leased strong
//!   read after a leader change returns an earlier term's write`.
//!
//! The bounds (terms, values, crashes, messages in flight, time) keep the state space finite.
//! The test suite checks three exhaustively (release build, one thread): `small` (no leases,
//! 1,576,431 states, depth 42, about 14 s), `leases` (4,720,042 states, depth 50, about 55 s)
//! and `lease_faults` (a group bootstrapped as the simulator creates one, one tick, two lost
//! messages: 2,097,903 states, depth 40, about 25 s). `dynasim model replication` checks
//! `small`, `dynasim model replication-leases` checks `leases`. A broken rule (`BrokenRule`,
//! or a `BrokenLease` within `lease_faults`) makes the checker find a counterexample, printed
//! as the actions that lead to it (`dynasim_model::find` stops at the first, so it is about
//! the shortest and ends at the violation).
//!
//! The lease rules are the engine's (`Lease` decides loyalty, the lease and whether a read
//! may be served); what the model adds is the host's part, mirroring the simulator: stamping
//! Appends with the send time, echoing stamps in replies, ignoring candidates, gating
//! campaigns. Time is a global discrete clock, so clock-rate drift is outside the model.

use dynasim_engine::replication::lease::{BrokenLease, Lease};
use dynasim_engine::replication::raft::{BrokenRule, Message, Replica, Role};
use stateright::{Model, Property};
use std::collections::BTreeSet;

/// The replicas' log entries carry a write's value.
type Log = Replica<u8, ()>;

/// A message in flight: (from, to, message, stamp). With leases, an Append's stamp is the
/// leader's clock when it sent it, and an AppendReply's echoes the stamp of the Append it
/// answers (the simulator's `Wire::Raft` stamp); without, every stamp is `None`.
type InFlight = (usize, usize, Message<u8, ()>, Option<u64>);

/// The model's bounds, and the broken rule it runs with (none: the real code).
#[derive(Clone, Debug)]
pub struct ReplicationModel {
    pub replicas: usize,
    /// Highest term a replica may campaign for.
    pub max_term: u64,
    /// Writes the clients propose.
    pub values: u8,
    /// Crashes in a run.
    pub crashes: u8,
    /// Messages lost in a run.
    pub losses: u8,
    /// Messages delivered twice in a run.
    pub duplicates: u8,
    /// Messages in flight at most (a state with more is not explored further).
    pub in_flight: usize,
    /// The host makes entries durable asynchronously (`Persist` actions); otherwise on
    /// append.
    pub asynchronous: bool,
    pub broken: Option<BrokenRule>,
    /// Leader leases with this window, in ticks of the model's clock (`None`: no leases, no
    /// clock, no strong reads).
    pub lease_window: Option<u64>,
    /// The clock's last tick (with leases).
    pub max_time: u64,
    pub broken_lease: Option<BrokenLease>,
    /// The group starts as the simulator creates a partition's: replica 0 the ready leader of
    /// term 1, as if elected with every vote (`Replica::bootstrap`); otherwise every replica
    /// starts a follower of term 0.
    pub bootstrapped: bool,
}

impl Default for ReplicationModel {
    /// What `dynasim model replication` checks: the small bounds (with asynchronous
    /// persistence and a crash the state space outgrows 16 GB; the broken variant
    /// `AckBeforePersist` is found within them all the same, its counterexample being short).
    fn default() -> Self {
        ReplicationModel::small()
    }
}

impl ReplicationModel {
    /// The bounds the test suite checks exhaustively: three replicas, terms up to 2, one
    /// write, entries durable on append, no crash, loss or duplication, at most four messages
    /// in flight, no leases.
    pub fn small() -> Self {
        ReplicationModel {
            replicas: 3,
            max_term: 2,
            values: 1,
            crashes: 0,
            losses: 0,
            duplicates: 0,
            in_flight: 4,
            asynchronous: false,
            broken: None,
            lease_window: None,
            max_time: 0,
            broken_lease: None,
            bootstrapped: false,
        }
    }

    /// The lease bounds: the small bounds with leases of one tick's window (a lease and a
    /// follower's loyalty last the tick the Append was sent or heard in) and a clock of three
    /// ticks after the start, at most three messages in flight.
    pub fn leases() -> Self {
        ReplicationModel {
            in_flight: 3,
            lease_window: Some(1),
            max_time: 3,
            ..ReplicationModel::small()
        }
    }

    /// The bounds the broken lease variants are caught within, quickly: the lease bounds
    /// with the group started as the simulator starts a partition's (replica 0 the ready
    /// leader of term 1), a clock of one tick after the start and two lost messages (a leader
    /// cut off from its followers). The real code keeps every property within them
    /// (2,097,903 states).
    pub fn lease_faults() -> Self {
        ReplicationModel {
            bootstrapped: true,
            max_time: 1,
            losses: 2,
            ..ReplicationModel::leases()
        }
    }
}

/// One state of the group and its clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub replicas: Vec<Log>,
    pub network: BTreeSet<InFlight>,
    /// Writes proposed so far.
    pub proposed: u8,
    /// Proposals awaiting acknowledgement: (leader, index, term, value).
    pub pending: BTreeSet<(usize, u64, u64, u8)>,
    /// Acknowledged writes: (index, value, the acknowledging leader's term).
    pub acked: BTreeSet<(u64, u8, u64)>,
    pub crashes: u8,
    pub losses: u8,
    pub duplicates: u8,
    /// A replica's own assertion failed on the last step (a broken rule can break one).
    pub assertion_failed: bool,
    /// With leases: the clock, each replica's lease, and the stamp of the newest Append each
    /// heard from its leader (a held acknowledgement echoes it once durable).
    pub now: u64,
    pub leases: Vec<Lease>,
    pub heard_stamps: Vec<Option<u64>>,
    /// The leased strong reads served so far.
    pub reads: BTreeSet<LeasedRead>,
}

/// A strong read a leased replica served.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeasedRead {
    /// The term of the replica that served it.
    pub term: u64,
    /// The values committed in its applied state.
    pub returned: Vec<u8>,
    /// The writes acknowledged before the read that it did not return (a stale read).
    pub missed: Vec<u8>,
}

/// What can happen next.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A replica's election timer fires: it campaigns for the next term.
    Campaign(usize),
    /// A leader sends every peer what it lacks.
    Heartbeat(usize),
    /// A client proposes the next value to a leader.
    Propose(usize),
    /// The host reports a replica's appended entries durable.
    Persist(usize),
    /// A message is delivered (in any order).
    Deliver(InFlight),
    /// A message is delivered and stays in flight, to be delivered again.
    Duplicate(InFlight),
    /// A message is lost.
    Drop(InFlight),
    /// A replica crashes and restarts with what it made durable.
    Crash(usize),
    /// The clock advances one tick.
    Tick,
    /// A client's strong read, answered by a replica whose lease serves reads: the values it
    /// returns.
    StrongRead { replica: usize, returns: Vec<u8> },
}

impl ReplicationModel {
    fn replica(&self, id: usize) -> Log {
        let mut replica = if self.bootstrapped {
            Replica::bootstrap(id, self.replicas, 0)
        } else {
            Replica::new(id, self.replicas)
        };
        if self.asynchronous {
            replica.persist_asynchronously();
        }
        if let Some(rule) = self.broken {
            replica.break_rule(rule);
        }
        replica
    }

    /// A replica's lease state when it starts (or restarts) at `now`.
    fn lease(&self, window: u64, now: u64) -> Lease {
        let mut lease = Lease::new(self.replicas, window, now);
        if let Some(rule) = self.broken_lease {
            lease.break_rule(rule);
        }
        lease
    }

    /// Sends a replica's outbox, stamped as the simulator stamps it: an Append with the send
    /// time, an AppendReply with `echo` (the stamp of the Append it answers). A leader that
    /// sends an Append tells its lease (only `RenewedOnSend` counts a lease from that).
    fn send(
        &self,
        state: &mut State,
        from: usize,
        out: Vec<(usize, Message<u8, ()>)>,
        echo: Option<u64>,
    ) {
        let leased = self.lease_window.is_some();
        let replica = &state.replicas[from];
        if leased
            && replica.role() == Role::Leader
            && out.iter().any(|(_, m)| matches!(m, Message::Append { .. }))
        {
            state.leases[from].sent(replica.term(), state.now);
        }
        for (to, message) in out {
            let stamp = match message {
                Message::Append { .. } | Message::Snapshot { .. } if leased => Some(state.now),
                Message::AppendReply { .. } => echo,
                _ => None,
            };
            state.network.insert((from, to, message, stamp));
        }
    }

    /// Records the pending writes whose leader committed them (the entry still theirs).
    fn acknowledge(state: &mut State) {
        let done: Vec<(usize, u64, u64, u8)> = state
            .pending
            .iter()
            .filter(|(leader, index, term, _)| {
                let replica = &state.replicas[*leader];
                replica.commit() >= *index && replica.entry(*index).is_some_and(|e| e.term == *term)
            })
            .copied()
            .collect();
        for p in done {
            state.pending.remove(&p);
            let (leader, index, _, value) = p;
            state
                .acked
                .insert((index, value, state.replicas[leader].term()));
        }
    }

    /// Whether `id`'s lease lets it answer a strong read now (the host applied everything
    /// committed).
    fn serves_reads(&self, state: &State, id: usize) -> bool {
        let replica = &state.replicas[id];
        self.lease_window.is_some()
            && state.leases[id].serves_reads(replica, replica.commit(), state.now)
    }
}

/// The values committed at `replica` (its applied state), in index order.
fn committed_values(replica: &Log) -> Vec<u8> {
    (1..=replica.commit())
        .filter_map(|index| replica.entry(index).and_then(|e| e.payload))
        .collect()
}

impl Model for ReplicationModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let leases = match self.lease_window {
            Some(window) => (0..self.replicas).map(|_| self.lease(window, 0)).collect(),
            None => Vec::new(),
        };
        vec![State {
            replicas: (0..self.replicas).map(|id| self.replica(id)).collect(),
            network: BTreeSet::new(),
            proposed: 0,
            pending: BTreeSet::new(),
            acked: BTreeSet::new(),
            crashes: 0,
            losses: 0,
            duplicates: 0,
            assertion_failed: false,
            now: 0,
            leases,
            heard_stamps: vec![None; self.replicas],
            reads: BTreeSet::new(),
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        if state.assertion_failed {
            return;
        }
        for (id, replica) in state.replicas.iter().enumerate() {
            // With leases a replica campaigns only outside its loyalty window.
            let may_campaign =
                self.lease_window.is_none() || state.leases[id].may_campaign_early(state.now);
            if replica.role() != Role::Leader && replica.term() < self.max_term && may_campaign {
                actions.push(Action::Campaign(id));
            }
            // A heartbeat only when nothing of the leader's is in flight (a retransmission).
            let sending = state.network.iter().any(|(from, ..)| *from == id);
            if replica.role() == Role::Leader && !sending {
                actions.push(Action::Heartbeat(id));
            }
            if replica.role() == Role::Leader && state.proposed < self.values {
                actions.push(Action::Propose(id));
            }
            if replica.to_persist().is_some() {
                actions.push(Action::Persist(id));
            }
            if state.crashes < self.crashes {
                actions.push(Action::Crash(id));
            }
            if self.serves_reads(state, id) {
                let returns = committed_values(replica);
                actions.push(Action::StrongRead {
                    replica: id,
                    returns,
                });
            }
        }
        for message in &state.network {
            actions.push(Action::Deliver(message.clone()));
            if state.duplicates < self.duplicates {
                actions.push(Action::Duplicate(message.clone()));
            }
            if state.losses < self.losses {
                actions.push(Action::Drop(message.clone()));
            }
        }
        if self.lease_window.is_some() && state.now < self.max_time {
            actions.push(Action::Tick);
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        // A replica asserts its own invariants (commit never goes back, never past its log):
        // a step that trips one is a state of its own, which a property rejects.
        let step =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step(last, action)));
        match step {
            Ok(next) => next,
            Err(_) => Some(State {
                assertion_failed: true,
                ..last.clone()
            }),
        }
    }

    fn within_boundary(&self, state: &State) -> bool {
        state.network.len() <= self.in_flight
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut properties = properties();
        if self.lease_window.is_some() {
            properties.extend(lease_properties());
        }
        properties
    }
}

impl ReplicationModel {
    /// The state after `action`, or `None` when it does nothing.
    fn step(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Campaign(id) => {
                let out = state.replicas[id].campaign();
                self.send(&mut state, id, out, None);
            }
            Action::Heartbeat(id) => {
                let out = state.replicas[id].heartbeat();
                self.send(&mut state, id, out, None);
            }
            Action::Propose(id) => {
                let value = state.proposed;
                let (index, out) = state.replicas[id].propose(value)?;
                let term = state.replicas[id].term();
                state.proposed += 1;
                state.pending.insert((id, index, term, value));
                self.send(&mut state, id, out, None);
            }
            Action::Persist(id) => {
                let replica = &mut state.replicas[id];
                let (_, last_index) = replica.to_persist()?;
                let term = replica.entry(last_index)?.term;
                let mut out = Vec::new();
                replica.persisted(last_index, term, &mut out);
                // A held acknowledgement answers the newest Append heard from the leader.
                let echo = state.heard_stamps[id];
                self.send(&mut state, id, out, echo);
            }
            Action::Deliver(message) => {
                state.network.remove(&message);
                self.deliver(&mut state, message);
            }
            Action::Duplicate(message) => {
                state.duplicates += 1;
                self.deliver(&mut state, message);
            }
            Action::Drop(message) => {
                state.network.remove(&message);
                state.losses += 1;
            }
            Action::Crash(id) => self.crash(&mut state, id),
            Action::Tick => state.now += 1,
            Action::StrongRead { replica, returns } => Self::read(&mut state, replica, returns),
        }
        Self::acknowledge(&mut state);
        Some(state)
    }

    /// A message arrives, with the lease rules around the replica's handling of it as the
    /// simulator's `handle_raft` applies them.
    fn deliver(&self, state: &mut State, (from, to, message, stamp): InFlight) {
        let now = state.now;
        let leased = self.lease_window.is_some();
        let replica = &state.replicas[to];
        if leased
            && matches!(message, Message::RequestVote { .. })
            && state.leases[to].ignores_candidate(replica, replica.commit(), now)
        {
            // Loyal to the leader it heard, or a leased leader: the candidate is ignored (its
            // term included).
            return;
        }
        let from_leader = matches!(message, Message::Append { .. } | Message::Snapshot { .. });
        let acked = match message {
            Message::AppendReply {
                term,
                success: true,
                ..
            } => Some(term),
            _ => None,
        };
        let message_term = message.term();
        let replica = &mut state.replicas[to];
        let out = replica.handle(from, message);
        if leased {
            let lease = &mut state.leases[to];
            if from_leader && replica.role() == Role::Follower && message_term == replica.term() {
                lease.heard(now);
                state.heard_stamps[to] = stamp;
            }
            if let (Some(term), Some(stamp)) = (acked, stamp)
                && replica.role() == Role::Leader
                && term == replica.term()
            {
                lease.acknowledged(term, from, stamp, now);
            }
        }
        let echo = if from_leader { stamp } else { None };
        self.send(state, to, out, echo);
    }

    /// A replica crashes and restarts with what it made durable; its lease restarts (loyal for
    /// a window, as if it had just heard the leader).
    fn crash(&self, state: &mut State, id: usize) {
        state.replicas[id].crash();
        state.crashes += 1;
        // Its proposals awaiting acknowledgement have no client left to answer.
        state.pending.retain(|p| p.0 != id);
        if let Some(window) = self.lease_window {
            state.leases[id] = self.lease(window, state.now);
            state.heard_stamps[id] = None;
        }
    }

    /// A leased replica answers a strong read with `returned`: recorded with the writes
    /// acknowledged before it that it misses.
    fn read(state: &mut State, replica: usize, returned: Vec<u8>) {
        let missed = state
            .acked
            .iter()
            .map(|&(_, value, _)| value)
            .filter(|value| !returned.contains(value))
            .collect();
        let term = state.replicas[replica].term();
        state.reads.insert(LeasedRead {
            term,
            returned,
            missed,
        });
    }
}

/// The model's properties.
fn properties() -> Vec<Property<ReplicationModel>> {
    vec![
        Property::always("no acknowledged write lost", |_, state: &State| {
            no_acknowledged_write_lost(state)
        }),
        Property::always(
            "no two values committed at one index",
            |_, state: &State| committed_prefixes_agree(state),
        ),
        Property::always("no replica assertion fails", |_, state: &State| {
            !state.assertion_failed
        }),
        Property::sometimes("a write is acknowledged", |_, state: &State| {
            !state.acked.is_empty()
        }),
        Property::sometimes(
            "a later leader after an acknowledgement",
            |_, state: &State| {
                state.acked.iter().any(|&(_, _, term)| {
                    state
                        .replicas
                        .iter()
                        .any(|r| r.role() == Role::Leader && r.term() > term)
                })
            },
        ),
    ]
}

/// The properties of leased strong reads.
fn lease_properties() -> Vec<Property<ReplicationModel>> {
    vec![
        Property::always(
            "a leased strong read never returns a stale value",
            |_, state: &State| state.reads.iter().all(|read| read.missed.is_empty()),
        ),
        Property::sometimes("a leased strong read is served", |_, state: &State| {
            !state.reads.is_empty()
        }),
        Property::sometimes(
            "a leased strong read after a leader change returns an earlier term's write",
            |_, state: &State| read_after_leader_change(state),
        ),
    ]
}

/// A leased read returned a write acknowledged by the leader of an earlier term than the
/// reader's.
fn read_after_leader_change(state: &State) -> bool {
    state.reads.iter().any(|read| {
        state
            .acked
            .iter()
            .any(|&(_, value, term)| term < read.term && read.returned.contains(&value))
    })
}

/// Every leader of a term after a write's acknowledgement holds it at its index.
pub fn no_acknowledged_write_lost(state: &State) -> bool {
    state.acked.iter().all(|&(index, value, acked_term)| {
        state
            .replicas
            .iter()
            .filter(|r| r.role() == Role::Leader && r.term() > acked_term)
            .all(|r| r.entry(index).is_some_and(|e| e.payload == Some(value)))
    })
}

/// Any two replicas hold the same entries up to the smaller of their commit indexes.
pub fn committed_prefixes_agree(state: &State) -> bool {
    let replicas = &state.replicas;
    replicas.iter().enumerate().all(|(i, a)| {
        replicas[i + 1..].iter().all(|b| {
            let upto = a.commit().min(b.commit());
            (1..=upto).all(|index| a.entry(index) == b.entry(index))
        })
    })
}
