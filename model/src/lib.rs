//! stateright models built from the engine's own state machines (not separate toys): each
//! model drives the engine's code and checks properties over every interleaving within its
//! bounds. `dynasim model NAME` checks one (`MODELS` lists them); `--explore ADDR` serves
//! stateright's Explorer to browse its states.
//!
//! | model | explores | properties |
//! |---|---|---|
//! | `replication` | the engine's Raft replica: three replicas, a lossy, reordering, duplicating network, crashes keeping the persistent state, asynchronous persistence | no acknowledged write lost; no two values committed at one index |
//! | `replication-leases` | the same with the engine's leader leases (`Lease`) on a discrete clock, applied as the simulator's storage node applies them, and leased strong reads | the same; a leased strong read never returns a stale value |
//! | `transactions` | the engine's transaction coordinator, participant rules and ledger: two coordinators with skewed clocks, single-item writes interleaved, messages reordered and duplicated, a coordinator crash finished by another from the ledger | committed transactions serializable; no partial commit; a cancelled transaction leaves no trace; each item's writes in timestamp order |
//! | `global-tables` | the engine's last-writer-wins replicas (`global::lww`) and hybrid logical clocks: regions writing and deleting one item at their own physical clocks (ticking, stepping backwards), deliveries interleaved in any order, frontier reports and tombstone drops | quiescent implies all replicas equal |

pub mod global_tables;
pub mod replication;
pub mod transactions;

/// The checker the models run on, for hosts that name its traits.
pub use stateright;

use stateright::{Checker, HasDiscoveries, Model};
use std::time::Instant;

/// A model `dynasim model` can check: its name and what it is.
pub const MODELS: [(&str, &str); 4] = [
    (
        "replication",
        "the engine's Raft replica under loss, reordering, duplication and crashes",
    ),
    (
        "replication-leases",
        "the engine's Raft replica with its leader leases on a discrete clock, serving leased strong reads",
    ),
    (
        "transactions",
        "the engine's transaction coordinator, participants and ledger under skewed clocks, reordering, duplication and coordinator crashes",
    ),
    (
        "global-tables",
        "the engine's last-writer-wins replicas and hybrid logical clocks: regions writing and deleting one item, deliveries in any order, clocks stepping backwards, tombstones dropped",
    ),
];

/// What an exhaustive check found.
#[derive(Debug)]
pub struct Outcome {
    pub states: usize,
    pub unique_states: usize,
    pub max_depth: usize,
    pub seconds: f64,
    /// Each property with a counterexample (an `always`) or no example (a `sometimes`),
    /// with the path in words.
    pub failures: Vec<(String, String)>,
}

/// Checks `model` exhaustively (breadth first, on `threads` threads).
pub fn check<M>(model: M, threads: usize) -> Outcome
where
    M: Model + Send + Sync + 'static,
    M::State: Send + Sync + std::fmt::Debug + std::hash::Hash + Clone + PartialEq,
    M::Action: Send + Sync + std::fmt::Debug + Clone + PartialEq,
{
    run(model, threads, HasDiscoveries::All)
}

/// Checks `model` breadth first on one thread until `property` has a discovery (a
/// counterexample, for an `always`), or exhaustively if it has none. The checker stops at
/// the first block of states holding one, so the path is (about) the shortest and ends at the
/// violation (an exhaustive run reports the last violating state it visited, often a long
/// path past it). The other properties' outcomes are those of a partial run.
pub fn find<M>(model: M, property: &'static str) -> Outcome
where
    M: Model + Send + Sync + 'static,
    M::State: Send + Sync + std::fmt::Debug + std::hash::Hash + Clone + PartialEq,
    M::Action: Send + Sync + std::fmt::Debug + Clone + PartialEq,
{
    run(model, 1, HasDiscoveries::AnyOf([property].into()))
}

fn run<M>(model: M, threads: usize, until: HasDiscoveries) -> Outcome
where
    M: Model + Send + Sync + 'static,
    M::State: Send + Sync + std::fmt::Debug + std::hash::Hash + Clone + PartialEq,
    M::Action: Send + Sync + std::fmt::Debug + Clone + PartialEq,
{
    let started = Instant::now();
    let properties = model.properties();
    let checker = model
        .checker()
        .threads(threads)
        .finish_when(until)
        .spawn_bfs()
        .join();
    let mut failures = Vec::new();
    for property in properties {
        let found = checker.discovery(property.name);
        let failed = match property.expectation {
            stateright::Expectation::Sometimes => found.is_none(),
            _ => found.is_some(),
        };
        if failed {
            let path = found.map_or_else(
                || "no state within the bounds has it".to_string(),
                |path| {
                    path.into_actions()
                        .iter()
                        .enumerate()
                        .map(|(i, action)| format!("{:>3}. {action:?}", i + 1))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
            failures.push((property.name.to_string(), path));
        }
    }
    Outcome {
        states: checker.state_count(),
        unique_states: checker.unique_state_count(),
        max_depth: checker.max_depth(),
        seconds: started.elapsed().as_secs_f64(),
        failures,
    }
}

/// Serves stateright's Explorer for `model` on `address` (blocks).
pub fn explore<M>(model: M, address: &str)
where
    M: Model + Send + Sync + 'static,
    M::State: Send + Sync + std::fmt::Debug + std::hash::Hash + Clone + PartialEq,
    M::Action: Send + Sync + std::fmt::Debug + Clone + PartialEq,
{
    model.checker().serve(address);
    // The Explorer serves on its own threads until the process is stopped.
    loop {
        std::thread::park();
    }
}
