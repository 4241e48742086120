//! The `transactions` checker against a serializable history, one history per anomaly it
//! exists to catch, and random serial executions (accepted) with one read corrupted (caught).

use crate::checkers::{Report, check};
use crate::history::{Event, History, Kind, Process};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

/// A history of transactions, one after another in real time: the `n`th is invoked at
/// `20 n` ns, completes at `20 n + 10` ns, and has history id `2 n`.
#[derive(Default)]
struct T {
    history: History,
}

impl T {
    fn txn(mut self, process: u64, outcome: Kind, mops: Json) -> T {
        let time = self.history.events.len() as u64 * 10;
        let asked: Vec<Json> = mops
            .as_array()
            .unwrap()
            .iter()
            .map(|m| match m[0].as_str() {
                Some("r") => json!(["r", m[1], null]),
                _ => m.clone(),
            })
            .collect();
        let mut invoke = Event::new(Process::Client(process), Kind::Invoke, "txn", time);
        invoke.value = Json::Array(asked);
        let mut done = Event::new(Process::Client(process), outcome, "txn", time + 10);
        match outcome {
            Kind::Ok => done.value = mops,
            _ => done.error = Some("TransactionCanceledException".into()),
        }
        self.history.events.push(invoke);
        self.history.events.push(done);
        self
    }
    fn ok(self, process: u64, mops: Json) -> T {
        self.txn(process, Kind::Ok, mops)
    }
    fn fail(self, process: u64, mops: Json) -> T {
        self.txn(process, Kind::Fail, mops)
    }
    fn info(self, process: u64, mops: Json) -> T {
        self.txn(process, Kind::Info, mops)
    }
    fn report(&self) -> Report {
        check(&self.history)
    }
}

fn kinds(report: &Report) -> Vec<&'static str> {
    report.anomalies.iter().map(|a| a.kind).collect()
}

/// Asserts the report holds exactly one anomaly, a violation of `kind` among exactly these
/// history ids, and returns its explanation.
fn only(report: &Report, kind: &str, ids: &[usize]) -> String {
    assert_eq!(kinds(report), vec![kind], "{report:#?}");
    let a = &report.anomalies[0];
    assert!(a.violation);
    assert_eq!(a.checker, "transactions");
    let mut ops = a.ops.clone();
    ops.sort_unstable();
    assert_eq!(ops, ids, "{}", a.explanation);
    a.explanation.clone()
}

#[test]
fn serializable_history_passes() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1], ["append", "y", 1]]))
        .ok(2, json!([["r", "x", [1]], ["r", "y", [1]]]))
        .ok(1, json!([["append", "x", 2], ["r", "z", null]]))
        .ok(
            3,
            json!([["r", "x", [1, 2]], ["r", "y", [1]], ["r", "z", []]]),
        );
    let report = t.report();
    assert_eq!(kinds(&report), Vec::<&str>::new());
    assert_eq!(report.stats["transactions"], 4);
}

#[test]
fn history_without_transactions_adds_nothing() {
    let mut history = History::default();
    let mut write = Event::new(Process::Client(1), Kind::Invoke, "write", 0);
    write.key = Some("r/1".into());
    write.value = json!(1);
    history.events.push(write.clone());
    write.kind = Kind::Ok;
    write.time = 10;
    history.events.push(write);
    let report = check(&history);
    assert!(!report.stats.contains_key("transactions"));
    assert!(report.anomalies.iter().all(|a| a.checker != "transactions"));
}

#[test]
fn write_cycle_is_g0() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1], ["append", "y", 2]]))
        .ok(2, json!([["append", "x", 2], ["append", "y", 1]]))
        .ok(3, json!([["r", "x", [1, 2]], ["r", "y", [1, 2]]]));
    let why = only(&t.report(), "G0", &[0, 2]);
    assert!(why.contains("(ww)") && !why.contains("(wr)"), "{why}");
}

#[test]
fn write_read_cycle_is_g1c() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1], ["append", "y", 2]]))
        .ok(2, json!([["r", "x", [1]], ["append", "y", 1]]))
        .ok(3, json!([["r", "y", [1, 2]]]));
    let why = only(&t.report(), "G1c", &[0, 2]);
    assert!(why.contains("(wr)") && why.contains("(ww)"), "{why}");
}

#[test]
fn read_skew_is_g_single_and_walks_the_cycle() {
    let t = T::default()
        .ok(1, json!([["append", "y", 1], ["append", "z", 1]]))
        .ok(2, json!([["r", "y", [1]], ["r", "z", []]]))
        .ok(3, json!([["r", "z", [1]]]));
    let why = only(&t.report(), "G-single", &[0, 2]);
    assert_eq!(
        why,
        "G-single cycle of 2 transactions: T2 (process 2, 0.000 s) read z as [] without 1, \
         which T0 (process 1, 0.000 s) appended next, so T2 comes before T0 (rw); T2 read y as \
         [1], which T0 appended, so T0 comes before T2 (wr); back to T2: no serial order exists."
    );
}

#[test]
fn write_skew_is_g2_item() {
    let t = T::default()
        .ok(1, json!([["r", "x", []], ["append", "y", 1]]))
        .ok(2, json!([["r", "y", []], ["append", "x", 1]]))
        .ok(3, json!([["r", "x", [1]], ["r", "y", [1]]]));
    let why = only(&t.report(), "G2-item", &[0, 2]);
    assert_eq!(why.matches("(rw)").count(), 2, "{why}");
}

#[test]
fn read_of_a_failed_append_is_g1a() {
    let t = T::default()
        .fail(1, json!([["append", "x", 1]]))
        .ok(2, json!([["r", "x", [1]]]));
    let why = only(&t.report(), "G1a", &[0, 2]);
    assert!(why.contains("TransactionCanceledException"), "{why}");
}

#[test]
fn read_of_an_intermediate_state_is_g1b() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1], ["append", "x", 2]]))
        .ok(2, json!([["r", "x", [1]]]))
        .ok(3, json!([["r", "x", [1, 2]]]));
    let why = only(&t.report(), "G1b", &[0, 2]);
    assert!(why.contains("appended 1 and then 2 to x"), "{why}");
}

#[test]
fn element_nobody_appended_is_a_garbage_read() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1]]))
        .ok(2, json!([["r", "x", [1, 7]]]));
    let why = only(&t.report(), "garbage-read", &[2]);
    assert!(why.contains("including 7"), "{why}");
}

#[test]
fn element_read_twice_is_duplicate_elements() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1]]))
        .ok(2, json!([["r", "x", [1, 1]]]));
    only(&t.report(), "duplicate-elements", &[2]);
}

#[test]
fn reads_in_different_orders_are_incompatible() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1]]))
        .ok(2, json!([["append", "x", 2]]))
        .ok(3, json!([["r", "x", [1, 2]]]))
        .ok(4, json!([["r", "x", [2, 1]]]));
    let why = only(&t.report(), "incompatible-order", &[4, 6]);
    assert!(why.contains("position 0"), "{why}");
}

#[test]
fn observed_info_transaction_counts_as_committed() {
    let fine = T::default()
        .info(1, json!([["append", "x", 1]]))
        .ok(2, json!([["r", "x", [1]]]));
    assert_eq!(kinds(&fine.report()), Vec::<&str>::new());
    // Its appends take part in the dependency graph like an acknowledged transaction's.
    let skew = T::default()
        .info(1, json!([["append", "y", 1], ["append", "z", 1]]))
        .ok(2, json!([["r", "y", [1]], ["r", "z", []]]))
        .ok(3, json!([["r", "z", [1]]]));
    let why = only(&skew.report(), "G-single", &[0, 2]);
    assert!(
        why.contains("T0 (process 1, 0.000 s, outcome unknown)"),
        "{why}"
    );
}

#[test]
fn unobserved_failed_append_is_fine() {
    let t = T::default()
        .fail(1, json!([["append", "x", 1]]))
        .ok(2, json!([["r", "x", []]]))
        .ok(2, json!([["append", "x", 2]]))
        .ok(3, json!([["r", "x", [2]]]));
    let report = t.report();
    assert_eq!(kinds(&report), Vec::<&str>::new());
    assert_eq!(report.stats["transactions"], 4);
}

/// A GetItem of x sees T0's append; the same process's next GetItem, of y, misses T0's other
/// append (a last read shows it). Serializable (the read of y first, then T0, then the other
/// reads), but not in real time: an observation, not a violation.
#[test]
fn reads_out_of_real_time_order_are_an_observation() {
    let t = T::default()
        .ok(1, json!([["append", "x", 1], ["append", "y", 1]]))
        .ok(2, json!([["r", "x", [1]]]))
        .ok(2, json!([["r", "y", []]]))
        .ok(3, json!([["r", "y", [1]]]));
    let report = t.report();
    assert_eq!(kinds(&report), vec!["G-single-realtime"], "{report:#?}");
    let a = &report.anomalies[0];
    assert!(!a.violation);
    assert_eq!(report.violations().count(), 0);
    let mut ops = a.ops.clone();
    ops.sort_unstable();
    assert_eq!(ops, vec![0, 2, 4]);
    assert!(
        a.explanation.contains(
            "T2 completed before T4 began (at 0.000 s), so in real time T2 comes before T4 (rt)"
        ),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation
            .contains("serializable, not strictly serializable"),
        "{}",
        a.explanation
    );
    assert_eq!(report.stats["transactions_realtime_cycles"], 1);
}

/// The same reads before and after the transaction, in real-time order: nothing to report.
#[test]
fn reads_in_real_time_order_add_nothing() {
    let t = T::default()
        .ok(2, json!([["r", "y", []]]))
        .ok(1, json!([["append", "x", 1], ["append", "y", 1]]))
        .ok(2, json!([["r", "x", [1]]]));
    let report = t.report();
    assert_eq!(kinds(&report), Vec::<&str>::new());
    assert!(!report.stats.contains_key("transactions_realtime_cycles"));
}

/// A transaction whose outcome is unknown may have taken effect at any time after its
/// invocation, so a transaction invoked after its client gave up does not follow it.
#[test]
fn unknown_outcome_precedes_nothing_in_real_time() {
    let t = T::default()
        .info(1, json!([["append", "x", 1]]))
        .ok(2, json!([["r", "x", []]]))
        .ok(3, json!([["r", "x", [1]]]));
    assert_eq!(kinds(&t.report()), Vec::<&str>::new());
}

/// A serial execution: each transaction applied in turn to a map of lists, each read seeing
/// the state so far (its own transaction's earlier appends included). Script entries are
/// (process, micro-operations as (append?, key)); values count up from 1.
fn serial(script: &[(u64, Vec<(bool, u8)>)]) -> T {
    let mut lists: Vec<Vec<i64>> = vec![Vec::new(); 256];
    let mut next = 0;
    let mut t = T::default();
    for (process, mops) in script {
        let mut done = Vec::new();
        for &(append, key) in mops {
            let name = format!("list0/{key}");
            let list = &mut lists[key as usize];
            if append {
                next += 1;
                list.push(next);
                done.push(json!(["append", name, next]));
            } else {
                done.push(json!(["r", name, list.clone()]));
            }
        }
        t = t.ok(*process, Json::Array(done));
    }
    t
}

fn script() -> impl Strategy<Value = Vec<(u64, Vec<(bool, u8)>)>> {
    let mop = (any::<bool>(), 0u8..5);
    proptest::collection::vec((0u64..4, proptest::collection::vec(mop, 1..5)), 0..30)
}

proptest! {
    #[test]
    fn serial_executions_are_accepted(script in script()) {
        let report = serial(&script).report();
        prop_assert_eq!(kinds(&report), Vec::<&str>::new());
    }

    /// After the random prefix, T_w appends to keys x and y, T_i reads both, a last
    /// transaction reads x. Dropping T_w's element from T_i's read of x leaves T_i seeing
    /// T_w's append to y but not to x: a cycle with one rw edge.
    #[test]
    fn a_read_missing_an_element_a_later_read_has_is_caught(
        script in script(),
        x in 0u8..5,
        other in 1u8..5,
    ) {
        let y = (x + other) % 5;
        let mut script = script;
        script.push((7, vec![(true, x), (true, y)]));
        script.push((8, vec![(false, x), (false, y)]));
        script.push((9, vec![(false, x)]));
        let mut t = serial(&script);
        let count = t.history.events.len();
        let read = t.history.events[count - 3].value[0][2].as_array_mut().unwrap();
        read.pop();
        let report = t.report();
        prop_assert_eq!(kinds(&report), vec!["G-single"]);
        let mut ops = report.anomalies[0].ops.clone();
        ops.sort_unstable();
        prop_assert_eq!(ops, vec![count - 6, count - 4]);
    }
}
