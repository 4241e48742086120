//! The global-tables model: the engine's last-writer-wins replicas converge within the small
//! bounds (the state count pinned), reach each interesting state, and each broken rule is
//! caught with a counterexample.

use dynasim_engine::global::lww::LwwBug;
use dynasim_model::global_tables::GlobalTablesModel;
use dynasim_model::{check, find};

const CONVERGE: &str = "quiescent implies all replicas equal";

#[test]
fn the_real_rules_converge_within_the_small_bounds() {
    let outcome = check(GlobalTablesModel::small(), 1);
    eprintln!("{outcome:?}");
    assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
    assert_eq!(
        outcome.unique_states, 230_368,
        "the small bounds' state count"
    );
}

fn caught(bug: LwwBug) {
    let model = GlobalTablesModel {
        bug,
        ..GlobalTablesModel::small()
    };
    let outcome = find(model, CONVERGE);
    let found = outcome.failures.iter().find(|(name, _)| name == CONVERGE);
    let (_, path) = found.unwrap_or_else(|| panic!("{bug:?} escaped: {outcome:?}"));
    eprintln!("{bug:?}: {CONVERGE}, after:\n{path}");
    assert!(path.lines().count() >= 3, "a readable trace: {path}");
}

#[test]
fn a_tie_broken_by_arrival_order_diverges() {
    caught(LwwBug::TieByArrival);
}

#[test]
fn an_older_version_applied_after_a_clock_step_backwards_diverges() {
    caught(LwwBug::PhysicalClock);
}

#[test]
fn a_tombstone_dropped_before_every_region_passed_it_diverges() {
    caught(LwwBug::EarlyTombstoneDrop);
}
