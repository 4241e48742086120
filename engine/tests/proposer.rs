//! A log of mutations: a leader executes each write once with `Proposer`, against its applied
//! state plus its proposals not applied yet, and every replica applies the changes when they
//! commit. Whatever the interleaving of proposals and applies (and a leader rebuilt from its
//! log's suffix in between), the leader answers every write as one engine executing the writes
//! in log order would, and a follower that only applies changes ends in that engine's state.
//! The broken variant that ignores unapplied proposals is caught by the same comparison.

use dynasim_engine::replication::proposer::{Proposal, Proposer};
use dynasim_engine::storage::change::Change;
use dynasim_engine::{Config, Engine, Request};
use proptest::prelude::*;
use serde_json::{Value, json};

const TABLE: &str = "tbl";
const NOW_MS: u64 = 1_767_225_600_000;

fn engine() -> Engine {
    let mut engine = Engine::new(Config::default());
    let create = json!({
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    engine
        .execute(
            Request::CreateTable(serde_json::from_value(create).unwrap()),
            NOW_MS,
        )
        .unwrap();
    engine
}

/// One client write of the sequence, on key `k{key}`.
#[derive(Clone, Debug)]
enum Write {
    Add { key: u8, by: u8 },
    PutIfAbsent { key: u8, value: u8 },
    PutIfEquals { key: u8, expected: u8, value: u8 },
    Delete { key: u8 },
    DeleteReturningOld { key: u8 },
}

impl Write {
    fn request(&self) -> Request {
        let key = |k: u8| json!({"p": {"S": format!("k{k}")}});
        let n = |v: u8| json!({"N": v.to_string()});
        let body = match *self {
            Write::Add { key: k, by } => json!({
                "TableName": TABLE, "Key": key(k), "UpdateExpression": "ADD v :d",
                "ExpressionAttributeValues": {":d": n(by)}, "ReturnValues": "ALL_NEW",
            }),
            Write::PutIfAbsent { key: k, value } => json!({
                "TableName": TABLE, "Item": {"p": {"S": format!("k{k}")}, "v": n(value)},
                "ConditionExpression": "attribute_not_exists(p)",
            }),
            Write::PutIfEquals {
                key: k,
                expected,
                value,
            } => json!({
                "TableName": TABLE, "Item": {"p": {"S": format!("k{k}")}, "v": n(value)},
                "ConditionExpression": "v = :e", "ExpressionAttributeValues": {":e": n(expected)},
                "ReturnValues": "ALL_OLD",
            }),
            Write::Delete { key: k } => json!({"TableName": TABLE, "Key": key(k)}),
            Write::DeleteReturningOld { key: k } => {
                json!({"TableName": TABLE, "Key": key(k), "ReturnValues": "ALL_OLD"})
            }
        };
        let input = serde_json::from_value(body).unwrap();
        match self {
            Write::Add { .. } => Request::UpdateItem(input),
            Write::PutIfAbsent { .. } | Write::PutIfEquals { .. } => Request::PutItem(input),
            Write::Delete { .. } | Write::DeleteReturningOld { .. } => Request::DeleteItem(input),
        }
    }
}

fn writes() -> impl Strategy<Value = Write> {
    let key = 0u8..3;
    prop_oneof![
        (key.clone(), 1u8..4).prop_map(|(key, by)| Write::Add { key, by }),
        (key.clone(), 0u8..4).prop_map(|(key, value)| Write::PutIfAbsent { key, value }),
        (key.clone(), 0u8..6, 0u8..6).prop_map(|(key, expected, value)| Write::PutIfEquals {
            key,
            expected,
            value
        }),
        key.clone().prop_map(|key| Write::Delete { key }),
        key.prop_map(|key| Write::DeleteReturningOld { key }),
    ]
}

/// What the host does next: propose the next write, apply the oldest unapplied entry, or
/// rebuild the proposer from the log's unapplied suffix (a new term at the same leader).
#[derive(Clone, Debug)]
enum Step {
    Propose,
    Apply,
    Rebuild,
}

fn steps() -> impl Strategy<Value = Step> {
    prop_oneof![3 => Just(Step::Propose), 2 => Just(Step::Apply), 1 => Just(Step::Rebuild)]
}

fn answer(result: &dynasim_engine::error::Result<dynasim_engine::Response>) -> Value {
    match result {
        Ok(response) => serde_json::to_value(response).unwrap(),
        Err(e) => json!({"error": format!("{:?}", e.kind)}),
    }
}

fn scan(engine: &mut Engine) -> Value {
    let scan = serde_json::from_value(json!({"TableName": TABLE, "ConsistentRead": true})).unwrap();
    let mut items = serde_json::to_value(engine.execute(Request::Scan(scan), NOW_MS).unwrap())
        .unwrap()["Items"]
        .as_array()
        .unwrap()
        .clone();
    items.sort_by_key(|i| i.to_string());
    Value::Array(items)
}

fn apply(engine: &mut Engine, changes: &[Change]) {
    for change in changes {
        let Change::Item { table, key, item } = change else {
            panic!("a single-item write changes items only")
        };
        engine
            .restore_item(table, key, item.as_deref(), NOW_MS)
            .unwrap();
    }
}

/// Runs `writes` through a leader driven by `schedule`; returns the first difference from
/// executing them in order on one engine, if any.
fn differs(writes: &[Write], schedule: &[Step], ignore_proposals: bool) -> Option<String> {
    let mut reference = engine();
    let mut leader = engine();
    let mut follower = engine();
    let mut proposer = Proposer::new();
    let mut log: Vec<Vec<Change>> = Vec::new();
    let mut applied = 0usize;
    let mut next = 0usize;
    let mut schedule = schedule.iter().cycle();
    while applied < writes.len() {
        let step = schedule.next().unwrap();
        // Every step makes progress (a rebuild is followed by an apply), so the loop ends.
        let propose = match step {
            Step::Propose => next < writes.len(),
            Step::Apply | Step::Rebuild => applied == next,
        };
        if propose {
            let request = writes[next].request();
            let Proposal { result, changes } = if ignore_proposals {
                proposer.execute_ignoring_proposals(&mut leader, request.clone(), NOW_MS)
            } else {
                proposer.execute(&mut leader, request.clone(), NOW_MS)
            };
            let expected = reference.execute(request, NOW_MS);
            if answer(&result) != answer(&expected) {
                return Some(format!(
                    "write {next} {:?}: answered {} instead of {}",
                    writes[next],
                    answer(&result),
                    answer(&expected)
                ));
            }
            log.push(changes);
            next += 1;
            proposer.proposed(next as u64, &log[next - 1]);
            continue;
        }
        if let Step::Rebuild = step {
            proposer.rebuild((applied..next).map(|i| ((i + 1) as u64, log[i].as_slice())));
        }
        apply(&mut leader, &log[applied]);
        apply(&mut follower, &log[applied]);
        applied += 1;
        proposer.applied(applied as u64);
    }
    let want = scan(&mut reference);
    for (who, engine) in [("leader", &mut leader), ("follower", &mut follower)] {
        let got = scan(engine);
        if got != want {
            return Some(format!("the {who} holds {got} instead of {want}"));
        }
    }
    assert_eq!(
        proposer.pending_keys(),
        0,
        "everything proposed was applied"
    );
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_mutation_log_answers_and_ends_as_sequential_execution(
        writes in proptest::collection::vec(writes(), 1..40),
        schedule in proptest::collection::vec(steps(), 1..12),
    ) {
        if let Some(difference) = differs(&writes, &schedule, false) {
            prop_assert!(false, "{}", difference);
        }
    }
}

#[test]
fn the_leader_holds_only_applied_state_between_proposals() {
    let mut leader = engine();
    let mut proposer = Proposer::new();
    let add = Write::Add { key: 0, by: 1 }.request();
    let first = proposer.execute(&mut leader, add.clone(), NOW_MS);
    proposer.proposed(1, &first.changes);
    let second = proposer.execute(&mut leader, add, NOW_MS);
    assert_eq!(answer(&second.result)["Attributes"]["v"], json!({"N": "2"}));
    assert_eq!(scan(&mut leader), json!([]), "nothing is applied yet");
    apply(&mut leader, &first.changes);
    proposer.applied(1);
    assert_eq!(scan(&mut leader)[0]["v"], json!({"N": "1"}));
}

#[test]
fn other_requests_are_not_proposed_as_mutations() {
    let mut leader = engine();
    let get =
        serde_json::from_value(json!({"TableName": TABLE, "Key": {"p": {"S": "k"}}})).unwrap();
    let proposal = Proposer::new().execute(&mut leader, Request::GetItem(get), NOW_MS);
    assert!(proposal.result.is_err() && proposal.changes.is_empty());
}

/// The broken variant: a leader that executes against its applied state alone answers two
/// pipelined increments from the same value. The comparison catches it on a fixed schedule.
#[test]
fn ignoring_unapplied_proposals_is_caught() {
    let writes = [Write::Add { key: 0, by: 1 }, Write::Add { key: 0, by: 1 }];
    let schedule = [Step::Propose, Step::Propose, Step::Apply];
    assert!(differs(&writes, &schedule, false).is_none());
    let caught = differs(&writes, &schedule, true).expect("the lost increment is caught");
    assert!(caught.contains("write 1"), "{caught}");
}
