//! A profile's `[transactions] commit_spread_ms`: a committed TransactWriteItems reaches its
//! items one at a time, as the service's commits reach their partitions. Meanwhile a GetItem
//! reads each item committed or not yet, a single-item write of an item not yet committed
//! meets TransactionConflictException, and the answer waits for the last item.

use dynasim_engine::realism::profile::Profile;
use dynasim_engine::{Config, Engine, ErrorKind, Request, Response};
use serde_json::{Value as Json, json};

const ITEMS: [&str; 4] = ["a", "b", "c", "d"];

fn engine(profile: Json) -> Engine {
    let profile: Profile = serde_json::from_value(profile).unwrap();
    let mut engine = Engine::with_profile(Config::default(), profile, 7);
    let create = json!({
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    engine.execute(Request::CreateTable(de(create)), 0).unwrap();
    engine
}

fn de<T: serde::de::DeserializeOwned>(body: Json) -> T {
    serde_json::from_value(body).unwrap()
}

fn transact(engine: &mut Engine, value: &str, now_ms: u64) -> Response {
    let puts: Vec<Json> = ITEMS
        .iter()
        .map(|k| json!({"Put": {"TableName": "tbl", "Item": {"pk": {"S": k}, "v": {"S": value}}}}))
        .collect();
    let body = json!({"TransactItems": puts, "ReturnConsumedCapacity": "TOTAL"});
    engine
        .execute(Request::TransactWriteItems(de(body)), now_ms)
        .unwrap()
}

/// The item's `v`, if it exists.
fn read(engine: &mut Engine, key: &str, now_ms: u64) -> Option<String> {
    let body = json!({"TableName": "tbl", "Key": {"pk": {"S": key}}, "ConsistentRead": true});
    let response = engine.execute(Request::GetItem(de(body)), now_ms).unwrap();
    let json = serde_json::to_value(&response).unwrap();
    json["Item"]["v"]["S"].as_str().map(str::to_string)
}

#[test]
fn items_commit_one_by_one_and_the_answer_waits_for_the_last() {
    let mut engine = engine(json!({"transactions": {"commit_spread_ms": [10, 200]}}));
    let Response::Pending(pending) = transact(&mut engine, "new", 0) else {
        panic!("a spread commit answers later")
    };
    assert!(pending.due_ms >= 10 && pending.due_ms <= 200, "{pending:?}");
    let mut seen_at: Vec<Option<u64>> = vec![None; ITEMS.len()];
    let mut conflicts = 0;
    for now in 0..=pending.due_ms {
        if let Some(due) = engine.poll_timeout()
            && due <= now
        {
            engine.handle_timeout(now);
        }
        for (i, key) in ITEMS.iter().enumerate() {
            let value = read(&mut engine, key, now);
            match (value.as_deref(), seen_at[i]) {
                (Some("new"), None) => seen_at[i] = Some(now),
                (Some("new"), Some(_)) => {}
                (None, None) => {}
                (other, at) => panic!("{key} at {now}: {other:?} after it was seen at {at:?}"),
            }
        }
        // A single-item write of an item still prepared is refused.
        if let Some(i) = seen_at.iter().position(Option::is_none) {
            let body =
                json!({"TableName": "tbl", "Item": {"pk": {"S": ITEMS[i]}, "v": {"S": "x"}}});
            let error = engine.execute(Request::PutItem(de(body)), now).unwrap_err();
            assert_eq!(error.kind, ErrorKind::TransactionConflict);
            conflicts += 1;
        }
    }
    let times: Vec<u64> = seen_at
        .iter()
        .map(|t| t.expect("committed by due"))
        .collect();
    assert!(conflicts > 0);
    assert_eq!(*times.iter().max().unwrap(), pending.due_ms);
    assert!(
        times.iter().any(|&t| t != times[0]),
        "the items committed at different times: {times:?}"
    );
    let answer = engine
        .finish_transaction(pending.tx, pending.due_ms)
        .unwrap();
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json["ConsumedCapacity"][0]["CapacityUnits"], 8.0, "{json}");
    // Every item is released: a single-item write succeeds again.
    let body = json!({"TableName": "tbl", "Item": {"pk": {"S": "a"}, "v": {"S": "after"}}});
    engine.execute(Request::PutItem(de(body)), 300).unwrap();
}

#[test]
fn a_host_that_waits_for_the_answer_commits_what_is_left() {
    let mut engine = engine(json!({"transactions": {"commit_spread_ms": [50, 50]}}));
    let Response::Pending(pending) = transact(&mut engine, "new", 0) else {
        panic!("a spread commit answers later")
    };
    assert_eq!(pending.due_ms, 50);
    assert_eq!(engine.poll_timeout(), Some(50));
    // The host asks at the due time without having driven the timer.
    let answer = engine.finish_transaction(pending.tx, 50).unwrap();
    assert!(matches!(answer, Response::TransactWriteItems(_)));
    for key in ITEMS {
        assert_eq!(read(&mut engine, key, 50).as_deref(), Some("new"));
    }
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn without_a_spread_every_item_commits_at_once() {
    let mut engine = engine(json!({}));
    let answer = transact(&mut engine, "new", 0);
    assert!(matches!(answer, Response::TransactWriteItems(_)));
    for key in ITEMS {
        assert_eq!(read(&mut engine, key, 0).as_deref(), Some("new"));
    }
}

#[test]
fn an_inverted_spread_is_refused() {
    let profile: Profile =
        serde_json::from_value(json!({"transactions": {"commit_spread_ms": [20, 10]}})).unwrap();
    let errors = profile.validate().unwrap_err();
    assert_eq!(
        errors,
        vec!["transactions.commit_spread_ms: min 20 exceeds max 10"]
    );
}
