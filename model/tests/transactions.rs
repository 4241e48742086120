//! The transactions model: the engine's coordinator, participant rules and ledger keep every
//! property within the small bounds (the state count pinned), and each broken participant rule
//! is caught with a counterexample.

use dynasim_engine::txn::ParticipantBug;
use dynasim_model::check;
use dynasim_model::transactions::TransactionsModel;

#[test]
fn the_real_protocol_keeps_every_property_within_the_small_bounds() {
    let outcome = check(TransactionsModel::small(), 1);
    eprintln!("{outcome:?}");
    assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
    assert_eq!(
        outcome.unique_states, 433_743,
        "the small bounds' state count"
    );
}

fn caught(model: TransactionsModel, property: &str) {
    let bug = model.bug;
    let outcome = check(model, 1);
    let found = outcome.failures.iter().find(|(name, _)| name == property);
    let (_, path) = found.unwrap_or_else(|| panic!("{bug:?} escaped: {outcome:?}"));
    eprintln!("{bug:?}: {property}, after:\n{path}");
    assert!(path.lines().count() > 3, "a readable trace: {path}");
}

#[test]
fn a_commit_that_ignores_a_newer_prepare_breaks_serializability() {
    let model = TransactionsModel {
        bug: ParticipantBug::CommitIgnoresNewerPrepare,
        ..TransactionsModel::small()
    };
    caught(model, "committed transactions are serializable");
}

#[test]
fn a_prepare_that_ignores_the_stamp_breaks_timestamp_order() {
    let model = TransactionsModel {
        bug: ParticipantBug::PrepareIgnoresStamp,
        ..TransactionsModel::small()
    };
    caught(model, "each item's writes are in timestamp order");
}
