//! `global-tables`: the engine's last-writer-wins replicas (`engine::global::lww`, with its
//! hybrid logical clock) explored exhaustively. Regions write and delete one item, each at its
//! own physical clock (which ticks, and may step backwards); every write goes to every other
//! region over a link of its own, and the regions' deliveries interleave in any order (each
//! link delivers its region's writes in order, as a region's stream is consumed). Regions
//! report what they applied to each other (at once: a report is the sender's frontier when it
//! is sent), and a region drops a tombstone when the engine's rule allows.
//!
//! - `quiescent implies all replicas equal`: once every write reached every region, the
//!   regions show the same item (the same value, or none);
//! - sometimes: a write reaches a region that holds a newer version and loses there (a write
//!   acknowledged in its region is overwritten by a concurrent one); a tombstone is dropped;
//!   a clock steps backwards and the region writes after it.
//!
//! A broken rule (`LwwBug`) makes the checker find a counterexample.

use dynasim_engine::global::lww::{Frontier, LwwBug, Region, Replica, Version};
use stateright::{Model, Property};
use std::collections::{BTreeMap, VecDeque};

/// The one item's key.
const KEY: u8 = 0;

/// The model's bounds and the broken rule its replicas run (none: the real code).
#[derive(Clone, Debug)]
pub struct GlobalTablesModel {
    /// Each region's physical clock at the start (equal clocks make equal timestamps).
    pub clocks: Vec<u64>,
    /// Writes (puts or deletes) each region makes.
    pub writes: Vec<u8>,
    /// The latest physical time a clock ticks to.
    pub max_time: u64,
    /// Clock steps backwards (by two) in a run.
    pub steps_back: u8,
    pub bug: LwwBug,
}

impl Default for GlobalTablesModel {
    /// What `dynasim model global-tables` checks: the small bounds with two writes in each
    /// region and clocks ticking to 3.
    fn default() -> Self {
        GlobalTablesModel {
            writes: vec![2, 2],
            max_time: 3,
            ..GlobalTablesModel::small()
        }
    }
}

impl GlobalTablesModel {
    /// The bounds the test suite checks: two regions whose clocks start equal, the first
    /// writing twice and the second once, clocks ticking to 2, one step backwards.
    pub fn small() -> Self {
        GlobalTablesModel {
            clocks: vec![1, 1],
            writes: vec![2, 1],
            max_time: 2,
            steps_back: 1,
            bug: LwwBug::None,
        }
    }

    fn regions(&self) -> Vec<Region> {
        (0..self.clocks.len() as Region).collect()
    }
}

/// A write on its way: its version and value (`None`: a delete).
type InFlight = (Version, Option<u8>);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    replicas: Vec<Replica<u8, u8>>,
    clocks: Vec<u64>,
    writes: Vec<u8>,
    steps_back: u8,
    /// `links[from][to]`: the writes of `from` not yet applied by `to`, in order.
    links: Vec<Vec<VecDeque<InFlight>>>,
    /// `reports[to]`: the frontier each other region last reported to `to`.
    reports: Vec<BTreeMap<Region, Frontier>>,
    lost_on_arrival: bool,
    dropped: bool,
    wrote_after_step: bool,
}

impl State {
    fn quiescent(&self) -> bool {
        self.links.iter().flatten().all(VecDeque::is_empty)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Put(usize),
    Delete(usize),
    Tick(usize),
    StepBack(usize),
    Deliver { from: usize, to: usize },
    Report { from: usize, to: usize },
    DropTombstones(usize),
}

impl Model for GlobalTablesModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let n = self.clocks.len();
        vec![State {
            replicas: (0..n as Region)
                .map(|r| Replica::new(r, self.bug))
                .collect(),
            clocks: self.clocks.clone(),
            writes: vec![0; n],
            steps_back: 0,
            links: vec![vec![VecDeque::new(); n]; n],
            reports: vec![BTreeMap::new(); n],
            lost_on_arrival: false,
            dropped: false,
            wrote_after_step: false,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        let n = self.clocks.len();
        for r in 0..n {
            if state.writes[r] < self.writes[r] {
                actions.push(Action::Put(r));
                actions.push(Action::Delete(r));
            }
            if state.clocks[r] < self.max_time {
                actions.push(Action::Tick(r));
            }
            if state.steps_back < self.steps_back && state.clocks[r] >= 2 {
                actions.push(Action::StepBack(r));
            }
            if self.droppable(state, r) {
                actions.push(Action::DropTombstones(r));
            }
            for to in (0..n).filter(|&to| to != r) {
                if !state.links[r][to].is_empty() {
                    actions.push(Action::Deliver { from: r, to });
                }
                // A report (delivered at once) may go at any time its frontier is news: one
                // sent before a tombstone arrived is what the drop rule must also be safe with.
                let frontier = state.replicas[r].frontier();
                if state.reports[to].get(&(r as Region)) != Some(frontier) {
                    actions.push(Action::Report { from: r, to });
                }
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Put(r) => {
                let value = (r as u8) * 10 + state.writes[r];
                self.write(&mut state, r, Some(value));
            }
            Action::Delete(r) => self.write(&mut state, r, None),
            Action::Tick(r) => state.clocks[r] += 1,
            Action::StepBack(r) => {
                state.clocks[r] -= 2;
                state.steps_back += 1;
            }
            Action::Deliver { from, to } => {
                let (version, value) = state.links[from][to].pop_front()?;
                if !state.replicas[to].apply(KEY, version, value) {
                    state.lost_on_arrival = true;
                }
            }
            Action::Report { from, to } => {
                let frontier = state.replicas[from].frontier().clone();
                state.reports[to].insert(from as Region, frontier);
            }
            Action::DropTombstones(r) => {
                let regions = self.regions();
                let reports = state.reports[r].clone();
                if state.replicas[r].drop_tombstones(&regions, &reports) > 0 {
                    state.dropped = true;
                }
            }
        }
        Some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(
                "quiescent implies all replicas equal",
                |_, state: &State| !state.quiescent() || replicas_equal(state),
            ),
            Property::sometimes(
                "a write is overwritten by a concurrent one (it loses on arrival)",
                |_, state: &State| state.lost_on_arrival,
            ),
            Property::sometimes("a tombstone is dropped", |_, state: &State| state.dropped),
            Property::sometimes(
                "a region writes after its clock stepped backwards",
                |_, state: &State| state.wrote_after_step,
            ),
        ]
    }
}

impl GlobalTablesModel {
    fn write(&self, state: &mut State, r: usize, value: Option<u8>) {
        state.writes[r] += 1;
        if state.steps_back > 0 {
            state.wrote_after_step = true;
        }
        let version = state.replicas[r].write(KEY, value, state.clocks[r]);
        for to in (0..self.clocks.len()).filter(|&to| to != r) {
            state.links[r][to].push_back((version, value));
        }
    }

    fn droppable(&self, state: &State, r: usize) -> bool {
        let mut replica = state.replicas[r].clone();
        replica.drop_tombstones(&self.regions(), &state.reports[r]) > 0
    }
}

fn replicas_equal(state: &State) -> bool {
    let first = state.replicas[0].get(&KEY);
    state.replicas.iter().all(|r| r.get(&KEY) == first)
}
