//! Each checker against a history holding the anomaly it exists to catch, and one it must pass.

use super::*;
use crate::history::{Event, History, Kind, Process};
use serde_json::json;

/// A history builder: `op(process, f, key, input, start, outcome, output, end)`.
#[derive(Default)]
struct B {
    events: Vec<(u64, Event)>,
}

impl B {
    #[allow(clippy::too_many_arguments)]
    fn op(
        mut self,
        process: u64,
        f: &str,
        key: &str,
        input: Json,
        consistent: bool,
        (start, end): (u64, u64),
        outcome: Kind,
        output: Json,
    ) -> B {
        let mut invoke = Event::new(Process::Client(process), Kind::Invoke, f, start);
        invoke.key = Some(key.into());
        invoke.value = input;
        invoke.consistent = Some(consistent);
        let mut done = Event::new(Process::Client(process), outcome, f, end);
        done.key = Some(key.into());
        done.value = output;
        if outcome == Kind::Fail {
            done.error = Some("ConditionalCheckFailedException".into());
        }
        self.events.push((start, invoke));
        self.events.push((end, done));
        self
    }
    fn write(self, p: u64, key: &str, v: i64, t: (u64, u64)) -> B {
        self.op(p, "write", key, json!(v), true, t, Kind::Ok, json!(v))
    }
    fn read(self, p: u64, key: &str, v: Json, consistent: bool, t: (u64, u64)) -> B {
        self.op(p, "read", key, Json::Null, consistent, t, Kind::Ok, v)
    }
    fn incr(self, p: u64, key: &str, out: i64, t: (u64, u64)) -> B {
        self.op(p, "incr", key, json!(1), true, t, Kind::Ok, json!(out))
    }
    fn final_event(mut self, f: &str, key: &str, value: Json, t: u64) -> B {
        let mut e = Event::new(Process::Named("final".into()), Kind::Info, f, t);
        e.key = Some(key.into());
        e.value = value;
        self.events.push((t, e));
        self
    }
    fn build(mut self) -> History {
        self.events.sort_by_key(|(t, _)| *t);
        History {
            events: self.events.into_iter().map(|(_, e)| e).collect(),
        }
    }
}

fn kinds(history: &History) -> Vec<&'static str> {
    check(history).anomalies.iter().map(|a| a.kind).collect()
}

#[test]
fn linearizable_register_passes() {
    let h = B::default()
        .write(1, "r/1", 1, (0, 10))
        .write(2, "r/1", 2, (5, 30))
        .read(3, "r/1", json!(1), true, (6, 12))
        .read(3, "r/1", json!(2), true, (40, 50))
        .build();
    assert_eq!(kinds(&h), Vec::<&str>::new());
}

#[test]
fn stale_strong_read_is_caught_and_explained() {
    let h = B::default()
        .write(1, "r/1", 1, (0, 10))
        .write(1, "r/1", 2, (20, 30))
        .read(2, "r/1", json!(1), true, (40, 50))
        .build();
    let report = check(&h);
    // The read is also the last one, so the write it missed counts as lost.
    assert_eq!(kinds(&h), vec!["nonlinearizable", "lost-write"]);
    let a = &report.anomalies[0];
    assert!(a.violation);
    assert!(
        a.explanation
            .contains("strongly consistent read returned 1 by process 2"),
        "{}",
        a.explanation
    );
}

#[test]
fn lost_acknowledged_write_is_caught() {
    let h = B::default()
        .write(1, "r/1", 1, (0, 10))
        .write(1, "r/1", 2, (20, 30))
        .read(2, "r/1", json!(1), true, (100, 110))
        .build();
    let k = kinds(&h);
    assert!(k.contains(&"lost-write"), "{k:?}");
    let ok = B::default()
        .write(1, "r/1", 1, (0, 10))
        .write(1, "r/1", 2, (20, 30))
        .read(2, "r/1", json!(2), true, (100, 110))
        .build();
    assert_eq!(kinds(&ok), Vec::<&str>::new());
}

#[test]
fn lost_increment_is_caught_by_counter_and_linearizability() {
    let h = B::default()
        .incr(1, "c/1", 1, (0, 30))
        .incr(2, "c/1", 1, (5, 35))
        .read(3, "c/1", json!(1), true, (50, 60))
        .build();
    let k = kinds(&h);
    assert!(k.contains(&"lost-update"), "{k:?}");
    assert!(k.contains(&"nonlinearizable"), "{k:?}");
    let ok = B::default()
        .incr(1, "c/1", 1, (0, 30))
        .incr(2, "c/1", 2, (5, 35))
        .op(
            2,
            "incr",
            "c/1",
            json!(1),
            true,
            (40, 45),
            Kind::Info,
            Json::Null,
        )
        .read(3, "c/1", json!(3), true, (50, 60))
        .build();
    assert_eq!(kinds(&ok), Vec::<&str>::new());
}

#[test]
fn unconditional_read_modify_write_loses_updates() {
    // Two clients read 0 and both write 1: each step is linearizable, the sum is not.
    let h = B::default()
        .read(1, "c/1", json!(0), true, (0, 5))
        .read(2, "c/1", json!(0), true, (1, 6))
        .incr(1, "c/1", 1, (10, 20))
        .op(
            2,
            "incr",
            "c/1",
            json!(1),
            true,
            (11, 21),
            Kind::Ok,
            Json::Null,
        )
        .read(3, "c/1", json!(1), true, (30, 40))
        .build();
    assert!(kinds(&h).contains(&"lost-update"));
}

#[test]
fn bank_total_is_checked() {
    let setup = json!({"a": 50, "b": 50});
    let bad = B::default()
        .op(
            0,
            "write",
            "bank/0",
            setup.clone(),
            true,
            (0, 1),
            Kind::Ok,
            setup.clone(),
        )
        .op(
            1,
            "read-bank",
            "bank/0",
            Json::Null,
            false,
            (5, 6),
            Kind::Ok,
            json!({"a": 40, "b": 50}),
        )
        .build();
    assert_eq!(kinds(&bad), vec!["bank-invariant"]);
    let good = B::default()
        .op(
            0,
            "write",
            "bank/0",
            setup.clone(),
            true,
            (0, 1),
            Kind::Ok,
            setup,
        )
        .op(
            1,
            "read-bank",
            "bank/0",
            Json::Null,
            false,
            (5, 6),
            Kind::Ok,
            json!({"a": 40, "b": 60}),
        )
        .build();
    assert_eq!(kinds(&good), Vec::<&str>::new());
}

/// A cancelled transfer's debit reason carries the account as the condition judged it: short
/// of the amount passes; an account that covers it (the wrong item, or a condition misjudged)
/// is caught.
#[test]
fn cancelled_debit_reports_an_account_short_of_the_amount() {
    let transfer = |balance: &str| {
        let input = json!({"from": "a", "to": "b", "amount": 30});
        let reasons = json!([
            {"Code": "ConditionalCheckFailed", "Item": {"pk": {"S": "x"}, "b": {"N": balance}}},
            {"Code": "None"}
        ]);
        let setup = json!({"a": 20, "b": 80});
        B::default()
            .op(
                0,
                "write",
                "bank/0",
                setup.clone(),
                true,
                (0, 1),
                Kind::Ok,
                setup,
            )
            .op(
                1,
                "transfer",
                "bank/0",
                input,
                true,
                (2, 5),
                Kind::Fail,
                reasons,
            )
            .build()
    };
    let short = transfer("20");
    assert_eq!(kinds(&short), Vec::<&str>::new());
    assert_eq!(check(&short).stats["bank_cancelled_debits_with_item"], 1);
    assert_eq!(kinds(&transfer("30")), vec!["cancellation-item"]);
}

#[test]
fn eventual_reads_may_be_stale_but_not_invented() {
    let stale = B::default()
        .write(1, "r/1", 1, (0, 10))
        .write(1, "r/1", 2, (20, 30))
        .read(2, "r/1", json!(1), false, (40, 50))
        .read(2, "r/1", json!(2), true, (60, 70))
        .build();
    let report = check(&stale);
    assert_eq!(kinds(&stale), vec!["stale-read"]);
    assert!(!report.anomalies[0].violation, "stale is an observation");
    assert_eq!(report.stats["stale_reads"], 1);

    let phantom = B::default()
        .write(1, "r/1", 1, (0, 10))
        .read(2, "r/1", json!(7), false, (40, 50))
        .build();
    assert_eq!(kinds(&phantom), vec!["phantom-read"]);

    let future = B::default()
        .read(2, "r/1", json!(1), false, (0, 5))
        .write(1, "r/1", 1, (10, 20))
        .build();
    assert_eq!(kinds(&future), vec!["future-read"]);

    let backwards = B::default()
        .write(1, "r/1", 1, (0, 10))
        .write(1, "r/1", 2, (20, 30))
        .read(2, "r/1", json!(2), false, (40, 50))
        .read(2, "r/1", json!(1), false, (60, 70))
        .build();
    let k = kinds(&backwards);
    assert!(k.contains(&"non-monotonic-read"), "{k:?}");
}

#[test]
fn consistent_scans_are_per_item_reads() {
    let h = B::default()
        .write(1, "t/1", 1, (0, 10))
        .write(1, "t/2", 5, (20, 30))
        .op(
            2,
            "scan",
            "t",
            Json::Null,
            true,
            (40, 50),
            Kind::Ok,
            json!({"t/1": 1}),
        )
        .build();
    // The scan missed t/2, acknowledged before it began.
    assert!(kinds(&h).contains(&"nonlinearizable"));
}

#[test]
fn consistent_queries_are_per_item_reads_of_their_collection() {
    let query = |b: B, output: Json, t: (u64, u64)| {
        b.op(3, "query", "q/1", Json::Null, true, t, Kind::Ok, output)
    };
    let writes = || {
        B::default()
            .write(1, "q/1/0", 1, (0, 10))
            .write(1, "q/1/1", 2, (20, 30))
            .write(2, "q/10/0", 9, (20, 30))
    };
    // Everything of collection q/1 seen; q/10 is another collection, not missed.
    let h = query(writes(), json!({"q/1/0": 1, "q/1/1": 2}), (40, 50)).build();
    assert!(!kinds(&h).contains(&"nonlinearizable"), "{:?}", kinds(&h));
    // The query missed q/1/1, acknowledged before it began.
    let h = query(writes(), json!({"q/1/0": 1}), (40, 50)).build();
    assert!(kinds(&h).contains(&"nonlinearizable"));
}

#[test]
fn divergent_and_unconverged_replicas_are_caught() {
    let h = B::default()
        .final_event(
            "replica-state",
            "g0",
            json!({"replica": "n1", "digest": "aa", "items": 3}),
            100,
        )
        .final_event(
            "replica-state",
            "g0",
            json!({"replica": "n2", "digest": "bb", "items": 2}),
            100,
        )
        .final_event("converged", "g1", json!(false), 100)
        .final_event("liveness", "register0", json!(0), 100)
        .build();
    let k = kinds(&h);
    assert_eq!(
        k,
        vec!["not-converged", "no-progress", "divergent-replicas"]
    );
    let ok = B::default()
        .final_event(
            "replica-state",
            "g0",
            json!({"replica": "n1", "digest": "aa"}),
            100,
        )
        .final_event(
            "replica-state",
            "g0",
            json!({"replica": "n2", "digest": "aa"}),
            100,
        )
        .final_event("converged", "g0", json!(true), 100)
        .final_event("liveness", "register0", json!(12), 100)
        .build();
    assert_eq!(kinds(&ok), Vec::<&str>::new());
}

fn violations(history: &History) -> Vec<&'static str> {
    check(history).violations().map(|a| a.kind).collect()
}

/// An index query of value group `group` (of 2) of table `q`.
fn index_query(b: B, group: u64, last: bool, output: Json, t: (u64, u64)) -> B {
    let mut input = json!({"group": group, "groups": 2});
    if last {
        input["final"] = json!(true);
    }
    let key = format!("q#{group}");
    b.op(
        4 + group,
        INDEX_QUERY,
        &key,
        input,
        false,
        t,
        Kind::Ok,
        output,
    )
}

/// Writes of q/1/0 (3, then 4) and q/1/1 (6), then the final strong query of q/1.
fn indexed_writes() -> B {
    B::default()
        .write(1, "q/1/0", 3, (0, 10))
        .write(1, "q/1/0", 4, (20, 30))
        .write(2, "q/1/1", 6, (20, 30))
        .op(
            3,
            "query",
            "q/1",
            Json::Null,
            true,
            (100, 110),
            Kind::Ok,
            json!({"q/1/0": 4, "q/1/1": 6}),
        )
        .final_event("converged", "g0", json!(true), 150)
}

#[test]
fn an_index_entry_under_another_value_group_is_caught() {
    // Stale is permitted: 3 was q/1/0's value, and it is in group 1.
    let h = index_query(indexed_writes(), 1, false, json!({"q/1/0": 3}), (12, 18)).build();
    assert_eq!(violations(&h), Vec::<&str>::new());
    // 4 is in group 0, returned under group 1.
    let h = index_query(indexed_writes(), 1, false, json!({"q/1/0": 4}), (40, 50)).build();
    assert_eq!(violations(&h), vec!["index-mismatch"]);
    // What an index query returned is an eventual read: a value never written is caught.
    let h = index_query(indexed_writes(), 1, false, json!({"q/1/0": 5}), (40, 50)).build();
    assert!(
        violations(&h).contains(&"phantom-read"),
        "{:?}",
        violations(&h)
    );
}

#[test]
fn a_final_index_that_differs_from_the_table_is_caught() {
    let finals = |b: B, g0: Json, g1: Json| {
        let b = index_query(b, 0, true, g0, (160, 170));
        index_query(b, 1, true, g1, (160, 170))
    };
    let h = finals(indexed_writes(), json!({"q/1/0": 4, "q/1/1": 6}), json!({})).build();
    assert_eq!(violations(&h), Vec::<&str>::new());
    // q/1/1 missing from the index.
    let h = finals(indexed_writes(), json!({"q/1/0": 4}), json!({})).build();
    assert_eq!(violations(&h), vec!["index-diverged"]);
    // q/1/0's old entry (3, group 1) left behind beside the new one.
    let h = finals(
        indexed_writes(),
        json!({"q/1/0": 4, "q/1/1": 6}),
        json!({"q/1/0": 3}),
    )
    .build();
    assert_eq!(violations(&h), vec!["index-diverged"]);
    let report = check(&h);
    let explanation = &report.violations().next().unwrap().explanation;
    assert!(explanation.contains("[4, 3]"), "{explanation}");
    // Not judged when a group did not converge (the convergence checker reports that), nor
    // when a value group's final query is missing.
    let h = finals(indexed_writes(), json!({"q/1/0": 4}), json!({}))
        .final_event("converged", "g1", json!(false), 150)
        .build();
    assert!(!violations(&h).contains(&"index-diverged"));
    let h = index_query(indexed_writes(), 0, true, json!({"q/1/0": 4}), (160, 170)).build();
    assert_eq!(violations(&h), Vec::<&str>::new());
}

/// The module's table names every registered checker and the promise it holds.
#[test]
fn every_checker_is_documented_with_its_promise() {
    let doc = include_str!("mod.rs");
    for checker in CHECKERS {
        let row = format!("| `{}` |", checker.name());
        let line = doc
            .lines()
            .find(|l| l.starts_with(&format!("//! {row}")))
            .unwrap_or_else(|| panic!("no row for {}", checker.name()));
        assert!(
            line.ends_with(&format!("| {} |", checker.promise())),
            "{line}"
        );
    }
}

#[test]
fn an_index_query_that_misses_a_settled_write_is_a_stale_index_read() {
    let kinds = |h: &History| -> Vec<&'static str> {
        check(h)
            .anomalies
            .iter()
            .map(|a| a.kind)
            .collect::<Vec<_>>()
    };
    // Both q/1/0 (4) and q/1/1 (6) are in group 0 once their writes ended at 30.
    let h = index_query(indexed_writes(), 0, false, json!({}), (40, 50)).build();
    assert!(kinds(&h).contains(&"stale-index-read"), "{:?}", kinds(&h));
    let report = check(&h);
    let stale = report
        .anomalies
        .iter()
        .find(|a| a.kind == "stale-index-read")
        .unwrap();
    assert!(!stale.violation);
    assert!(
        stale.explanation.contains("asynchronously"),
        "{}",
        stale.explanation
    );
    assert_eq!(report.stats["stale_index_reads"], 2);
    // Current: nothing to observe.
    let found = json!({"q/1/0": 4, "q/1/1": 6});
    let h = index_query(indexed_writes(), 0, false, found, (40, 50)).build();
    assert!(!kinds(&h).contains(&"stale-index-read"));
    // A query that began before the writes ended may miss them.
    let h = index_query(indexed_writes(), 0, false, json!({}), (25, 50)).build();
    assert!(!kinds(&h).contains(&"stale-index-read"));
}

#[test]
fn a_sparse_index_holds_only_items_with_an_index_key() {
    let sparse_query = |b: B, group: u64, output: Json, t: (u64, u64)| {
        let input = json!({"group": group, "groups": 2, "sparse": true, "final": true});
        let key = format!("q#{group}");
        b.op(
            4 + group,
            INDEX_QUERY,
            &key,
            input,
            false,
            t,
            Kind::Ok,
            output,
        )
    };
    // q/1/0's final value 4 is divisible by four: written without an index key.
    let b = sparse_query(indexed_writes(), 0, json!({"q/1/1": 6}), (160, 170));
    let h = sparse_query(b, 1, json!({}), (160, 170)).build();
    assert_eq!(violations(&h), Vec::<&str>::new());
    // Its old entry (3, group 1) kept after the index key was removed.
    let b = sparse_query(indexed_writes(), 0, json!({"q/1/1": 6}), (160, 170));
    let h = sparse_query(b, 1, json!({"q/1/0": 3}), (160, 170)).build();
    assert_eq!(violations(&h), vec!["index-diverged"]);
    let report = check(&h);
    let explanation = &report.violations().next().unwrap().explanation;
    assert!(
        explanation.contains("without an index key"),
        "{explanation}"
    );
}

/// A `stream-shard` event of table `r`: shard `n`, its parent, and its records.
fn shard(b: B, n: u64, parent: Option<u64>, records: Json) -> B {
    let value =
        json!({"shard": n, "parent": parent, "group": n, "caught_up": true, "records": records});
    b.final_event("stream-shard", "r", value, 200)
}

/// A stream record of r/0: sequence, old value, new value.
type Rec = (u64, Json, Json);

/// Writes of r/0 (1, then 2, then 3), read finally as 3.
fn streamed_writes() -> B {
    B::default()
        .write(1, "r/0", 1, (0, 10))
        .write(1, "r/0", 2, (20, 30))
        .write(1, "r/0", 3, (40, 50))
        .read(2, "r/0", json!(3), true, (100, 110))
}

#[test]
fn a_stream_must_chain_each_items_changes_once_in_order() {
    let records =
        |rs: &[Rec]| Json::Array(rs.iter().map(|(s, o, n)| json!([s, "r/0", o, n])).collect());
    let n = Json::Null;
    // Across a split: the parent's records first, then the child's (listed first here).
    let b = shard(
        streamed_writes(),
        1,
        Some(0),
        records(&[(3, json!(2), json!(3))]),
    );
    let b = shard(
        b,
        0,
        None,
        records(&[(1, n.clone(), json!(1)), (2, json!(1), json!(2))]),
    );
    assert_eq!(violations(&b.build()), Vec::<&str>::new());
    let cases: [(&[Rec], &str); 4] = [
        // The change 1 -> 2 published twice.
        (
            &[
                (1, n.clone(), json!(1)),
                (2, json!(1), json!(2)),
                (3, json!(1), json!(2)),
                (4, json!(2), json!(3)),
            ],
            "stream-duplicate",
        ),
        // 2 -> 3 published before 1 -> 2.
        (
            &[
                (1, n.clone(), json!(1)),
                (2, json!(2), json!(3)),
                (3, json!(1), json!(2)),
            ],
            "stream-out-of-order",
        ),
        // 1 -> 2 never published: a gap, and the acknowledged write of 2 is missing.
        (
            &[(1, n.clone(), json!(1)), (2, json!(2), json!(3))],
            "stream-gap",
        ),
        // The last change missing: the replay ends at 2.
        (
            &[(1, n.clone(), json!(1)), (2, json!(1), json!(2))],
            "stream-replay-diverged",
        ),
    ];
    for (rs, kind) in cases {
        let h = shard(streamed_writes(), 0, None, records(rs)).build();
        let found = violations(&h);
        assert!(found.contains(&kind), "{kind}: {found:?}");
    }
    let h = shard(
        streamed_writes(),
        0,
        None,
        records(&[(1, n.clone(), json!(1)), (2, json!(2), json!(3))]),
    )
    .build();
    assert!(violations(&h).contains(&"stream-incomplete"));
    // A publisher that had not caught up is not judged.
    let value = json!({"shard": 0, "parent": null, "group": 0, "caught_up": false, "records": []});
    let h = streamed_writes()
        .final_event("stream-shard", "r", value, 200)
        .build();
    assert_eq!(violations(&h), Vec::<&str>::new());
    assert_eq!(check(&h).stats["stream_unchecked"], 1);
}

/// A `put-ttl` of `v` expiring at `exp` on t/0.
fn put_ttl(b: B, v: i64, exp: i64, t: (u64, u64)) -> B {
    let input = json!({"v": v, "exp": exp});
    b.op(1, "put-ttl", "t/0", input.clone(), true, t, Kind::Ok, input)
}

/// The sweeper's delete of t/0 at epoch second `now` (its own process `p`).
fn ttl_delete(b: B, p: u64, now: i64, t: (u64, u64), outcome: Kind) -> B {
    let input = json!({"exp": 100, "now": now});
    b.op(p, "ttl-delete", "t/0", input, true, t, outcome, Json::Null)
}

#[test]
fn ttl_deletes_only_expired_items() {
    let final_absent = |b: B| b.read(2, "t/0", Json::Null, true, (500, 510));
    // Expired at 100, deleted at 101: fine.
    let h = final_absent(ttl_delete(
        put_ttl(B::default(), 1, 100, (0, 10)),
        9,
        101,
        (20, 30),
        Kind::Ok,
    ))
    .build();
    assert_eq!(violations(&h), Vec::<&str>::new());
    assert_eq!(check(&h).stats["ttl_deletes"], 1);
    // Extended to 5000 by a write acknowledged before the delete began: deleted anyway.
    let b = put_ttl(put_ttl(B::default(), 1, 100, (0, 10)), 2, 5000, (12, 15));
    let h = final_absent(ttl_delete(b, 9, 101, (20, 30), Kind::Ok)).build();
    assert_eq!(violations(&h), vec!["ttl-deleted-unexpired"]);
    let report = check(&h);
    assert!(
        report
            .violations()
            .next()
            .unwrap()
            .explanation
            .contains("re-check")
    );
    // The extending write concurrent with the delete: either order is possible.
    let b = put_ttl(put_ttl(B::default(), 1, 100, (0, 10)), 2, 5000, (18, 25));
    let h = final_absent(ttl_delete(b, 9, 101, (20, 30), Kind::Ok)).build();
    assert_eq!(violations(&h), Vec::<&str>::new());
    // A failed (conditional) delete deletes nothing; an item gone with no delete after its
    // last write is lost.
    let b = put_ttl(B::default(), 1, 100, (0, 10));
    let h = final_absent(ttl_delete(b, 9, 101, (20, 30), Kind::Fail)).build();
    assert_eq!(violations(&h), vec!["ttl-lost-item"]);
    let h = put_ttl(B::default(), 1, 100, (0, 10))
        .read(2, "t/0", json!(1), true, (500, 510))
        .build();
    assert_eq!(violations(&h), Vec::<&str>::new());
}
