//! DynamoDB Streams through `Engine::execute` (dynamodb-facts.md §8): the stream a table's
//! StreamSpecification asks for, the records its writes leave, shards that follow splits and
//! roll over, retention, and the Streams API's answers and errors. The property test replays
//! every shard in lineage order and must rebuild the table exactly, with each item's records
//! complete, in order and without duplicates; broken histories (a record dropped, duplicated,
//! or two of one item swapped) are shown to fail that check.

use dynasim_engine::limits::Limits;
use dynasim_engine::{Config, Engine, Error, ErrorKind, Request};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const T0: u64 = 1_796_169_600_000;

fn engine_with(limits: Limits) -> Engine {
    Engine::new(Config {
        limits,
        ..Config::default()
    })
}

fn call(engine: &mut Engine, operation: &str, body: Value, now_ms: u64) -> Result<Value, Error> {
    let request = match operation {
        "CreateTable" => Request::CreateTable(serde_json::from_value(body).unwrap()),
        "UpdateTable" => Request::UpdateTable(serde_json::from_value(body).unwrap()),
        "DeleteTable" => Request::DeleteTable(serde_json::from_value(body).unwrap()),
        "DescribeTable" => Request::DescribeTable(serde_json::from_value(body).unwrap()),
        "PutItem" => Request::PutItem(serde_json::from_value(body).unwrap()),
        "UpdateItem" => Request::UpdateItem(serde_json::from_value(body).unwrap()),
        "DeleteItem" => Request::DeleteItem(serde_json::from_value(body).unwrap()),
        "Scan" => Request::Scan(serde_json::from_value(body).unwrap()),
        "ListStreams" => Request::ListStreams(serde_json::from_value(body).unwrap()),
        "DescribeStream" => Request::DescribeStream(serde_json::from_value(body).unwrap()),
        "GetShardIterator" => Request::GetShardIterator(serde_json::from_value(body).unwrap()),
        "GetRecords" => Request::GetRecords(serde_json::from_value(body).unwrap()),
        other => panic!("no {other} here"),
    };
    engine
        .execute(request, now_ms)
        .map(|r| serde_json::to_value(&r).unwrap())
}

fn ok(engine: &mut Engine, operation: &str, body: Value, now_ms: u64) -> Value {
    call(engine, operation, body, now_ms).unwrap_or_else(|e| panic!("{operation}: {e}"))
}

fn err(engine: &mut Engine, operation: &str, body: Value, now_ms: u64) -> Error {
    call(engine, operation, body, now_ms).expect_err(operation)
}

/// A provisioned table of `write_units` (one partition per 1,000, and one read unit), with
/// a stream of `view`.
fn create(engine: &mut Engine, name: &str, view: &str, write_units: u64) -> String {
    let answer = ok(
        engine,
        "CreateTable",
        json!({
            "TableName": name,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": write_units},
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": view}
        }),
        T0,
    );
    let description = &answer["TableDescription"];
    assert_eq!(
        description["StreamSpecification"],
        json!({"StreamEnabled": true, "StreamViewType": view})
    );
    let arn = description["LatestStreamArn"].as_str().unwrap().to_string();
    let label = description["LatestStreamLabel"].as_str().unwrap();
    assert_eq!(
        arn,
        format!(
            "{}/stream/{label}",
            description["TableArn"].as_str().unwrap()
        )
    );
    arn
}

fn put(engine: &mut Engine, table: &str, pk: &str, v: i64, now_ms: u64) {
    let item = json!({"pk": {"S": pk}, "v": {"N": v.to_string()}});
    ok(
        engine,
        "PutItem",
        json!({"TableName": table, "Item": item}),
        now_ms,
    );
}

fn delete(engine: &mut Engine, table: &str, pk: &str, now_ms: u64) {
    let key = json!({"pk": {"S": pk}});
    ok(
        engine,
        "DeleteItem",
        json!({"TableName": table, "Key": key}),
        now_ms,
    );
}

fn shards(engine: &mut Engine, arn: &str, now_ms: u64) -> Vec<Value> {
    let mut all = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut body = json!({"StreamArn": arn, "Limit": 2});
        if let Some(s) = &start {
            body["ExclusiveStartShardId"] = json!(s);
        }
        let page = ok(engine, "DescribeStream", body, now_ms);
        let description = &page["StreamDescription"];
        all.extend(description["Shards"].as_array().unwrap().iter().cloned());
        match description.get("LastEvaluatedShardId") {
            Some(id) => start = Some(id.as_str().unwrap().to_string()),
            None => return all,
        }
    }
}

fn iterator(engine: &mut Engine, arn: &str, shard: &str, kind: &str, now_ms: u64) -> String {
    let body = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind});
    ok(engine, "GetShardIterator", body, now_ms)["ShardIterator"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Every record of a shard from TRIM_HORIZON, `limit` a call, until the shard is drained (a
/// closed shard) or a call returns nothing (an open one).
fn drain(engine: &mut Engine, arn: &str, shard: &str, limit: u64, now_ms: u64) -> Vec<Value> {
    let mut it = Some(iterator(engine, arn, shard, "TRIM_HORIZON", now_ms));
    let mut records = Vec::new();
    while let Some(current) = it {
        let body = json!({"ShardIterator": current, "Limit": limit});
        let answer = ok(engine, "GetRecords", body, now_ms);
        let page = answer["Records"].as_array().unwrap();
        assert!(page.len() as u64 <= limit);
        if page.is_empty() && answer.get("NextShardIterator").is_some() {
            break;
        }
        records.extend(page.iter().cloned());
        it = answer
            .get("NextShardIterator")
            .map(|v| v.as_str().unwrap().to_string());
    }
    records
}

/// All records, shard by shard in DescribeStream's order (parents before children).
fn read_all(engine: &mut Engine, arn: &str, limit: u64, now_ms: u64) -> Vec<Value> {
    let shards = shards(engine, arn, now_ms);
    let ids: BTreeSet<&str> = shards
        .iter()
        .map(|s| s["ShardId"].as_str().unwrap())
        .collect();
    for shard in &shards {
        if let Some(parent) = shard.get("ParentShardId") {
            let parent = parent.as_str().unwrap();
            let position = shards.iter().position(|s| s["ShardId"] == parent);
            let child = shards.iter().position(|s| s["ShardId"] == shard["ShardId"]);
            assert!(
                !ids.contains(parent) || position < child,
                "a parent is listed first"
            );
        }
    }
    shards
        .iter()
        .flat_map(|s| drain(engine, arn, s["ShardId"].as_str().unwrap(), limit, now_ms))
        .collect()
}

#[test]
fn writes_leave_one_record_per_change_in_order() {
    let mut engine = engine_with(Limits::default());
    let arn = create(&mut engine, "orders", "NEW_AND_OLD_IMAGES", 900);
    put(&mut engine, "orders", "a", 1, T0 + 1);
    put(&mut engine, "orders", "a", 1, T0 + 2); // changes nothing
    put(&mut engine, "orders", "a", 2, T0 + 3);
    delete(&mut engine, "orders", "a", T0 + 4);
    delete(&mut engine, "orders", "a", T0 + 5); // deletes nothing
    let records = read_all(&mut engine, &arn, 1000, T0 + 6);
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    let modify = &records[1];
    assert_eq!(modify["eventSource"], "aws:dynamodb");
    assert_eq!(modify["eventVersion"], "1.1");
    assert_eq!(modify["awsRegion"], "us-east-1");
    assert_eq!(modify["eventID"].as_str().unwrap().len(), 32);
    let body = &modify["dynamodb"];
    assert_eq!(body["Keys"], json!({"pk": {"S": "a"}}));
    assert_eq!(body["OldImage"]["v"], json!({"N": "1"}));
    assert_eq!(body["NewImage"]["v"], json!({"N": "2"}));
    assert_eq!(body["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert_eq!(
        body["ApproximateCreationDateTime"],
        json!(((T0 + 3) / 1000) as f64)
    );
    assert!(records[2]["dynamodb"].get("NewImage").is_none());
    assert!(records[0]["dynamodb"].get("OldImage").is_none());
    assert!(records.iter().all(|r| r.get("userIdentity").is_none()));
}

#[test]
fn stream_specification_errors() {
    let mut engine = engine_with(Limits::default());
    create(&mut engine, "orders", "KEYS_ONLY", 900);
    let update = |spec: Value| json!({"TableName": "orders", "StreamSpecification": spec});
    let e = err(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"})),
        T0 + 1,
    );
    assert_eq!(e.kind, ErrorKind::Validation);
    assert!(e.message.contains("already has an enabled stream"), "{e}");
    let e = err(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamEnabled": true})),
        T0 + 1,
    );
    assert_eq!(e.kind, ErrorKind::Validation);
    let e = err(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamViewType": "KEYS_ONLY"})),
        T0 + 1,
    );
    assert!(
        e.message.contains("streamSpecification.streamEnabled"),
        "{e}"
    );
    let e = err(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamEnabled": true, "StreamViewType": "ALL"})),
        T0 + 1,
    );
    assert!(e.message.contains("Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"), "{e}");
    ok(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamEnabled": false})),
        T0 + 2,
    );
    let e = err(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamEnabled": false})),
        T0 + 3,
    );
    assert_eq!(e.kind, ErrorKind::Validation);
    // Re-enabling makes a new stream with a new ARN; the old one stays listed.
    let described = ok(
        &mut engine,
        "DescribeTable",
        json!({"TableName": "orders"}),
        T0 + 3,
    );
    let old = described["Table"]["LatestStreamArn"].clone();
    assert!(described["Table"].get("StreamSpecification").is_none());
    let answer = ok(
        &mut engine,
        "UpdateTable",
        update(json!({"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"})),
        T0 + 4,
    );
    let new = answer["TableDescription"]["LatestStreamArn"].clone();
    assert_ne!(old, new);
    let listed = ok(
        &mut engine,
        "ListStreams",
        json!({"TableName": "orders"}),
        T0 + 5,
    );
    assert_eq!(listed["Streams"].as_array().unwrap().len(), 2);
}

#[test]
fn shards_follow_splits_and_roll_over() {
    let limits = Limits {
        stream_shard_rollover_ms: 60_000,
        ..Limits::default()
    };
    let mut engine = engine_with(limits);
    let arn = create(&mut engine, "orders", "KEYS_ONLY", 900);
    assert_eq!(shards(&mut engine, &arn, T0).len(), 1);
    put(&mut engine, "orders", "a", 1, T0 + 1);
    let grow = json!({"TableName": "orders", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1800}});
    ok(&mut engine, "UpdateTable", grow, T0 + 2);
    let after = shards(&mut engine, &arn, T0 + 3);
    assert_eq!(after.len(), 3, "{after:?}");
    let parent = &after[0];
    assert!(
        parent["SequenceNumberRange"]
            .get("EndingSequenceNumber")
            .is_some()
    );
    for child in &after[1..] {
        assert_eq!(child["ParentShardId"], parent["ShardId"]);
        assert!(
            child["SequenceNumberRange"]
                .get("EndingSequenceNumber")
                .is_none()
        );
    }
    // A minute later both open shards have rolled over into one child each.
    let rolled = shards(&mut engine, &arn, T0 + 2 + 60_000);
    assert_eq!(rolled.len(), 5);
    assert_eq!(
        rolled
            .iter()
            .filter(|s| s["SequenceNumberRange"]
                .get("EndingSequenceNumber")
                .is_none())
            .count(),
        2
    );
    // The drained parent answers no NextShardIterator.
    let it = iterator(
        &mut engine,
        &arn,
        parent["ShardId"].as_str().unwrap(),
        "TRIM_HORIZON",
        T0 + 3,
    );
    let answer = ok(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": it}),
        T0 + 3,
    );
    assert_eq!(answer["Records"].as_array().unwrap().len(), 1);
    assert!(answer.get("NextShardIterator").is_none());
}

#[test]
fn iterators_expire_and_trimmed_records_are_gone() {
    let limits = Limits::default();
    let (retention, lifetime) = (
        limits.stream_retention_ms,
        limits.stream_iterator_lifetime_ms,
    );
    let mut engine = engine_with(limits);
    let arn = create(&mut engine, "orders", "KEYS_ONLY", 900);
    put(&mut engine, "orders", "a", 1, T0 + 1);
    let shard = shards(&mut engine, &arn, T0 + 1)[0]["ShardId"]
        .as_str()
        .unwrap()
        .to_string();
    let it = iterator(&mut engine, &arn, &shard, "TRIM_HORIZON", T0 + 2);
    let e = err(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": it}),
        T0 + 2 + lifetime,
    );
    assert_eq!(e.kind, ErrorKind::ExpiredIterator);
    let e = err(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": "nonsense"}),
        T0 + 2,
    );
    assert_eq!(e.kind, ErrorKind::Validation);
    // An iterator at the record, used after the record's retention: trimmed.
    let late = T0 + 1 + retention - 1000;
    let at = iterator(&mut engine, &arn, &shard, "TRIM_HORIZON", late);
    let e = err(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": at}),
        T0 + 1 + retention,
    );
    assert_eq!(e.kind, ErrorKind::TrimmedDataAccess);
    // TRIM_HORIZON now starts after the trimmed record.
    let fresh = iterator(
        &mut engine,
        &arn,
        &shard,
        "TRIM_HORIZON",
        T0 + 1 + retention,
    );
    let answer = ok(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": fresh}),
        T0 + 1 + retention,
    );
    assert_eq!(answer["Records"], json!([]));
    // The shard rolled over four hours in: closed and drained, it hands out no iterator.
    assert!(answer.get("NextShardIterator").is_none());
}

#[test]
fn sequence_number_iterators_and_their_errors() {
    let mut engine = engine_with(Limits::default());
    let arn = create(&mut engine, "orders", "KEYS_ONLY", 900);
    for (i, pk) in ["a", "b", "c"].iter().enumerate() {
        put(&mut engine, "orders", pk, 1, T0 + 1 + i as u64);
    }
    let shard = shards(&mut engine, &arn, T0 + 5)[0]["ShardId"]
        .as_str()
        .unwrap()
        .to_string();
    let records = drain(&mut engine, &arn, &shard, 1000, T0 + 5);
    let second = records[1]["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let from = |engine: &mut Engine, kind: &str| {
        let body = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind, "SequenceNumber": second});
        let it = ok(engine, "GetShardIterator", body, T0 + 6)["ShardIterator"].clone();
        ok(engine, "GetRecords", json!({"ShardIterator": it}), T0 + 6)["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["dynamodb"]["Keys"]["pk"]["S"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(from(&mut engine, "AT_SEQUENCE_NUMBER"), ["b", "c"]);
    assert_eq!(from(&mut engine, "AFTER_SEQUENCE_NUMBER"), ["c"]);
    let latest = iterator(&mut engine, &arn, &shard, "LATEST", T0 + 6);
    put(&mut engine, "orders", "d", 1, T0 + 7);
    let answer = ok(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": latest}),
        T0 + 8,
    );
    assert_eq!(answer["Records"].as_array().unwrap().len(), 1);
    let body = |kind: &str, seq: Option<&str>| {
        let mut b = json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind});
        if let Some(s) = seq {
            b["SequenceNumber"] = json!(s);
        }
        b
    };
    for (request, kind) in [
        (body("AT_SEQUENCE_NUMBER", None), ErrorKind::Validation),
        (body("LATEST", Some(&second)), ErrorKind::Validation),
        (body("SOMEWHERE", None), ErrorKind::Validation),
        (
            body("AT_SEQUENCE_NUMBER", Some("999999999999999999999999")),
            ErrorKind::Validation,
        ),
        (
            body("AT_SEQUENCE_NUMBER", Some("12")),
            ErrorKind::Validation,
        ),
    ] {
        assert_eq!(
            err(&mut engine, "GetShardIterator", request, T0 + 9).kind,
            kind
        );
    }
    let unknown = json!({"StreamArn": arn, "ShardId": "shardId-00000000000000000000-00000000", "ShardIteratorType": "LATEST"});
    assert_eq!(
        err(&mut engine, "GetShardIterator", unknown, T0 + 9).kind,
        ErrorKind::ResourceNotFound
    );
    let missing = format!("{arn}x");
    let e = err(
        &mut engine,
        "DescribeStream",
        json!({"StreamArn": missing}),
        T0 + 9,
    );
    assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    for limit in [0, 1001] {
        let e = err(
            &mut engine,
            "GetRecords",
            json!({"ShardIterator": latest, "Limit": limit}),
            T0 + 9,
        );
        assert_eq!(e.kind, ErrorKind::Validation, "{limit}");
    }
    for limit in [0, 101] {
        assert_eq!(
            err(&mut engine, "ListStreams", json!({"Limit": limit}), T0 + 9).kind,
            ErrorKind::Validation
        );
        assert_eq!(
            err(
                &mut engine,
                "DescribeStream",
                json!({"StreamArn": arn, "Limit": limit}),
                T0 + 9
            )
            .kind,
            ErrorKind::Validation
        );
    }
}

#[test]
fn a_deleted_tables_stream_stays_readable_for_the_retention() {
    let limits = Limits::default();
    let retention = limits.stream_retention_ms;
    let mut engine = engine_with(limits);
    let arn = create(&mut engine, "orders", "KEYS_ONLY", 900);
    put(&mut engine, "orders", "a", 1, T0 + 1);
    ok(
        &mut engine,
        "DeleteTable",
        json!({"TableName": "orders"}),
        T0 + 2,
    );
    let described = ok(
        &mut engine,
        "DescribeStream",
        json!({"StreamArn": arn}),
        T0 + 3,
    );
    assert_eq!(described["StreamDescription"]["StreamStatus"], "DISABLED");
    assert_eq!(read_all(&mut engine, &arn, 10, T0 + 3).len(), 1);
    let listed = ok(&mut engine, "ListStreams", json!({}), T0 + 3);
    assert_eq!(listed["Streams"].as_array().unwrap().len(), 1);
    let e = err(
        &mut engine,
        "DescribeStream",
        json!({"StreamArn": arn}),
        T0 + 2 + retention,
    );
    assert_eq!(e.kind, ErrorKind::ResourceNotFound);
    let listed = ok(&mut engine, "ListStreams", json!({}), T0 + 2 + retention);
    assert_eq!(listed["Streams"], json!([]));
}

#[test]
fn list_streams_pages_in_arn_order() {
    let mut engine = engine_with(Limits::default());
    for name in ["t-c", "t-a", "t-b"] {
        create(&mut engine, name, "KEYS_ONLY", 900);
    }
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut body = json!({"Limit": 2});
        if let Some(s) = &start {
            body["ExclusiveStartStreamArn"] = json!(s);
        }
        let page = ok(&mut engine, "ListStreams", body, T0 + 1);
        for s in page["Streams"].as_array().unwrap() {
            seen.push(s["TableName"].as_str().unwrap().to_string());
        }
        match page.get("LastEvaluatedStreamArn") {
            Some(arn) => start = Some(arn.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["t-a", "t-b", "t-c"]);
}

/// One step of the property test's workload.
#[derive(Clone, Debug)]
enum Step {
    Put(u8, i64),
    Delete(u8),
    Add(u8),
    Grow,
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..12, 0i64..3).prop_map(|(k, v)| Step::Put(k, v)),
        2 => (0u8..12).prop_map(Step::Delete),
        2 => (0u8..12).prop_map(Step::Add),
        1 => Just(Step::Grow),
        1 => (1u64..40_000).prop_map(Step::Wait),
    ]
}

/// The check the stream promises: replaying every record in lineage order (NEW_AND_OLD_IMAGES)
/// rebuilds `table` exactly; each record's old image is what the replay holds for the item
/// then (so nothing of an item is missing, repeated or out of order); sequence numbers rise
/// along each item's records; event ids are unique.
fn check_replay(records: &[Value], table: &BTreeMap<String, Value>) -> Result<(), String> {
    let mut replay: BTreeMap<String, Value> = BTreeMap::new();
    let mut last_sequence: BTreeMap<String, u128> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for record in records {
        let body = &record["dynamodb"];
        let key = body["Keys"]["pk"]["S"].as_str().unwrap().to_string();
        if !ids.insert(record["eventID"].as_str().unwrap().to_string()) {
            return Err(format!("event id repeated: {record}"));
        }
        let sequence: u128 = body["SequenceNumber"].as_str().unwrap().parse().unwrap();
        if last_sequence.get(&key).is_some_and(|&s| s >= sequence) {
            return Err(format!("{key}: sequence {sequence} not after the last"));
        }
        last_sequence.insert(key.clone(), sequence);
        let expected_old = replay.get(&key);
        if body.get("OldImage") != expected_old {
            return Err(format!(
                "{key}: old image {:?}, replay held {expected_old:?}",
                body.get("OldImage")
            ));
        }
        match record["eventName"].as_str().unwrap() {
            "REMOVE" => {
                replay.remove(&key);
            }
            _ => {
                replay.insert(key, body["NewImage"].clone());
            }
        }
    }
    if &replay != table {
        return Err(format!("replay {replay:?} != table {table:?}"));
    }
    Ok(())
}

fn table_items(engine: &mut Engine, now_ms: u64) -> BTreeMap<String, Value> {
    let scan = ok(
        engine,
        "Scan",
        json!({"TableName": "orders", "ConsistentRead": true}),
        now_ms,
    );
    scan["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["pk"]["S"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

fn run(steps: &[Step]) -> (Vec<Value>, BTreeMap<String, Value>) {
    let limits = Limits {
        stream_shard_rollover_ms: 30_000,
        ..Limits::default()
    };
    let mut engine = engine_with(limits);
    let arn = create(&mut engine, "orders", "NEW_AND_OLD_IMAGES", 900);
    let (mut now, mut units) = (T0 + 1, 900);
    for step in steps {
        now += 1;
        match *step {
            Step::Put(k, v) => put(&mut engine, "orders", &format!("k{k}"), v, now),
            Step::Delete(k) => delete(&mut engine, "orders", &format!("k{k}"), now),
            Step::Add(k) => {
                let body = json!({"TableName": "orders", "Key": {"pk": {"S": format!("k{k}")}},
                    "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}});
                ok(&mut engine, "UpdateItem", body, now);
            }
            Step::Grow if units < 7200 => {
                units *= 2;
                let body = json!({"TableName": "orders", "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": units}});
                ok(&mut engine, "UpdateTable", body, now);
            }
            Step::Grow => {}
            Step::Wait(ms) => now += ms,
        }
    }
    now += 1;
    (
        read_all(&mut engine, &arn, 3, now),
        table_items(&mut engine, now),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replaying_every_shard_by_lineage_rebuilds_the_table(steps in prop::collection::vec(step(), 1..60)) {
        let (records, table) = run(&steps);
        prop_assert_eq!(check_replay(&records, &table), Ok(()));
    }
}

#[test]
fn the_replay_check_catches_dropped_duplicated_and_reordered_records() {
    let steps = [
        Step::Put(1, 1),
        Step::Put(1, 2),
        Step::Grow,
        Step::Wait(31_000),
        Step::Add(1),
        Step::Delete(1),
        Step::Put(2, 1),
    ];
    let (records, table) = run(&steps);
    assert_eq!(check_replay(&records, &table), Ok(()));
    let of_one: Vec<usize> = (0..records.len())
        .filter(|&i| records[i]["dynamodb"]["Keys"]["pk"]["S"] == "k1")
        .collect();
    assert!(of_one.len() >= 4);
    let mut dropped = records.clone();
    dropped.remove(of_one[1]);
    assert!(check_replay(&dropped, &table).is_err());
    let mut duplicated = records.clone();
    duplicated.insert(of_one[1], records[of_one[1]].clone());
    assert!(check_replay(&duplicated, &table).is_err());
    let mut swapped = records.clone();
    swapped.swap(of_one[1], of_one[2]);
    assert!(check_replay(&swapped, &table).is_err());
}

#[test]
fn get_records_stops_at_one_megabyte_but_returns_at_least_one_record() {
    let mut engine = engine_with(Limits::default());
    let arn = create(&mut engine, "orders", "NEW_AND_OLD_IMAGES", 900);
    let big = "x".repeat(300 * 1024);
    for (i, v) in [1, 2, 3].iter().enumerate() {
        let item = json!({"pk": {"S": "a"}, "v": {"N": v.to_string()}, "pad": {"S": big}});
        ok(
            &mut engine,
            "PutItem",
            json!({"TableName": "orders", "Item": item}),
            T0 + 1 + i as u64,
        );
    }
    let shard = shards(&mut engine, &arn, T0 + 5)[0]["ShardId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut it = iterator(&mut engine, &arn, &shard, "TRIM_HORIZON", T0 + 5);
    let mut pages = Vec::new();
    for _ in 0..4 {
        let answer = ok(
            &mut engine,
            "GetRecords",
            json!({"ShardIterator": it}),
            T0 + 6,
        );
        let records = answer["Records"].as_array().unwrap();
        let bytes: u64 = records
            .iter()
            .map(|r| r["dynamodb"]["SizeBytes"].as_u64().unwrap())
            .sum();
        assert!(records.len() == 1 || bytes <= 1024 * 1024, "{bytes}");
        pages.push(records.len());
        it = answer["NextShardIterator"].as_str().unwrap().to_string();
    }
    // The insert (about 300 KB) and the first modify (about 600 KB) fit in 1 MB; the second
    // modify comes alone.
    assert_eq!(pages, [2, 1, 0, 0]);
}

#[test]
fn stream_arns_stay_unique_across_reenables_and_a_recreated_table() {
    // Review finding: two streams could share an ARN (re-enabled twice in one millisecond, or
    // a table deleted and created again with a stream in the same millisecond).
    let mut engine = engine_with(Limits::default());
    let mut arns = vec![create(&mut engine, "orders", "KEYS_ONLY", 900)];
    let update = |enabled: bool| {
        let spec = if enabled {
            json!({"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"})
        } else {
            json!({"StreamEnabled": false})
        };
        json!({"TableName": "orders", "StreamSpecification": spec})
    };
    for _ in 0..2 {
        ok(&mut engine, "UpdateTable", update(false), T0);
        let answer = ok(&mut engine, "UpdateTable", update(true), T0);
        arns.push(
            answer["TableDescription"]["LatestStreamArn"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ok(
        &mut engine,
        "DeleteTable",
        json!({"TableName": "orders"}),
        T0,
    );
    arns.push(create(&mut engine, "orders", "KEYS_ONLY", 900));
    let unique: BTreeSet<&String> = arns.iter().collect();
    assert_eq!(unique.len(), arns.len(), "{arns:?}");
    let latest = arns.last().unwrap();
    let described = ok(
        &mut engine,
        "DescribeStream",
        json!({"StreamArn": latest}),
        T0,
    );
    assert_eq!(described["StreamDescription"]["StreamStatus"], "ENABLED");
    let listed = ok(&mut engine, "ListStreams", json!({}), T0);
    assert_eq!(listed["Streams"].as_array().unwrap().len(), arns.len());
}

#[test]
fn describe_stream_pages_continue_after_a_dropped_start_shard() {
    // Review finding: a LastEvaluatedShardId dropped past the retention before the next page
    // ended the listing.
    let limits = Limits {
        stream_shard_rollover_ms: 10_000,
        stream_retention_ms: 100_000,
        ..Limits::default()
    };
    let mut engine = engine_with(limits);
    let arn = create(&mut engine, "orders", "KEYS_ONLY", 900);
    let first = ok(
        &mut engine,
        "DescribeStream",
        json!({"StreamArn": arn, "Limit": 2}),
        T0 + 200_000,
    );
    let description = &first["StreamDescription"];
    let start = description["LastEvaluatedShardId"]
        .as_str()
        .unwrap()
        .to_string();
    let all_then = shards(&mut engine, &arn, T0 + 200_000).len();
    // Twenty seconds on, the two listed shards (and the start shard) are gone.
    let body = json!({"StreamArn": arn, "ExclusiveStartShardId": start});
    let next = ok(&mut engine, "DescribeStream", body, T0 + 220_000);
    let rest = next["StreamDescription"]["Shards"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        rest + 2 >= all_then - 2,
        "{rest} shards after the dropped start, of {all_then}"
    );
    // An empty closed shard answers no NextShardIterator.
    let closed = shards(&mut engine, &arn, T0 + 220_000)[0].clone();
    let it = iterator(
        &mut engine,
        &arn,
        closed["ShardId"].as_str().unwrap(),
        "TRIM_HORIZON",
        T0 + 220_000,
    );
    let answer = ok(
        &mut engine,
        "GetRecords",
        json!({"ShardIterator": it}),
        T0 + 220_000,
    );
    assert_eq!(answer["Records"], json!([]));
    assert!(answer.get("NextShardIterator").is_none());
}
