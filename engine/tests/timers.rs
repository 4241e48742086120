//! The engine's timers: `poll_timeout` says when time-driven work is next due, and
//! `handle_timeout` does it without any request (quinn-proto's pair; the server drives them).

use dynasim_engine::limits::Limits;
use dynasim_engine::realism::profile::Profile;
use dynasim_engine::{Config, Engine, Request};
use serde_json::{Value as Json, json};

fn engine(limits: Limits, profile: &str) -> Engine {
    let config = Config {
        limits,
        ..Config::default()
    };
    if profile.is_empty() {
        return Engine::new(config);
    }
    let profile: Profile = serde_json::from_str(profile).unwrap();
    Engine::with_profile(config, profile, 7)
}

fn run(engine: &mut Engine, op: &str, body: Json, now_ms: u64) {
    fn de<T: serde::de::DeserializeOwned>(body: Json) -> T {
        serde_json::from_value(body).unwrap()
    }
    let request = match op {
        "CreateTable" => Request::CreateTable(de(body)),
        "DeleteTable" => Request::DeleteTable(de(body)),
        "PutItem" => Request::PutItem(de(body)),
        other => panic!("{other} is not used here"),
    };
    engine.execute(request, now_ms).unwrap();
}

fn create(engine: &mut Engine, with_gsi: bool) {
    let mut body = json!({
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "g", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    if with_gsi {
        body["GlobalSecondaryIndexes"] = json!([{"IndexName": "by_g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}]);
    } else {
        body["AttributeDefinitions"] = json!([{"AttributeName": "pk", "AttributeType": "S"}]);
    }
    run(engine, "CreateTable", body, 0);
}

fn put(engine: &mut Engine, pk: &str, now_ms: u64) {
    let item = json!({"pk": {"S": pk}, "g": {"S": "x"}});
    run(
        engine,
        "PutItem",
        json!({"TableName": "tbl", "Item": item}),
        now_ms,
    );
}

#[test]
fn once_the_due_work_is_done_nothing_is_due() {
    let mut engine = engine(Limits::default(), "");
    assert_eq!(engine.poll_timeout(), None, "an empty catalog");
    create(&mut engine, true);
    assert_eq!(engine.poll_timeout(), None, "a table with no writes");
    put(&mut engine, "a", 10);
    // Without replica lag a write skips the replication round (every replica would apply it
    // at once), so no follower has anything to learn later.
    assert_eq!(engine.poll_timeout(), None, "a write with no lag");
    engine.handle_timeout(10);
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn a_deleted_table_goes_away_when_deleting_ends_without_a_request() {
    let limits = Limits {
        table_deleting_ms: 500,
        ..Limits::default()
    };
    let mut engine = engine(limits, "");
    create(&mut engine, false);
    run(
        &mut engine,
        "DeleteTable",
        json!({"TableName": "tbl"}),
        1_000,
    );
    assert_eq!(engine.poll_timeout(), Some(1_500));
    engine.handle_timeout(1_499);
    assert!(engine.table("tbl").is_some(), "still DELETING at 1,499 ms");
    engine.handle_timeout(1_500);
    assert!(engine.table("tbl").is_none(), "gone at 1,500 ms");
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn a_lagging_gsi_propagates_when_due_without_a_read() {
    let mut engine = engine(
        Limits::default(),
        r#"{"defaults": {"gsi_lag_ms": [100, 100]}}"#,
    );
    create(&mut engine, true);
    put(&mut engine, "a", 1_000);
    put(&mut engine, "b", 1_040);
    // The followers' part (no replica lag here) is done first.
    engine.handle_timeout(1_040);
    let pending = |engine: &Engine| engine.table("tbl").unwrap().indexes()[0].pending.len();
    assert_eq!(pending(&engine), 2);
    assert_eq!(engine.poll_timeout(), Some(1_100));
    engine.handle_timeout(1_099);
    assert_eq!(pending(&engine), 2, "nothing is due before 1,100 ms");
    engine.handle_timeout(1_100);
    assert_eq!(pending(&engine), 1, "the first write propagated");
    assert_eq!(engine.poll_timeout(), Some(1_140));
    engine.handle_timeout(1_140);
    assert_eq!(pending(&engine), 0);
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn lagging_followers_are_due_until_they_applied_every_write() {
    let mut engine = engine(
        Limits::default(),
        r#"{"defaults": {"replica_lag_ms": [100, 100]}}"#,
    );
    create(&mut engine, false);
    put(&mut engine, "a", 1_000);
    let due = engine
        .poll_timeout()
        .expect("followers lag behind the write");
    assert!(due >= 1_100, "not before the drawn lag: {due}");
    let mut now = due;
    for _ in 0..10 {
        engine.handle_timeout(now);
        match engine.poll_timeout() {
            Some(next) => {
                assert!(next > now, "a timer that is due again at once would spin");
                now = next;
            }
            None => return,
        }
    }
    panic!("followers still behind after ten timeouts");
}
