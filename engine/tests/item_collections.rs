//! The item-collection limit of tables with a local secondary index (`dynamodb-facts.md` §6.4):
//! a write that would grow a partition key's items and LSI entries past the limit fails with
//! ItemCollectionSizeLimitExceededException and changes nothing; writes that do not grow the
//! collection, other collections, and tables without an LSI are not limited. The limit is
//! lowered here (`Limits::item_collection_bytes_max`) so that the test need not write 10 GB.

use dynasim_engine::limits::Limits;
use dynasim_engine::{Config, Engine, ErrorKind, Request};
use serde_json::{Value, json};

const LIMIT: u64 = 2_000;

fn engine() -> Engine {
    Engine::new(Config {
        limits: Limits {
            item_collection_bytes_max: LIMIT,
            ..Limits::default()
        },
        ..Config::default()
    })
}

fn create(engine: &mut Engine, name: &str, lsi: bool) {
    let mut body = json!({
        "TableName": name,
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "alt", "AttributeType": "S"}
        ],
        "BillingMode": "PAY_PER_REQUEST"
    });
    if lsi {
        body["LocalSecondaryIndexes"] = json!([{
            "IndexName": "by_alt",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "alt", "KeyType": "RANGE"}
            ],
            "Projection": {"ProjectionType": "ALL"}
        }]);
    } else {
        body["AttributeDefinitions"].as_array_mut().unwrap().pop();
    }
    let request = Request::CreateTable(serde_json::from_value(body).unwrap());
    engine.execute(request, 0).unwrap();
}

fn put(
    engine: &mut Engine,
    table: &str,
    pk: &str,
    sk: &str,
    bytes: usize,
) -> Result<(), ErrorKind> {
    let body = json!({
        "TableName": table,
        "Item": {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "alt": {"S": sk},
            "data": {"S": "x".repeat(bytes)}
        },
        "ReturnItemCollectionMetrics": "SIZE"
    });
    let request = Request::PutItem(serde_json::from_value(body).unwrap());
    engine.execute(request, 1).map(|_| ()).map_err(|e| e.kind)
}

fn delete(engine: &mut Engine, table: &str, pk: &str, sk: &str) {
    let body: Value = json!({"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}});
    let request = Request::DeleteItem(serde_json::from_value(body).unwrap());
    engine.execute(request, 2).unwrap();
}

fn count(engine: &mut Engine, table: &str, pk: &str) -> u64 {
    let body = json!({
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": pk}},
        "Select": "COUNT"
    });
    let request = Request::Query(serde_json::from_value(body).unwrap());
    let response = serde_json::to_value(engine.execute(request, 3).unwrap()).unwrap();
    response["Count"].as_u64().unwrap()
}

#[test]
fn a_write_that_grows_a_collection_past_the_limit_fails_and_changes_nothing() {
    let mut engine = engine();
    create(&mut engine, "lsi_table", true);
    // Each item is about 210 bytes and its LSI entry as much again: the fifth overflows.
    let mut accepted = 0;
    let refused = loop {
        match put(
            &mut engine,
            "lsi_table",
            "a",
            &format!("s{accepted:02}"),
            200,
        ) {
            Ok(()) => accepted += 1,
            Err(kind) => break kind,
        }
        assert!(accepted < 100, "the limit never applied");
    };
    assert_eq!(refused, ErrorKind::ItemCollectionSizeLimitExceeded);
    assert_eq!(refused.name(), "ItemCollectionSizeLimitExceededException");
    assert!(
        (3..=5).contains(&accepted),
        "{accepted} items of ~420 bytes fit in {LIMIT}"
    );
    assert_eq!(
        count(&mut engine, "lsi_table", "a"),
        accepted,
        "the refused put wrote nothing"
    );

    // Writes that do not grow the collection still work: the same item again, a smaller one.
    put(&mut engine, "lsi_table", "a", "s00", 200).unwrap();
    put(&mut engine, "lsi_table", "a", "s01", 10).unwrap();
    // Another partition key is a collection of its own.
    put(&mut engine, "lsi_table", "b", "s00", 200).unwrap();
    // Deleting makes room again.
    delete(&mut engine, "lsi_table", "a", "s02");
    put(&mut engine, "lsi_table", "a", "new", 200).unwrap();
    assert_eq!(
        put(&mut engine, "lsi_table", "a", "newer", 900),
        Err(ErrorKind::ItemCollectionSizeLimitExceeded)
    );
}

#[test]
fn a_batch_that_would_overflow_a_collection_fails() {
    let mut engine = engine();
    create(&mut engine, "lsi_table", true);
    let puts: Vec<Value> = (0..8)
        .map(|i| {
            json!({"PutRequest": {"Item": {
                "pk": {"S": "a"}, "sk": {"S": format!("s{i}")}, "alt": {"S": "x"},
                "data": {"S": "x".repeat(200)}
            }}})
        })
        .collect();
    let body = json!({"RequestItems": {"lsi_table": puts}});
    let request = Request::BatchWriteItem(serde_json::from_value(body).unwrap());
    let error = engine.execute(request, 1).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ItemCollectionSizeLimitExceeded);
    assert_eq!(error.message, "Collection size exceeded.");
    let written = count(&mut engine, "lsi_table", "a");
    assert!(
        (3..8).contains(&written),
        "{written}: the writes before the overflow stay"
    );
}

#[test]
fn tables_without_a_local_secondary_index_have_no_collection_limit() {
    let mut engine = engine();
    create(&mut engine, "plain", false);
    for i in 0..30 {
        put(&mut engine, "plain", "a", &format!("s{i:02}"), 200).unwrap();
    }
    assert_eq!(count(&mut engine, "plain", "a"), 30);
}
