//! `transactions`: the engine's own transaction state machines (`engine::txn`: the
//! coordinator, the participant rules, the ledger; the code `serve` runs in-process) explored
//! exhaustively. Coordinators with skewed clocks each run one TransactWriteItems that appends
//! its id to items on two partitions; a client's single-item writes interleave; messages are
//! delivered in any order and may be delivered twice; a coordinator may crash, and another
//! then finishes its transaction from the ledger.
//!
//! An item's value is the list of the writers that wrote it, in order, with each write's
//! timestamp: the history the properties read.
//! - `committed transactions are serializable`: the order of writers on every item is one
//!   order (the precedence graph over writers has no cycle, no writer twice on one item);
//! - `no partial commit`: a transaction the ledger says committed and finished is on every
//!   item it writes;
//! - `a cancelled transaction leaves no trace`: one the ledger cancelled is on no item, and
//!   once finished holds no item prepared;
//! - `each item's writes are in timestamp order` (the paper's timestamp ordering);
//! - sometimes: a transaction commits; one is cancelled; a single write meets a prepared item;
//!   another coordinator finishes a crashed coordinator's transaction; a prepare is refused
//!   because a newer write already stamped the item (clock skew).
//!
//! A broken participant rule (`ParticipantBug`) makes the checker find a counterexample.

use dynasim_engine::txn::{
    Applied, Coordinator, Decision, Ledger, Participant, ParticipantBug, Phase, Refusal, Send,
    Timestamp, TxId,
};
use stateright::{Model, Property};
use std::collections::{BTreeMap, BTreeSet};

/// An item: (partition, key).
type ItemRef = (usize, u8);

/// The model's bounds and the broken rule its participants run (none: the real code).
#[derive(Clone, Debug)]
pub struct TransactionsModel {
    /// Each coordinator's clock at the start (the skew between them), in ticks.
    pub clocks: Vec<u64>,
    /// Each coordinator's transaction: the items it appends to, in action order.
    pub transactions: Vec<Vec<ItemRef>>,
    /// Single-item writes the client makes (each to item `(0, 0)`, at the partition's clock).
    pub single_writes: u8,
    /// Coordinator crashes in a run.
    pub crashes: u8,
    /// Messages delivered twice in a run.
    pub duplicates: u8,
    /// Clock ticks per coordinator.
    pub ticks: u64,
    pub bug: ParticipantBug,
}

impl Default for TransactionsModel {
    /// What `dynasim model transactions` checks: the small bounds and one duplicated message.
    fn default() -> Self {
        TransactionsModel {
            duplicates: 1,
            ..TransactionsModel::small()
        }
    }
}

impl TransactionsModel {
    /// The bounds the test suite checks exhaustively: two coordinators, the second's clock 2
    /// ticks ahead, whose transactions both append to items on two partitions (in opposite
    /// action orders); one single-item write; one coordinator crash (another finishes its
    /// transaction from the ledger, sending its decision again: a duplicate of whatever
    /// reached the participants already). No duplicated message and no clock tick: each
    /// multiplies the states by ten or more (`docs/performance.md`).
    pub fn small() -> Self {
        TransactionsModel {
            clocks: vec![1, 3],
            transactions: vec![vec![(0, 0), (1, 0)], vec![(1, 0), (0, 0)]],
            single_writes: 1,
            crashes: 1,
            duplicates: 0,
            ticks: 0,
            bug: ParticipantBug::None,
        }
    }
}

/// A message in flight.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Message {
    /// To a partition: prepare action `i` of `tx` (on `item`) at `ts`.
    Prepare {
        tx: TxId,
        i: usize,
        item: ItemRef,
        ts: Timestamp,
    },
    Commit {
        tx: TxId,
        i: usize,
        item: ItemRef,
        ts: Timestamp,
    },
    Cancel {
        tx: TxId,
        i: usize,
        item: ItemRef,
        ts: Timestamp,
    },
    /// To coordinator node `to`: a partition's vote on action `i`.
    Vote {
        to: usize,
        tx: TxId,
        i: usize,
        accepted: bool,
    },
    /// To coordinator node `to`: a partition applied the decision on action `i`.
    Ack { to: usize, tx: TxId, i: usize },
}

/// A coordinator node: its clock, the transactions it runs (its own, or ones it recovered),
/// whether it is down.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub clock: u64,
    pub ticks: u64,
    pub started: bool,
    pub runs: BTreeMap<TxId, Coordinator>,
    pub down: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub nodes: Vec<Node>,
    pub partitions: Vec<Participant<u8>>,
    /// Each item's writers in order, with the write's timestamp (transaction ids from 1,
    /// single writes from 100).
    pub items: BTreeMap<ItemRef, Vec<(TxId, Timestamp)>>,
    pub ledger: Ledger,
    pub network: BTreeSet<Message>,
    pub single_writes: u8,
    pub crashes: u8,
    pub duplicates: u8,
    /// Observations for the `sometimes` properties.
    pub refused_single_write: bool,
    pub refused_stale: bool,
    pub recovered_finished: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Coordinator node `n` starts its transaction.
    Start(usize),
    /// Node `n`'s clock advances.
    Tick(usize),
    Deliver(Message),
    /// A message is delivered and stays in flight.
    Duplicate(Message),
    /// The client's next single-item write.
    SingleWrite,
    /// Node `n` crashes: its runs are lost; the ledger keeps what it recorded.
    Crash(usize),
    /// Node `n` takes over transaction `tx`, whose coordinator is down, from the ledger.
    Recover(usize, TxId),
}

/// Transaction `n`'s id (coordinator node `n - 1` runs it).
fn tx_of(node: usize) -> TxId {
    node as TxId + 1
}

impl TransactionsModel {
    fn items_of(&self, tx: TxId) -> &[ItemRef] {
        &self.transactions[(tx - 1) as usize]
    }

    /// Node `n` records a decision its run proposed and sends it.
    fn decide(&self, state: &mut State, n: usize, tx: TxId, proposed: Decision) {
        let recorded = state.ledger.decide(tx, proposed).unwrap_or(proposed);
        let Some(run) = state.nodes[n].runs.get_mut(&tx) else {
            return;
        };
        let ts = run.ts;
        for send in run.decided(recorded) {
            let message = match send {
                Send::Commit(i) => Message::Commit {
                    tx,
                    i,
                    item: self.items_of(tx)[i],
                    ts,
                },
                Send::Cancel(i) => Message::Cancel {
                    tx,
                    i,
                    item: self.items_of(tx)[i],
                    ts,
                },
                Send::Prepare(_) => continue,
            };
            state.network.insert(message);
        }
    }

    /// A partition handles a message; its answer goes back into the network.
    fn at_partition(&self, state: &mut State, message: &Message) {
        let coordinator = |tx: TxId, state: &State| {
            // The answer goes to whichever node runs the transaction now (its own, or the
            // node that recovered it); with none, to its own.
            (0..state.nodes.len())
                .find(|n| state.nodes[*n].runs.contains_key(&tx))
                .unwrap_or((tx - 1) as usize)
        };
        match *message {
            Message::Prepare { tx, i, item, ts } => {
                let vote = state.partitions[item.0].prepare(&item.1, tx, ts);
                state.refused_stale |= vote == Err(Refusal::Stale);
                let to = coordinator(tx, state);
                let accepted = vote.is_ok();
                state.network.insert(Message::Vote {
                    to,
                    tx,
                    i,
                    accepted,
                });
            }
            Message::Commit { tx, i, item, ts } => {
                if state.partitions[item.0].commit(&item.1, tx, ts) == Applied::Write {
                    state.items.entry(item).or_default().push((tx, ts));
                }
                let to = coordinator(tx, state);
                state.network.insert(Message::Ack { to, tx, i });
            }
            Message::Cancel { tx, i, item, ts } => {
                state.partitions[item.0].cancel(&item.1, tx, ts);
                let to = coordinator(tx, state);
                state.network.insert(Message::Ack { to, tx, i });
            }
            Message::Vote { .. } | Message::Ack { .. } => {}
        }
    }

    /// A coordinator node handles a vote or an acknowledgement.
    fn at_coordinator(&self, state: &mut State, message: &Message) {
        match *message {
            Message::Vote {
                to,
                tx,
                i,
                accepted,
            } => {
                let Some(run) = state.nodes[to].runs.get_mut(&tx) else {
                    return;
                };
                if let Some(proposed) = run.on_vote(i, accepted) {
                    self.decide(state, to, tx, proposed);
                }
            }
            Message::Ack { to, tx, i } => {
                let Some(run) = state.nodes[to].runs.get_mut(&tx) else {
                    return;
                };
                if run.on_ack(i) {
                    let recovered = to != (tx - 1) as usize;
                    state.nodes[to].runs.remove(&tx);
                    state.ledger.finish(tx);
                    state.recovered_finished |= recovered;
                }
            }
            _ => {}
        }
    }

    fn deliver(&self, state: &mut State, message: &Message) {
        match message {
            Message::Vote { to, .. } | Message::Ack { to, .. } => {
                if !state.nodes[*to].down {
                    self.at_coordinator(state, message);
                }
            }
            _ => self.at_partition(state, message),
        }
    }
}

impl Model for TransactionsModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let nodes = self
            .clocks
            .iter()
            .map(|&clock| Node {
                clock,
                ticks: 0,
                started: false,
                runs: BTreeMap::new(),
                down: false,
            })
            .collect();
        let partitions = self
            .transactions
            .iter()
            .flatten()
            .map(|item| item.0)
            .max()
            .map_or(0, |p| p + 1);
        vec![State {
            nodes,
            partitions: vec![Participant::with_bug(self.bug); partitions],
            items: BTreeMap::new(),
            ledger: Ledger::default(),
            network: BTreeSet::new(),
            single_writes: 0,
            crashes: 0,
            duplicates: 0,
            refused_single_write: false,
            refused_stale: false,
            recovered_finished: false,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        for (n, node) in state.nodes.iter().enumerate() {
            if node.down {
                continue;
            }
            if !node.started && n < self.transactions.len() {
                actions.push(Action::Start(n));
            }
            if node.ticks < self.ticks {
                actions.push(Action::Tick(n));
            }
            if state.crashes < self.crashes && !node.runs.is_empty() {
                actions.push(Action::Crash(n));
            }
            for (tx, _) in state.ledger.unfinished() {
                let owner = (tx - 1) as usize;
                let running = state.nodes.iter().any(|m| m.runs.contains_key(&tx));
                if owner != n && state.nodes[owner].down && !running {
                    actions.push(Action::Recover(n, tx));
                }
            }
        }
        if state.single_writes < self.single_writes {
            actions.push(Action::SingleWrite);
        }
        for message in &state.network {
            actions.push(Action::Deliver(message.clone()));
            if state.duplicates < self.duplicates {
                actions.push(Action::Duplicate(message.clone()));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Start(n) => self.start(&mut state, n),
            Action::Tick(n) => {
                state.nodes[n].clock += 1;
                state.nodes[n].ticks += 1;
            }
            Action::Deliver(message) => {
                state.network.remove(&message);
                self.deliver(&mut state, &message);
            }
            Action::Duplicate(message) => {
                state.duplicates += 1;
                self.deliver(&mut state, &message);
            }
            Action::SingleWrite => {
                // The partition's clock: the first coordinator's, before any tick.
                let id = 100 + TxId::from(state.single_writes);
                state.single_writes += 1;
                let now = Timestamp::new(self.clocks[0], 9, 0);
                match state.partitions[0].write(&0, now) {
                    Ok(ts) => state.items.entry((0, 0)).or_default().push((id, ts)),
                    Err(_) => state.refused_single_write = true,
                }
            }
            Action::Crash(n) => {
                state.nodes[n].runs.clear();
                state.nodes[n].down = true;
                state.crashes += 1;
            }
            Action::Recover(n, tx) => self.recover(&mut state, n, tx),
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties()
    }
}

impl TransactionsModel {
    fn start(&self, state: &mut State, n: usize) {
        let tx = tx_of(n);
        let items = self.items_of(tx);
        let node = &mut state.nodes[n];
        node.started = true;
        let ts = Timestamp::new(node.clock, n as u32, 0);
        let (run, sends) = Coordinator::start(tx, ts, items.len());
        node.runs.insert(tx, run);
        state.ledger.begin(tx, ts, items.len());
        for send in sends {
            if let Send::Prepare(i) = send {
                let item = items[i];
                state.network.insert(Message::Prepare { tx, i, item, ts });
            }
        }
    }

    fn recover(&self, state: &mut State, n: usize, tx: TxId) {
        let Some(record) = state.ledger.get(tx).copied() else {
            return;
        };
        let run = Coordinator::recover(tx, record.ts, record.actions, record.decision);
        let Phase::Deciding(proposed) = run.phase else {
            return;
        };
        state.nodes[n].runs.insert(tx, run);
        self.decide(state, n, tx, proposed);
    }
}

fn properties() -> Vec<Property<TransactionsModel>> {
    vec![
        Property::always(
            "committed transactions are serializable",
            |_, state: &State| serializable(state),
        ),
        Property::always("no partial commit", |model, state: &State| {
            no_partial_commit(model, state)
        }),
        Property::always(
            "a cancelled transaction leaves no trace",
            |_, state: &State| cancelled_leave_no_trace(state),
        ),
        Property::always(
            "each item's writes are in timestamp order",
            |_, state: &State| {
                state
                    .items
                    .values()
                    .all(|writes| writes.windows(2).all(|w| w[0].1 < w[1].1))
            },
        ),
        Property::sometimes("a transaction commits", |_, state: &State| {
            decided(state, Decision::Commit)
        }),
        Property::sometimes("a transaction is cancelled", |_, state: &State| {
            decided(state, Decision::Cancel)
        }),
        Property::sometimes(
            "a single write meets a prepared item",
            |_, state: &State| state.refused_single_write,
        ),
        Property::sometimes(
            "another coordinator finishes a crashed one's transaction",
            |_, state: &State| state.recovered_finished,
        ),
        Property::sometimes(
            "a prepare is refused as older than the item's stamp",
            |_, state: &State| state.refused_stale,
        ),
    ]
}

fn decided(state: &State, decision: Decision) -> bool {
    (1..=state.nodes.len() as TxId).any(|tx| {
        state
            .ledger
            .get(tx)
            .is_some_and(|r| r.decision == Some(decision))
    })
}

/// One order of writers explains every item: no writer twice on an item, and the
/// precedence graph (each writer before the next on some item) has no cycle.
pub fn serializable(state: &State) -> bool {
    let mut edges: BTreeSet<(TxId, TxId)> = BTreeSet::new();
    for writes in state.items.values() {
        let writers: BTreeSet<TxId> = writes.iter().map(|w| w.0).collect();
        if writers.len() != writes.len() {
            return false;
        }
        for pair in writes.windows(2) {
            edges.insert((pair[0].0, pair[1].0));
        }
    }
    acyclic(&edges)
}

fn acyclic(edges: &BTreeSet<(TxId, TxId)>) -> bool {
    let mut remaining = edges.clone();
    loop {
        let targets: BTreeSet<TxId> = remaining.iter().map(|e| e.1).collect();
        let sources: BTreeSet<TxId> = remaining
            .iter()
            .map(|e| e.0)
            .filter(|s| !targets.contains(s))
            .collect();
        if remaining.is_empty() {
            return true;
        }
        if sources.is_empty() {
            return false;
        }
        remaining.retain(|e| !sources.contains(&e.0));
    }
}

fn no_partial_commit(model: &TransactionsModel, state: &State) -> bool {
    (1..=model.transactions.len() as TxId).all(|tx| {
        let Some(record) = state.ledger.get(tx) else {
            return true;
        };
        !(record.finished && record.decision == Some(Decision::Commit))
            || model.items_of(tx).iter().all(|item| {
                state
                    .items
                    .get(item)
                    .is_some_and(|w| w.iter().any(|(id, _)| *id == tx))
            })
    })
}

fn cancelled_leave_no_trace(state: &State) -> bool {
    (1..=state.nodes.len() as TxId).all(|tx| {
        let Some(record) = state.ledger.get(tx) else {
            return true;
        };
        if record.decision != Some(Decision::Cancel) {
            return true;
        }
        let written = state.items.values().flatten().any(|(id, _)| *id == tx);
        let marked = record.finished
            && state
                .partitions
                .iter()
                .any(|p| (0..=u8::MAX).any(|k| p.mark(&k).is_some_and(|m| m.tx == tx)));
        !written && !marked
    })
}
