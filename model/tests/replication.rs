//! The replication model: the engine's Raft replica passes every property within the small
//! bounds (its state count pinned), and each broken rule is caught with a counterexample.

use dynasim_engine::replication::lease::BrokenLease;
use dynasim_engine::replication::raft::BrokenRule;
use dynasim_model::replication::ReplicationModel;
use dynasim_model::{check, find};

#[test]
fn the_real_replica_keeps_every_property_within_the_small_bounds() {
    let outcome = check(ReplicationModel::small(), 1);
    eprintln!("{outcome:?}");
    assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
    assert_eq!(
        outcome.unique_states, 1_576_431,
        "the small bounds' state count"
    );
}

#[test]
fn the_real_replica_and_lease_keep_every_property_within_the_lease_bounds() {
    let outcome = check(ReplicationModel::leases(), 1);
    eprintln!("{outcome:?}");
    assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
    assert_eq!(
        outcome.unique_states, 4_720_042,
        "the lease bounds' state count"
    );
}

/// A broken rule of the replica's, and the property whose counterexample shows it (the
/// search stops at the first).
fn caught(model: ReplicationModel, property: &'static str) {
    let rule = model.broken;
    let outcome = find(model, property);
    let found = outcome.failures.iter().find(|(name, _)| name == property);
    let (_, path) = found.unwrap_or_else(|| panic!("{rule:?} escaped: {outcome:?}"));
    eprintln!("{rule:?}: {property}, after:\n{path}");
    assert!(path.lines().count() > 3, "a readable trace: {path}");
}

#[test]
fn a_leader_that_commits_on_a_minority_loses_acknowledged_writes() {
    let model = ReplicationModel {
        broken: Some(BrokenRule::CommitOnMinority),
        ..ReplicationModel::small()
    };
    caught(model, "no acknowledged write lost");
}

#[test]
fn votes_without_the_log_check_break_the_replicas_own_invariants() {
    // A leader elected without the log check overwrites a committed entry: the follower's
    // commit index would pass its log, which the replica asserts against.
    let model = ReplicationModel {
        broken: Some(BrokenRule::VoteWithoutLogCheck),
        ..ReplicationModel::small()
    };
    caught(model, "no replica assertion fails");
}

#[test]
fn a_follower_keeping_a_conflicting_entry_commits_two_values_at_one_index() {
    let model = ReplicationModel {
        broken: Some(BrokenRule::KeepConflictingEntry),
        values: 2,
        ..ReplicationModel::small()
    };
    caught(model, "no two values committed at one index");
}

#[test]
fn an_append_acknowledged_before_it_is_durable_is_lost_in_a_crash() {
    let model = ReplicationModel {
        broken: Some(BrokenRule::AckBeforePersist),
        asynchronous: true,
        crashes: 1,
        ..ReplicationModel::small()
    };
    caught(model, "no acknowledged write lost");
}

#[test]
fn the_real_replica_and_lease_keep_every_property_within_the_lease_fault_bounds() {
    let outcome = check(ReplicationModel::lease_faults(), 1);
    eprintln!("{outcome:?}");
    assert!(outcome.failures.is_empty(), "{:#?}", outcome.failures);
    assert_eq!(
        outcome.unique_states, 2_097_903,
        "the lease fault bounds' state count"
    );
    assert_eq!(outcome.max_depth, 40, "the lease fault bounds' depth");
}

const STALE_READ: &str = "a leased strong read never returns a stale value";

/// A broken lease rule, caught within the lease fault bounds: the search stops at the first
/// stale leased read, and the trace ends with it.
fn stale_read(rule: BrokenLease) -> String {
    let model = ReplicationModel {
        broken_lease: Some(rule),
        ..ReplicationModel::lease_faults()
    };
    let outcome = find(model, STALE_READ);
    let found = outcome.failures.iter().find(|(name, _)| name == STALE_READ);
    let (_, path) = found.unwrap_or_else(|| panic!("{rule:?} escaped: {outcome:?}"));
    eprintln!(
        "{rule:?}: {STALE_READ}, after ({} states, {:.1} s):\n{path}",
        outcome.unique_states, outcome.seconds
    );
    let last = path.lines().last().unwrap_or_default();
    assert!(last.contains("StrongRead"), "ends with the read: {path}");
    path.clone()
}

#[test]
fn a_replica_that_votes_inside_the_lease_window_lets_a_leased_read_go_stale() {
    // A follower that just heard the leased leader campaigns, and the other (loyal since it
    // started) votes for it; the new leader acknowledges a write the old one, still leased,
    // does not return.
    let path = stale_read(BrokenLease::Disloyal);
    assert_eq!(path.lines().count(), 13, "the shortest trace: {path}");
}

#[test]
fn a_lease_renewed_on_send_outlives_the_followers_loyalty_and_goes_stale() {
    // The followers' loyalty ends; one is elected (the old leader never hears the
    // candidate) and acknowledges a write; the old leader sends a heartbeat nobody has heard
    // yet, which renews its lease, and answers a read without the write.
    let path = stale_read(BrokenLease::RenewedOnSend);
    assert_eq!(path.lines().count(), 18, "the shortest trace: {path}");
}
