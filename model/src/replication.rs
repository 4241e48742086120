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
//! Properties (each `always` has a `sometimes` showing its interesting state is reached):
//! - `no acknowledged write lost`: every leader of a term later than the acknowledgement holds
//!   the write at its index (Raft's leader completeness, what clients see as durability);
//! - `no two values committed at one index`: replicas agree on the entries both committed;
//! - `no replica assertion fails`: the replica's own invariants (its commit index never goes
//!   back, never past its log) hold on every step;
//! - `sometimes a write is acknowledged`, `sometimes a later leader after an acknowledgement`.
//!
//! The bounds (terms, values, crashes, messages in flight) keep the state space finite;
//! `ReplicationModel::small` is what the test suite and `dynasim model replication` check
//! exhaustively (1,576,431 states). A broken rule (`BrokenRule`) makes the checker find a
//! counterexample, printed as the actions that lead to it.

use dynasim_engine::replication::raft::{BrokenRule, Message, Replica, Role};
use stateright::{Model, Property};
use std::collections::BTreeSet;

/// The replicas' log entries carry a write's value.
type Log = Replica<u8, ()>;

/// A message in flight: (from, to, message).
type InFlight = (usize, usize, Message<u8, ()>);

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
    /// in flight.
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
}

impl ReplicationModel {
    fn replica(&self, id: usize) -> Log {
        let mut replica = Replica::new(id, self.replicas);
        if self.asynchronous {
            replica.persist_asynchronously();
        }
        if let Some(rule) = self.broken {
            replica.break_rule(rule);
        }
        replica
    }

    /// Sends a replica's outbox.
    fn send(state: &mut State, from: usize, out: Vec<(usize, Message<u8, ()>)>) {
        for (to, message) in out {
            state.network.insert((from, to, message));
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
}

impl Model for ReplicationModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
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
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        if state.assertion_failed {
            return;
        }
        for (id, replica) in state.replicas.iter().enumerate() {
            if replica.role() != Role::Leader && replica.term() < self.max_term {
                actions.push(Action::Campaign(id));
            }
            // A heartbeat only when nothing of the leader's is in flight (a retransmission).
            let sending = state.network.iter().any(|(from, _, _)| *from == id);
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
        properties()
    }
}

impl ReplicationModel {
    /// The state after `action`, or `None` when it does nothing.
    fn step(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Campaign(id) => {
                let out = state.replicas[id].campaign();
                Self::send(&mut state, id, out);
            }
            Action::Heartbeat(id) => {
                let out = state.replicas[id].heartbeat();
                Self::send(&mut state, id, out);
            }
            Action::Propose(id) => {
                let value = state.proposed;
                let (index, out) = state.replicas[id].propose(value)?;
                let term = state.replicas[id].term();
                state.proposed += 1;
                state.pending.insert((id, index, term, value));
                Self::send(&mut state, id, out);
            }
            Action::Persist(id) => {
                let replica = &mut state.replicas[id];
                let (_, last_index) = replica.to_persist()?;
                let term = replica.entry(last_index)?.term;
                let mut out = Vec::new();
                replica.persisted(last_index, term, &mut out);
                Self::send(&mut state, id, out);
            }
            Action::Deliver(message) => {
                state.network.remove(&message);
                let (from, to, message) = message;
                let out = state.replicas[to].handle(from, message);
                Self::send(&mut state, to, out);
            }
            Action::Duplicate((from, to, message)) => {
                state.duplicates += 1;
                let out = state.replicas[to].handle(from, message);
                Self::send(&mut state, to, out);
            }
            Action::Drop(message) => {
                state.network.remove(&message);
                state.losses += 1;
            }
            Action::Crash(id) => {
                state.replicas[id].crash();
                state.crashes += 1;
                // Its proposals awaiting acknowledgement have no client left to answer.
                state.pending.retain(|p| p.0 != id);
            }
        }
        Self::acknowledge(&mut state);
        Some(state)
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
