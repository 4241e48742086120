//! The write-ahead log and snapshots over in-memory storage: an engine recovered from its
//! directory answers every read as the engine that wrote it (tables, indexes, settings, tags,
//! items), with or without snapshots in between; a torn tail is cut off; damage anywhere else,
//! a foreign format version or a broken snapshot is an error naming the file and offset; a
//! transaction cut short at the log's tail comes back all or nothing.

use dynasim_engine::storage::durable::{Durable, PendingSnapshot};
use dynasim_engine::storage::memory::MemStorage;
use dynasim_engine::storage::{RecoveryBug, Storage, wal};
use dynasim_engine::{Config, Engine, Request};
use serde_json::{Value, json};
use std::sync::Arc;

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn request(operation: &str, body: Value) -> Request {
    match operation {
        "CreateTable" => Request::CreateTable(decode(body)),
        "UpdateTable" => Request::UpdateTable(decode(body)),
        "DeleteTable" => Request::DeleteTable(decode(body)),
        "DescribeTable" => Request::DescribeTable(decode(body)),
        "TagResource" => Request::TagResource(decode(body)),
        "UntagResource" => Request::UntagResource(decode(body)),
        "ListTagsOfResource" => Request::ListTagsOfResource(decode(body)),
        "UpdateContributorInsights" => Request::UpdateContributorInsights(decode(body)),
        "DescribeContributorInsights" => Request::DescribeContributorInsights(decode(body)),
        "PutItem" => Request::PutItem(decode(body)),
        "UpdateItem" => Request::UpdateItem(decode(body)),
        "DeleteItem" => Request::DeleteItem(decode(body)),
        "BatchWriteItem" => Request::BatchWriteItem(decode(body)),
        "TransactWriteItems" => Request::TransactWriteItems(decode(body)),
        "GetItem" => Request::GetItem(decode(body)),
        "Scan" => Request::Scan(decode(body)),
        "Query" => Request::Query(decode(body)),
        "ListTables" => Request::ListTables(decode(body)),
        other => panic!("no operation {other}"),
    }
}

/// When a begun snapshot reaches the disk.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Written {
    /// At once, as `Durable::snapshot` does.
    Now,
    /// After the next request, as `serve`'s writer thread does beside the requests.
    Later,
    /// Never: the process died while writing every one of them.
    Lost,
}

/// An engine that persists into `storage`, as a host drives it: execute, append, sync.
struct Host {
    engine: Engine,
    durable: Durable,
    written: Written,
    pending: Option<PendingSnapshot>,
}

impl Host {
    fn open(storage: &Arc<MemStorage>, now_ms: u64) -> Result<Host, String> {
        let mut engine = Engine::new(Config::default());
        let (durable, _) =
            Durable::open(storage.clone(), &mut engine, now_ms).map_err(|e| e.to_string())?;
        Ok(Host {
            engine,
            durable,
            written: Written::Now,
            pending: None,
        })
    }

    fn run(&mut self, operation: &str, body: Value, now_ms: u64) -> Value {
        let result = self.engine.execute(request(operation, body), now_ms);
        self.durable.append(&mut self.engine).unwrap();
        self.durable.sync().unwrap();
        if let Some(pending) = self.pending.take() {
            let bytes = pending.write().unwrap();
            self.durable.snapshot_written(bytes);
        }
        if self.durable.snapshot_due() {
            let pending = self.durable.begin_snapshot(&self.engine).unwrap();
            match self.written {
                Written::Now => {
                    let bytes = pending.write().unwrap();
                    self.durable.snapshot_written(bytes);
                }
                Written::Later => self.pending = Some(pending),
                Written::Lost => {
                    let bytes = self.durable.snapshot_bytes();
                    self.durable.snapshot_written(bytes);
                }
            }
        }
        match result {
            Ok(response) => serde_json::to_value(&response).unwrap(),
            Err(error) => json!({"error": error.message}),
        }
    }
}

const T0: u64 = 1_700_000_000_000;

/// What a client can read of the whole state: every table's description, tags, insights
/// setting, and every item through the table and its indexes.
fn observe(host: &mut Host, now_ms: u64) -> Value {
    let tables = host.run("ListTables", json!({}), now_ms);
    let mut seen = vec![tables.clone()];
    for name in tables["TableNames"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let mut description = host.run("DescribeTable", json!({"TableName": name}), now_ms);
        // Counts and sizes are refreshed about every six hours in DynamoDB; ours are exact.
        seen.push(description.take());
        let arn = format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}");
        seen.push(host.run("ListTagsOfResource", json!({"ResourceArn": arn}), now_ms));
        seen.push(host.run(
            "DescribeContributorInsights",
            json!({"TableName": name}),
            now_ms,
        ));
        seen.push(host.run("Scan", json!({"TableName": name}), now_ms));
    }
    seen.push(host.run(
        "Query",
        json!({"TableName": "orders", "IndexName": "by_status",
               "KeyConditionExpression": "st = :s", "ExpressionAttributeValues": {":s": {"S": "open"}}}),
        now_ms,
    ));
    Value::Array(seen)
}

/// A history with every kind of change: tables with both kinds of index, settings, tags,
/// items written, overwritten, updated and deleted, a table deleted and one created again.
fn workload(host: &mut Host) {
    let mut now = T0;
    let mut tick = || {
        now += 10;
        now
    };
    host.run("CreateTable", json!({
        "TableName": "orders",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"}, {"AttributeName": "st", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "LocalSecondaryIndexes": [{"IndexName": "by_st", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "st", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        "BillingMode": "PROVISIONED", "ProvisionedThroughput": {"ReadCapacityUnits": 50, "WriteCapacityUnits": 50},
        "Tags": [{"Key": "team", "Value": "a"}]
    }), tick());
    host.run("CreateTable", json!({
        "TableName": "gone", "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"
    }), tick());
    let later = T0 + 600_000;
    for i in 0..40 {
        host.run("PutItem", json!({"TableName": "orders", "Item": {
            "pk": {"S": format!("c{}", i % 7)}, "sk": {"N": i.to_string()},
            "st": {"S": if i % 3 == 0 { "open" } else { "shipped" }},
            "doc": {"M": {"lines": {"L": [{"N": "1.50"}, {"S": "x"}]}, "tags": {"SS": ["a", "b"]}}}}}), later + i);
    }
    host.run("UpdateItem", json!({"TableName": "orders", "Key": {"pk": {"S": "c1"}, "sk": {"N": "1"}},
        "UpdateExpression": "SET st = :o ADD n :one", "ExpressionAttributeValues": {":o": {"S": "open"}, ":one": {"N": "1"}}}), later + 100);
    host.run(
        "DeleteItem",
        json!({"TableName": "orders", "Key": {"pk": {"S": "c2"}, "sk": {"N": "2"}}}),
        later + 101,
    );
    host.run(
        "BatchWriteItem",
        json!({"RequestItems": {"orders": [
        {"PutRequest": {"Item": {"pk": {"S": "z"}, "sk": {"N": "0"}, "st": {"S": "open"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "c3"}, "sk": {"N": "3"}}}}]}}),
        later + 102,
    );
    host.run("UpdateTable", json!({"TableName": "orders",
        "AttributeDefinitions": [{"AttributeName": "st", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by_status",
            "KeySchema": [{"AttributeName": "st", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}}]}), later + 200);
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/orders";
    host.run(
        "TagResource",
        json!({"ResourceArn": arn, "Tags": [{"Key": "env", "Value": "prod"}]}),
        later + 300,
    );
    host.run(
        "UntagResource",
        json!({"ResourceArn": arn, "TagKeys": ["team"]}),
        later + 301,
    );
    host.run(
        "UpdateContributorInsights",
        json!({"TableName": "orders", "ContributorInsightsAction": "ENABLE"}),
        later + 302,
    );
    host.run("DeleteTable", json!({"TableName": "gone"}), later + 400);
    for i in 40..60 {
        host.run(
            "PutItem",
            json!({"TableName": "orders", "Item": {
            "pk": {"S": format!("c{}", i % 7)}, "sk": {"N": i.to_string()}, "st": {"S": "open"}}}),
            later + 1_000 + i,
        );
    }
    host.run("CreateTable", json!({
        "TableName": "gone", "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"
    }), later + 600_000);
    host.run(
        "PutItem",
        json!({"TableName": "gone", "Item": {"k": {"S": "again"}}}),
        later + 700_000,
    );
}

const OBSERVED_AT: u64 = T0 + 2_000_000;

fn written(snapshot_every_bytes: Option<u64>) -> (Arc<MemStorage>, Value) {
    written_with(snapshot_every_bytes, Written::Now)
}

fn written_with(snapshot_every_bytes: Option<u64>, written: Written) -> (Arc<MemStorage>, Value) {
    let storage = Arc::new(MemStorage::new());
    let mut host = Host::open(&storage, T0).unwrap();
    host.written = written;
    if let Some(bytes) = snapshot_every_bytes {
        host.durable.set_snapshot_log_bytes(bytes);
    }
    workload(&mut host);
    let seen = observe(&mut host, OBSERVED_AT);
    (storage, seen)
}

#[test]
fn a_recovered_engine_answers_as_the_one_that_wrote() {
    // No snapshot, snapshots every few changes, and one at every change.
    for every in [None, Some(4_000), Some(0)] {
        let (storage, before) = written(every);
        let mut recovered = Host::open(&storage, OBSERVED_AT).unwrap();
        assert_eq!(
            observe(&mut recovered, OBSERVED_AT),
            before,
            "snapshots: {every:?}"
        );
        // And again: recovery itself leaves a directory that recovers the same.
        let mut again = Host::open(&storage, OBSERVED_AT).unwrap();
        assert_eq!(
            observe(&mut again, OBSERVED_AT),
            before,
            "snapshots: {every:?}"
        );
    }
}

#[test]
fn a_snapshot_written_beside_later_appends_or_never_written_loses_nothing() {
    // `serve` writes a snapshot on a thread of its own while requests append to the segment
    // it began; a crash may come before it is in place (here: before every one of them).
    for written in [Written::Later, Written::Lost] {
        for every in [Some(4_000), Some(0)] {
            let (storage, before) = written_with(every, written);
            let mut recovered = Host::open(&storage, OBSERVED_AT).unwrap();
            assert_eq!(
                observe(&mut recovered, OBSERVED_AT),
                before,
                "{written:?}, snapshots: {every:?}"
            );
            let files = storage.list().unwrap();
            let snapshots = files.iter().filter(|f| f.ends_with(".snap")).count();
            let segments = files.iter().filter(|f| f.starts_with("wal-")).count();
            match written {
                // The segments a snapshot covers are gone once it is in place; the newest
                // snapshot's own segment, and the one begun after the last (unwritten) one,
                // stay.
                Written::Later => assert!(snapshots == 1 && segments <= 2, "{files:?}"),
                // No snapshot reached the disk: every segment since the start stays.
                _ => assert!(snapshots == 0 && segments > 2, "{files:?}"),
            }
        }
    }
}

#[test]
fn snapshots_compact_the_log() {
    let (storage, _) = written(Some(0));
    let files = storage.list().unwrap();
    let snapshots = files.iter().filter(|f| f.starts_with("snapshot-")).count();
    let segments = files.iter().filter(|f| f.starts_with("wal-")).count();
    assert_eq!((snapshots, segments), (1, 1), "{files:?}");
}

fn last_segment(storage: &MemStorage) -> String {
    let files = storage.list().unwrap();
    files
        .into_iter()
        .rfind(|f| wal::segment_lsn(f).is_some())
        .unwrap()
}

#[test]
fn a_torn_tail_is_cut_off_and_the_rest_recovers() {
    let storage = Arc::new(MemStorage::new());
    let mut host = Host::open(&storage, T0).unwrap();
    workload(&mut host);
    let before = observe(&mut host, OBSERVED_AT);
    let segment = last_segment(&storage);
    let whole = storage.contents(&segment).unwrap();
    // An append that did not finish: the start of one more PutItem's frame.
    host.run(
        "PutItem",
        json!({"TableName": "orders", "Item": {"pk": {"S": "torn"}, "sk": {"N": "1"}}}),
        OBSERVED_AT,
    );
    let longer = storage.contents(&segment).unwrap();
    for cut in [whole.len() + 3, whole.len() + 8, longer.len() - 1] {
        storage.set_contents(&segment, longer[..cut].to_vec());
        let (mut engine, storage) = (Engine::new(Config::default()), storage.clone());
        let (_, recovered) = Durable::open(storage.clone(), &mut engine, OBSERVED_AT).unwrap();
        let torn = recovered.torn.expect("the torn tail is reported");
        assert_eq!(
            (torn.1, torn.2),
            (whole.len() as u64, (cut - whole.len()) as u64)
        );
        let mut host = Host::open(&storage, OBSERVED_AT).unwrap();
        assert_eq!(observe(&mut host, OBSERVED_AT), before, "cut at {cut}");
    }
}

#[test]
fn damage_before_the_tail_is_an_error_naming_file_and_offset() {
    let (storage, _) = written(None);
    let segment = last_segment(&storage);
    let mut bytes = storage.contents(&segment).unwrap();
    let offset = 36 + 8 + 5; // inside the first frame's body
    bytes[offset] ^= 0x01;
    storage.set_contents(&segment, bytes);
    let error = Host::open(&storage, OBSERVED_AT).err().unwrap();
    assert!(
        error.starts_with(&format!("{segment} at offset 36: ")),
        "{error}"
    );
    assert!(
        error.contains("checksum") && error.contains("damaged"),
        "{error}"
    );
}

#[test]
fn a_foreign_version_or_a_broken_snapshot_is_refused() {
    let (storage, _) = written(None);
    let segment = last_segment(&storage);
    let mut bytes = storage.contents(&segment).unwrap();
    bytes[8] = 9;
    storage.set_contents(&segment, bytes);
    let error = Host::open(&storage, OBSERVED_AT).err().unwrap();
    assert!(
        error.contains(
            "at offset 0: format version 9; this dynasim reads log segments of versions 1 to 2"
        ),
        "{error}"
    );

    let (storage, _) = written(Some(0));
    let snapshot = storage
        .list()
        .unwrap()
        .into_iter()
        .find(|f| f.starts_with("snapshot-"))
        .unwrap();
    let mut bytes = storage.contents(&snapshot).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    storage.set_contents(&snapshot, bytes.clone());
    let error = Host::open(&storage, OBSERVED_AT).err().unwrap();
    assert!(error.starts_with(&snapshot), "{error}");
    // Cut short: the end record is missing.
    bytes[at] ^= 0x10;
    storage.set_contents(&snapshot, bytes[..bytes.len() - 17].to_vec());
    let error = Host::open(&storage, OBSERVED_AT).err().unwrap();
    assert!(
        error.contains(&snapshot) && error.contains("not written whole"),
        "{error}"
    );
}

#[test]
fn an_unsynced_segment_header_starts_over() {
    let (storage, before) = written(None);
    let next = Host::open(&storage, OBSERVED_AT)
        .unwrap()
        .durable
        .next_lsn();
    // A crash while the next segment was being created: a file shorter than its header.
    let name = wal::segment_name(next);
    storage.set_contents(&name, b"DS".to_vec());
    let mut host = Host::open(&storage, OBSERVED_AT).unwrap();
    assert_eq!(observe(&mut host, OBSERVED_AT), before);
    assert_eq!(
        storage.contents(&name).unwrap().len(),
        36,
        "the segment starts over"
    );
    // The same file where the log has not reached its lsn: a segment is missing.
    storage.remove(&name).unwrap();
    storage.set_contents(&wal::segment_name(next + 5), b"DS".to_vec());
    let error = Host::open(&storage, OBSERVED_AT).err().unwrap();
    assert!(error.contains("a segment is missing"), "{error}");
}

#[test]
fn the_observation_covers_what_it_claims() {
    // Guards the round-trip test against comparing empty answers.
    let (_, seen) = written(None);
    let text = seen.to_string();
    let seen = seen.as_array().unwrap();
    assert_eq!(seen[0]["TableNames"], json!(["gone", "orders"]));
    let query = seen.last().unwrap();
    assert!(query["Count"].as_u64().unwrap() > 20, "{query}");
    for needle in [
        "by_status",
        "by_st",
        "\"env\"",
        "ENABLED",
        "\"again\"",
        "1.5",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(!text.contains("\"team\""), "the tag was removed");
}

/// The three items of the transaction below, as a recovered engine holds them (`None`: absent).
fn transacted(storage: &Arc<MemStorage>, bug: Option<RecoveryBug>) -> Vec<Option<String>> {
    let mut engine = Engine::new(Config::default());
    Durable::open_broken(storage.clone(), &mut engine, OBSERVED_AT, bug).unwrap();
    ["old", "new1", "new2"]
        .iter()
        .map(|key| {
            let get = json!({"TableName": "orders", "Key": {"pk": {"S": key}, "sk": {"N": "0"}}});
            let answer = engine
                .execute(request("GetItem", get), OBSERVED_AT)
                .unwrap();
            let answer = serde_json::to_value(&answer).unwrap();
            answer["Item"]["v"]["S"].as_str().map(String::from)
        })
        .collect()
}

fn item(key: &str, v: &str) -> Value {
    json!({"pk": {"S": key}, "sk": {"N": "0"}, "st": {"S": "open"}, "v": {"S": v}})
}

/// A log whose last group is a three-item TransactWriteItems that overwrites an item; the
/// segment's bytes before the transaction and after it.
fn transaction_logged() -> (Arc<MemStorage>, String, Vec<u8>, Vec<u8>) {
    let storage = Arc::new(MemStorage::new());
    let mut host = Host::open(&storage, T0).unwrap();
    workload(&mut host);
    let old = json!({"TableName": "orders", "Item": item("old", "before")});
    host.run("PutItem", old, OBSERVED_AT);
    let segment = last_segment(&storage);
    let before = storage.contents(&segment).unwrap();
    let puts: Vec<Value> = [("old", "after"), ("new1", "after"), ("new2", "after")]
        .iter()
        .map(|(k, v)| json!({"Put": {"TableName": "orders", "Item": item(k, v)}}))
        .collect();
    let answer = host.run(
        "TransactWriteItems",
        json!({"TransactItems": puts}),
        OBSERVED_AT,
    );
    assert!(answer.get("error").is_none(), "{answer}");
    let after = storage.contents(&segment).unwrap();
    (storage, segment, before, after)
}

#[test]
fn a_transaction_cut_short_recovers_all_or_nothing() {
    let (storage, segment, before, after) = transaction_logged();
    let old = vec![Some("before".to_string()), None, None];
    let new = vec![Some("after".to_string()); 3];
    let lsn_before = Host::open(&storage, OBSERVED_AT)
        .unwrap()
        .durable
        .next_lsn()
        - 3;
    assert!(after.len() > before.len() + 3 * 8, "three frames");
    for cut in before.len()..=after.len() {
        storage.set_contents(&segment, after[..cut].to_vec());
        let expected = if cut == after.len() { &new } else { &old };
        assert_eq!(&transacted(&storage, None), expected, "cut at {cut}");
        // The log goes on after the last whole group, reusing the cut group's lsns.
        let mut host = Host::open(&storage, OBSERVED_AT).unwrap();
        let lsn = host.durable.next_lsn();
        assert_eq!(lsn, lsn_before + if cut == after.len() { 3 } else { 0 });
        let put = json!({"TableName": "orders", "Item": item("later", "x")});
        host.run("PutItem", put, OBSERVED_AT);
        assert_eq!(host.durable.next_lsn(), lsn + 1);
        assert_eq!(
            &transacted(&storage, None),
            expected,
            "cut at {cut}, then a put"
        );
    }
}

#[test]
fn the_cut_transaction_catches_a_recovery_that_replays_part_of_a_group() {
    let (storage, segment, before, after) = transaction_logged();
    let bug = Some(RecoveryBug::ReplaysIncompleteGroups);
    let mixed: Vec<usize> = (before.len()..after.len())
        .filter(|&cut| {
            storage.set_contents(&segment, after[..cut].to_vec());
            let items = transacted(&storage, bug);
            let new = items
                .iter()
                .filter(|v| v.as_deref() == Some("after"))
                .count();
            let old = items == [Some("before".to_string()), None, None];
            !(old || new == 3)
        })
        .collect();
    assert!(
        !mixed.is_empty(),
        "the broken recovery never mixed old and new"
    );
}
