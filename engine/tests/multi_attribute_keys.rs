//! Multi-attribute GSI keys (November 2025; dynamodb-facts.md §3.2, §7.2): key schemas of up to
//! four HASH and four RANGE elements, described in order; sparse indexing and type checks per
//! attribute; Query with `=` on every partition key attribute and sort key attributes left to
//! right, the last one with any sort key condition; the order of the sort key tuple, paging,
//! Scan; every refusal with its message. A property test compares Query on such an index with
//! a filter-and-sort model.

use dynasim_engine::{Config, Engine, Error, Request};
use proptest::prelude::*;
use serde_json::{Value, json};

fn call(engine: &mut Engine, operation: &str, body: Value) -> Result<Value, Error> {
    let request = match operation {
        "CreateTable" => Request::CreateTable(serde_json::from_value(body).unwrap()),
        "UpdateTable" => Request::UpdateTable(serde_json::from_value(body).unwrap()),
        "DescribeTable" => Request::DescribeTable(serde_json::from_value(body).unwrap()),
        "PutItem" => Request::PutItem(serde_json::from_value(body).unwrap()),
        "UpdateItem" => Request::UpdateItem(serde_json::from_value(body).unwrap()),
        "Query" => Request::Query(serde_json::from_value(body).unwrap()),
        "Scan" => Request::Scan(serde_json::from_value(body).unwrap()),
        other => panic!("no {other} here"),
    };
    // Far enough past creation for tables and indexes to be ACTIVE.
    engine
        .execute(request, 1_000_000)
        .map(|r| serde_json::to_value(&r).unwrap())
}

fn message(result: Result<Value, Error>) -> String {
    match result {
        Ok(answer) => panic!("expected an error, got {answer}"),
        Err(error) => error.message,
    }
}

fn elements(hash: &[&str], range: &[&str]) -> Value {
    let hash = hash
        .iter()
        .map(|n| json!({"AttributeName": n, "KeyType": "HASH"}));
    let range = range
        .iter()
        .map(|n| json!({"AttributeName": n, "KeyType": "RANGE"}));
    Value::Array(hash.chain(range).collect())
}

fn definitions(names: &[(&str, &str)]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|(n, t)| json!({"AttributeName": n, "AttributeType": t}))
            .collect(),
    )
}

/// A table `tbl` keyed by `pk` with one GSI `idx` of the given key schema elements.
fn create_with(
    engine: &mut Engine,
    key_schema: Value,
    defined: &[(&str, &str)],
) -> Result<Value, Error> {
    let mut all = vec![("pk", "S")];
    all.extend_from_slice(defined);
    call(
        engine,
        "CreateTable",
        json!({
            "TableName": "tbl",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": definitions(&all),
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{
                "IndexName": "idx",
                "KeySchema": key_schema,
                "Projection": {"ProjectionType": "ALL"}
            }]
        }),
    )
}

/// The index of most tests: partition key (h1 S, h2 N), sort key (r1 N, r2 S).
fn engine_2h2r() -> Engine {
    let mut engine = Engine::new(Config::default());
    create_with(
        &mut engine,
        elements(&["h1", "h2"], &["r1", "r2"]),
        &[("h1", "S"), ("h2", "N"), ("r1", "N"), ("r2", "S")],
    )
    .unwrap();
    engine
}

fn put(engine: &mut Engine, item: Value) -> Result<Value, Error> {
    call(engine, "PutItem", json!({"TableName": "tbl", "Item": item}))
}

fn item(pk: &str, h1: &str, h2: i64, r1: i64, r2: &str) -> Value {
    json!({
        "pk": {"S": pk}, "h1": {"S": h1}, "h2": {"N": h2.to_string()},
        "r1": {"N": r1.to_string()}, "r2": {"S": r2}
    })
}

fn query(
    engine: &mut Engine,
    condition: &str,
    values: Value,
    extra: Value,
) -> Result<Value, Error> {
    let mut body = json!({
        "TableName": "tbl",
        "IndexName": "idx",
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    call(engine, "Query", body)
}

/// The table keys (`pk`) of a Query's or Scan's items, in order.
fn keys(answer: &Value) -> Vec<String> {
    answer["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["pk"]["S"].as_str().unwrap().to_string())
        .collect()
}

fn values(h1: &str, h2: i64) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert(":h1".into(), json!({"S": h1}));
    map.insert(":h2".into(), json!({"N": h2.to_string()}));
    map
}

fn with(mut map: serde_json::Map<String, Value>, more: Value) -> Value {
    for (k, v) in more.as_object().unwrap() {
        map.insert(k.clone(), v.clone());
    }
    Value::Object(map)
}

/// Items in partition (a, 1) with sort keys (r1, r2); one in partition (a, 2), one in (b, 1).
fn populated() -> Engine {
    let mut engine = engine_2h2r();
    for (pk, r1, r2) in [
        ("p1", 2, "b"),
        ("p2", 1, "z"),
        ("p3", 2, "a"),
        ("p4", 10, "a"),
        ("p5", 2, "ab"),
        ("p6", -3, "q"),
    ] {
        put(&mut engine, item(pk, "a", 1, r1, r2)).unwrap();
    }
    put(&mut engine, item("other1", "a", 2, 1, "a")).unwrap();
    put(&mut engine, item("other2", "b", 1, 1, "a")).unwrap();
    engine
}

#[test]
fn create_table_and_describe_table_show_the_whole_key_schema_in_order() {
    let mut engine = Engine::new(Config::default());
    let schema = elements(&["a", "b", "c", "d"], &["e", "f", "g", "h"]);
    let defined: Vec<(&str, &str)> = ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .map(|n| (*n, "S"))
        .collect();
    let created = create_with(&mut engine, schema.clone(), &defined).unwrap();
    let index = &created["TableDescription"]["GlobalSecondaryIndexes"][0];
    assert_eq!(index["KeySchema"], schema);
    let described = call(&mut engine, "DescribeTable", json!({"TableName": "tbl"})).unwrap();
    assert_eq!(
        described["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"],
        schema
    );

    let mut engine = Engine::new(Config::default());
    let schema = elements(&["a", "b"], &[]);
    create_with(&mut engine, schema.clone(), &[("a", "S"), ("b", "N")]).unwrap();
    let described = call(&mut engine, "DescribeTable", json!({"TableName": "tbl"})).unwrap();
    assert_eq!(
        described["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"],
        schema
    );
}

#[test]
fn wrong_key_schemas_are_refused() {
    let five: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    let five: Vec<&str> = five.iter().map(String::as_str).collect();
    let defined_five: Vec<(&str, &str)> = five.iter().map(|n| (*n, "S")).collect();
    let mut defined = defined_five.clone();
    defined.push(("h", "S"));
    let cases = [
        (
            elements(&five, &[]),
            defined_five.clone(),
            "Invalid KeySchema: More than 4 HASH KeySchemaElements for index: idx",
        ),
        (
            elements(&["h"], &five),
            defined.clone(),
            "Invalid KeySchema: More than 4 RANGE KeySchemaElements for index: idx",
        ),
        (
            json!([
                {"AttributeName": "a0", "KeyType": "HASH"},
                {"AttributeName": "a1", "KeyType": "RANGE"},
                {"AttributeName": "a2", "KeyType": "HASH"}
            ]),
            defined_five[..3].to_vec(),
            "Invalid KeySchema: The HASH KeySchemaElements must come before the RANGE KeySchemaElements for index: idx",
        ),
        (
            json!([
                {"AttributeName": "a0", "KeyType": "RANGE"},
                {"AttributeName": "a1", "KeyType": "HASH"}
            ]),
            defined_five[..2].to_vec(),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            elements(&["a0", "a0"], &[]),
            defined_five[..1].to_vec(),
            "Invalid KeySchema: Duplicate KeySchemaElement attribute name: a0 for index: idx",
        ),
        (
            elements(&["a0", "a1"], &["a0"]),
            defined_five[..2].to_vec(),
            "Invalid KeySchema: Duplicate KeySchemaElement attribute name: a0 for index: idx",
        ),
        (
            elements(&["a0"], &["a0"]),
            defined_five[..1].to_vec(),
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ),
        (
            elements(&["a0", "a1"], &[]),
            defined_five[..1].to_vec(),
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [a1], AttributeDefinitions: [a0, pk]",
        ),
    ];
    for (schema, defined, expected) in cases {
        let mut engine = Engine::new(Config::default());
        let answer = create_with(&mut engine, schema.clone(), &defined);
        assert_eq!(message(answer), expected, "{schema}");
    }
}

#[test]
fn local_secondary_indexes_keep_single_attribute_keys() {
    let mut engine = Engine::new(Config::default());
    let answer = call(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "tbl",
            "KeySchema": elements(&["pk"], &["sk"]),
            "AttributeDefinitions": definitions(&[("pk", "S"), ("sk", "S"), ("l", "S")]),
            "BillingMode": "PAY_PER_REQUEST",
            "LocalSecondaryIndexes": [{
                "IndexName": "lsi",
                "KeySchema": elements(&["pk"], &["sk", "l"]),
                "Projection": {"ProjectionType": "ALL"}
            }]
        }),
    );
    assert_eq!(
        message(answer),
        "One or more parameter values were invalid: Invalid KeySchema for index: lsi"
    );
}

#[test]
fn update_table_creates_a_multi_attribute_index_and_backfills_it() {
    let mut engine = Engine::new(Config::default());
    call(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "tbl",
            "KeySchema": elements(&["pk"], &[]),
            "AttributeDefinitions": definitions(&[("pk", "S")]),
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .unwrap();
    put(
        &mut engine,
        json!({"pk": {"S": "p"}, "a": {"S": "x"}, "b": {"S": "y"}, "c": {"S": "z"}}),
    )
    .unwrap();
    put(
        &mut engine,
        json!({"pk": {"S": "q"}, "a": {"S": "x"}, "c": {"S": "z"}}),
    )
    .unwrap();
    let update = |schema: Value, defined: &[(&str, &str)]| {
        json!({
            "TableName": "tbl",
            "AttributeDefinitions": definitions(defined),
            "GlobalSecondaryIndexUpdates": [{"Create": {
                "IndexName": "idx",
                "KeySchema": schema,
                "Projection": {"ProjectionType": "ALL"}
            }}]
        })
    };
    let too_many: Vec<(&str, &str)> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| (*n, "S"))
        .collect();
    let refused = call(
        &mut engine,
        "UpdateTable",
        update(elements(&["a", "b", "c", "d", "e"], &[]), &too_many),
    );
    assert_eq!(
        message(refused),
        "Invalid KeySchema: More than 4 HASH KeySchemaElements for index: idx"
    );
    let defined = [("a", "S"), ("b", "S"), ("c", "S")];
    call(
        &mut engine,
        "UpdateTable",
        update(elements(&["a", "b"], &["c"]), &defined),
    )
    .unwrap();
    let described = call(&mut engine, "DescribeTable", json!({"TableName": "tbl"})).unwrap();
    let index = &described["Table"]["GlobalSecondaryIndexes"][0];
    assert_eq!(index["KeySchema"], elements(&["a", "b"], &["c"]));
    assert_eq!(index["IndexStatus"], "ACTIVE");
    let scanned = call(
        &mut engine,
        "Scan",
        json!({"TableName": "tbl", "IndexName": "idx"}),
    )
    .unwrap();
    assert_eq!(keys(&scanned), ["p"]);
}

#[test]
fn items_are_indexed_only_with_every_key_attribute_and_checked_per_attribute() {
    let mut engine = engine_2h2r();
    put(&mut engine, item("full", "a", 1, 1, "x")).unwrap();
    put(
        &mut engine,
        json!({"pk": {"S": "no_h2"}, "h1": {"S": "a"}, "r1": {"N": "1"}, "r2": {"S": "x"}}),
    )
    .unwrap();
    put(
        &mut engine,
        json!({"pk": {"S": "no_r2"}, "h1": {"S": "a"}, "h2": {"N": "1"}, "r1": {"N": "1"}}),
    )
    .unwrap();
    let scanned = call(
        &mut engine,
        "Scan",
        json!({"TableName": "tbl", "IndexName": "idx"}),
    )
    .unwrap();
    assert_eq!(keys(&scanned), ["full"]);
    // Adding the missing attribute indexes the item; removing one takes it out again.
    call(
        &mut engine,
        "UpdateItem",
        json!({"TableName": "tbl", "Key": {"pk": {"S": "no_r2"}}, "UpdateExpression": "SET r2 = :v",
               "ExpressionAttributeValues": {":v": {"S": "y"}}}),
    )
    .unwrap();
    let found = query(
        &mut engine,
        "h1 = :h1 AND h2 = :h2",
        Value::Object(values("a", 1)),
        json!({}),
    )
    .unwrap();
    assert_eq!(keys(&found), ["full", "no_r2"]);
    call(
        &mut engine,
        "UpdateItem",
        json!({"TableName": "tbl", "Key": {"pk": {"S": "full"}}, "UpdateExpression": "REMOVE h2"}),
    )
    .unwrap();
    let found = query(
        &mut engine,
        "h1 = :h1 AND h2 = :h2",
        Value::Object(values("a", 1)),
        json!({}),
    )
    .unwrap();
    assert_eq!(keys(&found), ["no_r2"]);

    let wrong_h2 = json!({"pk": {"S": "w"}, "h1": {"S": "a"}, "h2": {"S": "1"}});
    assert_eq!(
        message(put(&mut engine, wrong_h2)),
        "One or more parameter values were invalid: Type mismatch for Index Key h2 Expected: N Actual: S IndexName: idx"
    );
    let wrong_r2 = json!({"pk": {"S": "w"}, "r2": {"N": "1"}});
    assert_eq!(
        message(put(&mut engine, wrong_r2)),
        "One or more parameter values were invalid: Type mismatch for Index Key r2 Expected: S Actual: N IndexName: idx"
    );
    let empty_h1 = json!({"pk": {"S": "w"}, "h1": {"S": ""}});
    assert_eq!(
        message(put(&mut engine, empty_h1)),
        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: idx, IndexKey: h1"
    );
}

#[test]
fn every_legal_query_shape_selects_its_items_in_sort_key_tuple_order() {
    let mut engine = populated();
    let base = || values("a", 1);
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "h1 = :h1 AND h2 = :h2",
            json!({}),
            vec!["p6", "p2", "p3", "p5", "p1", "p4"],
        ),
        (
            "h2 = :h2 AND h1 = :h1",
            json!({}),
            vec!["p6", "p2", "p3", "p5", "p1", "p4"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1",
            json!({":r1": {"N": "2"}}),
            vec!["p3", "p5", "p1"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 < :r1",
            json!({":r1": {"N": "2"}}),
            vec!["p6", "p2"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 <= :r1",
            json!({":r1": {"N": "2"}}),
            vec!["p6", "p2", "p3", "p5", "p1"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 > :r1",
            json!({":r1": {"N": "2"}}),
            vec!["p4"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 >= :r1",
            json!({":r1": {"N": "2"}}),
            vec!["p3", "p5", "p1", "p4"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 BETWEEN :lo AND :hi",
            json!({":lo": {"N": "1"}, ":hi": {"N": "2"}}),
            vec!["p2", "p3", "p5", "p1"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r2 = :r2",
            json!({":r1": {"N": "2"}, ":r2": {"S": "a"}}),
            vec!["p3"],
        ),
        (
            "r2 > :r2 AND h1 = :h1 AND r1 = :r1 AND h2 = :h2",
            json!({":r1": {"N": "2"}, ":r2": {"S": "a"}}),
            vec!["p5", "p1"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r2 >= :r2",
            json!({":r1": {"N": "2"}, ":r2": {"S": "ab"}}),
            vec!["p5", "p1"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r2 < :r2",
            json!({":r1": {"N": "2"}, ":r2": {"S": "ab"}}),
            vec!["p3"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r2 <= :r2",
            json!({":r1": {"N": "2"}, ":r2": {"S": "ab"}}),
            vec!["p3", "p5"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r2 BETWEEN :lo AND :hi",
            json!({":r1": {"N": "2"}, ":lo": {"S": "aa"}, ":hi": {"S": "b"}}),
            vec!["p5", "p1"],
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND begins_with(r2, :p)",
            json!({":r1": {"N": "2"}, ":p": {"S": "a"}}),
            vec!["p3", "p5"],
        ),
    ];
    for (condition, more, expected) in cases {
        let forward = query(
            &mut engine,
            condition,
            with(base(), more.clone()),
            json!({}),
        )
        .unwrap();
        assert_eq!(keys(&forward), expected, "{condition} {more}");
        let backward = query(
            &mut engine,
            condition,
            with(base(), more.clone()),
            json!({"ScanIndexForward": false}),
        )
        .unwrap();
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(keys(&backward), reversed, "{condition} {more} backward");
    }
}

#[test]
fn wrong_key_conditions_are_refused_with_their_messages() {
    let mut engine = populated();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "h1 = :h1",
            json!({":h1": {"S": "a"}}),
            "Query condition missed key schema element: h2",
        ),
        (
            "h1 = :h1 AND r1 = :r1",
            json!({":h1": {"S": "a"}, ":r1": {"N": "1"}}),
            "Query condition missed key schema element: h2",
        ),
        (
            "h1 = :h1 AND h2 > :h2",
            json!({":h1": {"S": "a"}, ":h2": {"N": "1"}}),
            "Query key condition not supported",
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r2 = :r2",
            json!({":h1": {"S": "a"}, ":h2": {"N": "1"}, ":r2": {"S": "a"}}),
            "Query condition missed key schema element: r1",
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND r1 > :r1 AND r2 = :r2",
            json!({":h1": {"S": "a"}, ":h2": {"N": "1"}, ":r1": {"N": "1"}, ":r2": {"S": "a"}}),
            "Query key condition not supported: only the last sort key attribute used may have a condition other than =; attribute: r1",
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND colour = :o",
            json!({":h1": {"S": "a"}, ":h2": {"N": "1"}, ":o": {"S": "a"}}),
            "Query key condition not supported",
        ),
        (
            "h1 = :h1 AND h2 = :h2",
            json!({":h1": {"S": "a"}, ":h2": {"S": "1"}}),
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND begins_with(r1, :p)",
            json!({":h1": {"S": "a"}, ":h2": {"N": "1"}, ":p": {"N": "1"}}),
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        (
            "h1 = :h1 AND h2 = :h2 AND h1 = :h1",
            json!({":h1": {"S": "a"}, ":h2": {"N": "1"}}),
            "KeyConditionExpressions must only contain one condition per key",
        ),
        (
            "h1 = :h1 AND h2 = :h2",
            json!({":h1": {"S": ""}, ":h2": {"N": "1"}}),
            "One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty string value. Key: h1",
        ),
    ];
    for (condition, values, expected) in cases {
        let answer = query(&mut engine, condition, values, json!({}));
        assert_eq!(message(answer), expected, "{condition}");
    }
    let filtered = query(
        &mut engine,
        "h1 = :h1 AND h2 = :h2",
        json!({":h1": {"S": "a"}, ":h2": {"N": "1"}, ":f": {"S": "a"}}),
        json!({"FilterExpression": "r2 = :f"}),
    );
    assert_eq!(
        message(filtered),
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: r2"
    );
    let legacy = call(
        &mut engine,
        "Query",
        json!({"TableName": "tbl", "IndexName": "idx", "KeyConditions": {
            "h1": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
            "h2": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}
        }}),
    );
    assert_eq!(
        message(legacy),
        "KeyConditions cannot be used on an index with a multi-attribute key; use KeyConditionExpression. IndexName: idx"
    );
}

#[test]
fn more_than_two_conditions_on_a_single_attribute_index_or_the_table_are_still_too_many() {
    let mut engine = Engine::new(Config::default());
    create_with(
        &mut engine,
        elements(&["g"], &["s"]),
        &[("g", "S"), ("s", "S")],
    )
    .unwrap();
    let values = json!({":v": {"S": "a"}});
    let three = "g = :v AND s = :v AND x = :v";
    let on_index = query(&mut engine, three, values.clone(), json!({}));
    assert_eq!(message(on_index), "Conditions can be of length 1 or 2 only");
    let on_table = call(
        &mut engine,
        "Query",
        json!({"TableName": "tbl", "KeyConditionExpression": "pk = :v AND s = :v AND x = :v",
               "ExpressionAttributeValues": values}),
    );
    assert_eq!(message(on_table), "Conditions can be of length 1 or 2 only");
}

#[test]
fn pages_carry_every_key_attribute_and_resume_where_they_stopped() {
    let mut engine = populated();
    let mut start: Option<Value> = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let mut extra = json!({"Limit": 2});
        if let Some(start) = &start {
            extra["ExclusiveStartKey"] = start.clone();
        }
        let page = query(
            &mut engine,
            "h1 = :h1 AND h2 = :h2",
            Value::Object(values("a", 1)),
            extra,
        )
        .unwrap();
        seen.extend(keys(&page));
        match page.get("LastEvaluatedKey") {
            Some(key) => {
                let mut names: Vec<&String> = key.as_object().unwrap().keys().collect();
                names.sort();
                assert_eq!(names, ["h1", "h2", "pk", "r1", "r2"]);
                start = Some(key.clone());
            }
            None => break,
        }
    }
    assert_eq!(seen, ["p6", "p2", "p3", "p5", "p1", "p4"]);

    let outside = query(
        &mut engine,
        "h1 = :h1 AND h2 = :h2",
        Value::Object(values("a", 1)),
        json!({"ExclusiveStartKey": item("other1", "a", 2, 1, "a")}),
    );
    assert_eq!(
        message(outside),
        "The provided starting key is outside query boundaries based on provided conditions"
    );
    let incomplete = query(
        &mut engine,
        "h1 = :h1 AND h2 = :h2",
        Value::Object(values("a", 1)),
        json!({"ExclusiveStartKey": {"pk": {"S": "p1"}, "h1": {"S": "a"}, "r1": {"N": "1"}, "r2": {"S": "a"}}}),
    );
    assert_eq!(
        message(incomplete),
        "The provided starting key is invalid: The provided key element does not match the schema"
    );

    let mut start: Option<Value> = None;
    let mut scanned = Vec::new();
    for _ in 0..20 {
        let mut body = json!({"TableName": "tbl", "IndexName": "idx", "Limit": 3});
        if let Some(start) = &start {
            body["ExclusiveStartKey"] = start.clone();
        }
        let page = call(&mut engine, "Scan", body).unwrap();
        scanned.extend(keys(&page));
        match page.get("LastEvaluatedKey") {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    scanned.sort();
    assert_eq!(
        scanned,
        ["other1", "other2", "p1", "p2", "p3", "p4", "p5", "p6"]
    );
}

/// One item of the property test: partition (h1, h2), sort (r1, r2, r3).
#[derive(Clone, Debug)]
struct Row {
    h1: u8,
    h2: i8,
    r1: i8,
    r2: String,
    r3: Vec<u8>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        0..2u8,
        -1..1i8,
        -3..3i8,
        "[ab]{0,2}",
        proptest::collection::vec(0..3u8, 0..3),
    )
        .prop_map(|(h1, h2, r1, r2, r3)| Row { h1, h2, r1, r2, r3 })
}

/// A query: how many sort key attributes have `=` (0-2) and an optional last condition on the
/// next one (operator index, operand from a row).
#[derive(Clone, Debug)]
struct Shape {
    h1: u8,
    h2: i8,
    equal: usize,
    last: Option<(u8, Row)>,
    forward: bool,
    limit: u8,
    probe: Row,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        0..2u8,
        -1..1i8,
        0..3usize,
        proptest::option::of((0..6u8, row())),
        any::<bool>(),
        1..5u8,
        row(),
    )
        .prop_map(|(h1, h2, equal, last, forward, limit, probe)| Shape {
            h1,
            h2,
            equal,
            last,
            forward,
            limit,
            probe,
        })
}

fn component(row: &Row, i: usize) -> (Value, String) {
    match i {
        0 => (json!({"N": row.r1.to_string()}), "N".into()),
        1 => (json!({"S": format!("s{}", row.r2)}), "S".into()),
        _ => {
            let mut bytes = vec![7];
            bytes.extend(&row.r3);
            (json!({"B": base64_of(&bytes)}), "B".into())
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The sort key tuple of a row, in DynamoDB's order for each type.
fn tuple(row: &Row) -> (i8, String, Vec<u8>) {
    let mut bytes = vec![7];
    bytes.extend(&row.r3);
    (row.r1, format!("s{}", row.r2), bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn query_on_a_multi_attribute_index_is_filter_and_sort(rows in proptest::collection::vec(row(), 0..24), shape in shape()) {
        let mut engine = Engine::new(Config::default());
        create_with(
            &mut engine,
            elements(&["h1", "h2"], &["r1", "r2", "r3"]),
            &[("h1", "S"), ("h2", "N"), ("r1", "N"), ("r2", "S"), ("r3", "B")],
        ).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let (r3, _) = component(row, 2);
            put(&mut engine, json!({
                "pk": {"S": format!("k{i:02}")}, "h1": {"S": format!("h{}", row.h1)},
                "h2": {"N": row.h2.to_string()}, "r1": {"N": row.r1.to_string()},
                "r2": {"S": format!("s{}", row.r2)}, "r3": r3
            })).unwrap();
        }
        let names = ["r1", "r2", "r3"];
        let mut condition = "h1 = :h1 AND h2 = :h2".to_string();
        let mut values = values(&format!("h{}", shape.h1), i64::from(shape.h2));
        for (i, name) in names.iter().enumerate().take(shape.equal) {
            condition.push_str(&format!(" AND {name} = :e{i}"));
            values.insert(format!(":e{i}"), component(&shape.probe, i).0);
        }
        let last = shape.last.as_ref().filter(|_| shape.equal < names.len());
        if let Some((operator, operand)) = last {
            let name = names[shape.equal];
            let (value, kind) = component(operand, shape.equal);
            let operator = if *operator == 5 && kind == "N" { 0 } else { *operator };
            let text = match operator {
                0 => format!(" AND {name} < :l"),
                1 => format!(" AND {name} <= :l"),
                2 => format!(" AND {name} > :l"),
                3 => format!(" AND {name} >= :l"),
                4 => format!(" AND {name} BETWEEN :l AND :l"),
                _ => format!(" AND begins_with({name}, :l)"),
            };
            condition.push_str(&text);
            values.insert(":l".into(), value);
        }
        // The model: the rows of the partition whose tuples satisfy the conditions, sorted.
        let probe = tuple(&shape.probe);
        let mut expected: Vec<usize> = rows.iter().enumerate().filter(|(_, row)| {
            if (row.h1, row.h2) != (shape.h1, shape.h2) {
                return false;
            }
            let t = tuple(row);
            let equal_ok = (shape.equal < 1 || t.0 == probe.0)
                && (shape.equal < 2 || t.1 == probe.1);
            let last_ok = match last {
                None => true,
                Some((operator, operand)) => {
                    let o = tuple(operand);
                    let cmp = match shape.equal {
                        0 => t.0.cmp(&o.0),
                        1 => t.1.cmp(&o.1),
                        _ => t.2.cmp(&o.2),
                    };
                    let starts = match shape.equal {
                        1 => t.1.starts_with(&o.1),
                        _ => t.2.starts_with(&o.2),
                    };
                    let operator = if *operator == 5 && shape.equal == 0 { 0 } else { *operator };
                    match operator {
                        0 => cmp.is_lt(),
                        1 => cmp.is_le(),
                        2 => cmp.is_gt(),
                        3 => cmp.is_ge(),
                        4 => cmp.is_eq(),
                        _ => starts,
                    }
                }
            };
            equal_ok && last_ok
        }).map(|(i, _)| i).collect();
        // Equal tuples are ordered by the table's stored key (hash first), which the model
        // leaves alone: it compares the sequence of tuples and the set of items.
        expected.sort_by_key(|i| tuple(&rows[*i]));
        if !shape.forward {
            expected.reverse();
        }
        let mut got: Vec<usize> = Vec::new();
        let mut start: Option<Value> = None;
        for _ in 0..100 {
            let mut extra = json!({"Limit": shape.limit, "ScanIndexForward": shape.forward});
            if let Some(start) = &start {
                extra["ExclusiveStartKey"] = start.clone();
            }
            let page = query(&mut engine, &condition, Value::Object(values.clone()), extra).unwrap();
            got.extend(keys(&page).iter().map(|k| k[1..].parse::<usize>().unwrap()));
            match page.get("LastEvaluatedKey") {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        let tuples = |indexes: &[usize]| indexes.iter().map(|i| tuple(&rows[*i])).collect::<Vec<_>>();
        prop_assert_eq!(tuples(&got), tuples(&expected), "{}", condition);
        got.sort_unstable();
        expected.sort_unstable();
        prop_assert_eq!(got, expected, "{}", condition);
    }
}
