//! Table lifecycle as a function of the caller's clock: CREATING until the delay passes (data
//! operations see no table yet), UPDATING blocks another UpdateTable, DELETING frees the name.

use dynasim_engine::api::*;
use dynasim_engine::limits::Limits;
use dynasim_engine::{Config, Engine, ErrorKind, Request, Response};
use serde_json::json;

fn request<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn status(engine: &mut Engine, now_ms: u64) -> Option<String> {
    match engine.execute(
        Request::DescribeTable(request(json!({"TableName": "life"}))),
        now_ms,
    ) {
        Ok(Response::Table(output)) => Some(output.table.unwrap().table_status),
        Err(e) if e.kind == ErrorKind::ResourceNotFound => None,
        other => panic!("{other:?}"),
    }
}

#[test]
fn statuses_follow_the_clock() {
    let limits = Limits {
        table_creating_ms: 1000,
        table_updating_ms: 500,
        table_deleting_ms: 200,
        ..Limits::default()
    };
    let mut engine = Engine::new(Config {
        limits,
        ..Config::default()
    });
    let create = json!({"TableName": "life", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"});
    engine
        .execute(Request::CreateTable(request(create)), 10_000)
        .unwrap();
    assert_eq!(status(&mut engine, 10_500).as_deref(), Some("CREATING"));
    let put = || {
        Request::PutItem(request(
            json!({"TableName": "life", "Item": {"k": {"S": "a"}}}),
        ))
    };
    assert_eq!(
        engine.execute(put(), 10_500).unwrap_err().kind,
        ErrorKind::ResourceNotFound
    );
    let delete = || Request::DeleteTable(request(json!({"TableName": "life"})));
    assert_eq!(
        engine.execute(delete(), 10_500).unwrap_err().kind,
        ErrorKind::ResourceInUse
    );

    assert_eq!(status(&mut engine, 11_000).as_deref(), Some("ACTIVE"));
    engine.execute(put(), 11_000).unwrap();
    let update = || {
        Request::UpdateTable(request(
            json!({"TableName": "life", "TableClass": "STANDARD_INFREQUENT_ACCESS"}),
        ))
    };
    engine.execute(update(), 12_000).unwrap();
    assert_eq!(status(&mut engine, 12_100).as_deref(), Some("UPDATING"));
    assert_eq!(
        engine.execute(update(), 12_100).unwrap_err().kind,
        ErrorKind::ResourceInUse
    );
    // Data operations keep working while UPDATING.
    engine.execute(put(), 12_100).unwrap();
    assert_eq!(status(&mut engine, 12_500).as_deref(), Some("ACTIVE"));

    engine.execute(delete(), 13_000).unwrap();
    assert_eq!(status(&mut engine, 13_100).as_deref(), Some("DELETING"));
    assert_eq!(status(&mut engine, 13_200), None);
    let Ok(Response::ListTables(list)) =
        engine.execute(Request::ListTables(ListTablesInput::default()), 13_200)
    else {
        panic!()
    };
    assert!(list.table_names.is_empty());
}

/// DeleteTable answers the service's reduced description: no creation time and no key schema,
/// the table's or its indexes' (dynamodb-facts.md §12.4); DescribeTable keeps them.
#[test]
fn delete_table_answers_a_reduced_description() {
    let mut engine = Engine::new(Config::default());
    let create = json!({
        "TableName": "reduced",
        "AttributeDefinitions": [
            {"AttributeName": "k", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [{
            "IndexName": "by-g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    });
    engine
        .execute(Request::CreateTable(request(create)), 1_000)
        .unwrap();
    let describe = Request::DescribeTable(request(json!({"TableName": "reduced"})));
    let described = serde_json::to_value(engine.execute(describe, 2_000).unwrap()).unwrap();
    assert!(described["Table"]["CreationDateTime"].is_number());
    assert!(described["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"].is_array());
    let delete = Request::DeleteTable(request(json!({"TableName": "reduced"})));
    let deleted = serde_json::to_value(engine.execute(delete, 2_000).unwrap()).unwrap();
    let table = &deleted["TableDescription"];
    assert_eq!(table["TableStatus"], "DELETING");
    assert_eq!(table["TableName"], "reduced");
    for absent in ["CreationDateTime", "KeySchema"] {
        assert!(table.get(absent).is_none(), "{absent}: {table}");
    }
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], "by-g");
    assert!(index.get("KeySchema").is_none(), "{index}");
}
