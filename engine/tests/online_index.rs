//! A GSI created on a populated table (dynamodb-facts.md §7.2): CREATING without and then
//! with Backfilling for times the limits set (the backfill a function of the table's size),
//! unreadable until ACTIVE, one online index change at a time (only the backfilling index may
//! be deleted meanwhile), the table not deletable meanwhile, and every item indexed after.

use dynasim_engine::limits::Limits;
use dynasim_engine::{Config, Engine, Error, ErrorKind, Request};
use serde_json::{Value, json};

fn call(engine: &mut Engine, operation: &str, body: Value, now_ms: u64) -> Result<Value, Error> {
    let request = match operation {
        "CreateTable" => Request::CreateTable(serde_json::from_value(body).unwrap()),
        "UpdateTable" => Request::UpdateTable(serde_json::from_value(body).unwrap()),
        "DeleteTable" => Request::DeleteTable(serde_json::from_value(body).unwrap()),
        "DescribeTable" => Request::DescribeTable(serde_json::from_value(body).unwrap()),
        "PutItem" => Request::PutItem(serde_json::from_value(body).unwrap()),
        "Query" => Request::Query(serde_json::from_value(body).unwrap()),
        other => panic!("no {other} here"),
    };
    engine
        .execute(request, now_ms)
        .map(|r| serde_json::to_value(&r).unwrap())
}

fn create_index(name: &str, attribute: &str) -> Value {
    json!({
        "TableName": "tbl",
        "AttributeDefinitions": [{"AttributeName": attribute, "AttributeType": "S"}],
        "GlobalSecondaryIndexUpdates": [{"Create": {
            "IndexName": name,
            "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}
        }}]
    })
}

fn index_state(engine: &mut Engine, now_ms: u64) -> (String, Option<bool>) {
    let table = call(engine, "DescribeTable", json!({"TableName": "tbl"}), now_ms).unwrap();
    let index = &table["Table"]["GlobalSecondaryIndexes"][0];
    (
        index["IndexStatus"].as_str().unwrap().to_string(),
        index.get("Backfilling").and_then(Value::as_bool),
    )
}

#[test]
fn an_index_created_on_a_populated_table_backfills_then_serves() {
    let mut engine = Engine::new(Config {
        limits: Limits {
            index_creating_ms: 1_000,
            index_backfill_ms_per_mib: 4_000,
            ..Limits::default()
        },
        ..Config::default()
    });
    let create = json!({
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST"
    });
    call(&mut engine, "CreateTable", create, 0).unwrap();
    // About half a MiB: a backfill of about two seconds.
    for i in 0..128 {
        let item = json!({"pk": {"S": format!("k{i}")}, "g": {"S": "same"}, "pad": {"S": "x".repeat(4096)}});
        call(
            &mut engine,
            "PutItem",
            json!({"TableName": "tbl", "Item": item}),
            1,
        )
        .unwrap();
    }
    call(&mut engine, "UpdateTable", create_index("by_g", "g"), 10).unwrap();
    assert_eq!(
        index_state(&mut engine, 500),
        ("CREATING".into(), Some(false))
    );
    assert_eq!(
        index_state(&mut engine, 1_500),
        ("CREATING".into(), Some(true))
    );
    let query = json!({"TableName": "tbl", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "same"}}, "Select": "COUNT"});
    let e = call(&mut engine, "Query", query.clone(), 1_500).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert_eq!(
        e.message,
        "Cannot read from backfilling global secondary index: by_g"
    );
    // One online index change at a time; the table stays ACTIVE but cannot be deleted.
    let e = call(&mut engine, "UpdateTable", create_index("by_h", "h"), 1_500).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    let e = call(
        &mut engine,
        "DeleteTable",
        json!({"TableName": "tbl"}),
        1_500,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ResourceInUse);
    let table = call(
        &mut engine,
        "DescribeTable",
        json!({"TableName": "tbl"}),
        1_500,
    )
    .unwrap();
    assert_eq!(table["Table"]["TableStatus"], "ACTIVE");
    // A write during the backfill is indexed too.
    let item = json!({"pk": {"S": "late"}, "g": {"S": "same"}});
    call(
        &mut engine,
        "PutItem",
        json!({"TableName": "tbl", "Item": item}),
        1_600,
    )
    .unwrap();
    let done = 10 + 1_000 + 4_000 * 128 * 4_100 / (1 << 20) + 100;
    assert_eq!(index_state(&mut engine, done), ("ACTIVE".into(), None));
    let answer = call(&mut engine, "Query", query, done).unwrap();
    assert_eq!(answer["Count"], 129);
}

#[test]
fn only_the_backfilling_index_may_be_deleted_meanwhile() {
    let mut engine = Engine::new(Config {
        limits: Limits {
            index_creating_ms: 1_000,
            index_backfill_ms_per_mib: 1_000_000,
            ..Limits::default()
        },
        ..Config::default()
    });
    let create = json!({
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST"
    });
    call(&mut engine, "CreateTable", create, 0).unwrap();
    let item = json!({"pk": {"S": "a"}, "g": {"S": "x".repeat(10_000)}});
    call(
        &mut engine,
        "PutItem",
        json!({"TableName": "tbl", "Item": item}),
        1,
    )
    .unwrap();
    call(&mut engine, "UpdateTable", create_index("by_g", "g"), 10).unwrap();
    let delete = json!({"TableName": "tbl", "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": "by_g"}}]});
    // Allocating: not yet.
    let e = call(&mut engine, "UpdateTable", delete.clone(), 500).unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    // Backfilling: yes.
    call(&mut engine, "UpdateTable", delete, 1_500).unwrap();
    let table = call(
        &mut engine,
        "DescribeTable",
        json!({"TableName": "tbl"}),
        1_600,
    )
    .unwrap();
    assert!(table["Table"].get("GlobalSecondaryIndexes").is_none());
}
