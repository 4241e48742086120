//! Criterion benchmarks of the engine's hot paths: expression parsing and evaluation, item
//! encoding and decoding, single-item requests and a ten-action TransactWriteItems on a table of
//! 100,000 items, and DynamoDB
//! Streams (GetRecords of 1,000 records; a put on a table with two GSIs and a stream).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use dynasim_engine::api::*;
use dynasim_engine::expr::ExpressionKind;
use dynasim_engine::expr::eval::evaluate;
use dynasim_engine::expr::parse::{parse_condition, parse_update};
use dynasim_engine::expr::resolve::Placeholders;
use dynasim_engine::expr::update::apply;
use dynasim_engine::types::item::{Item, decode, encode};
use dynasim_engine::types::value::{RawValue, Value};
use dynasim_engine::{Config, Engine};
use std::collections::BTreeMap;

fn bench_item() -> Item {
    let raw: RawValue = serde_json::from_str(&format!(
        r#"{{"M":{{"pk":{{"S":"p000123"}},"sk":{{"S":"s00042"}},"body":{{"S":"{}"}},"n":{{"N":"12345"}},"tags":{{"SS":["a","b","c"]}},"doc":{{"M":{{"x":{{"L":[{{"N":"1"}},{{"BOOL":true}}]}}}}}}}}}}"#,
        "d".repeat(170)
    ))
    .unwrap();
    match raw.check().unwrap() {
        Value::M(m) => m,
        _ => unreachable!(),
    }
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, RawValue> {
    pairs
        .iter()
        .map(|(k, json)| (k.to_string(), serde_json::from_str(json).unwrap()))
        .collect()
}

fn expressions(c: &mut Criterion) {
    let text = "attribute_exists(pk) AND n BETWEEN :lo AND :hi AND (contains(tags, :t) OR begins_with(body, :d)) AND size(doc.x) = :two";
    let vals = values(&[
        (":lo", r#"{"N":"1"}"#),
        (":hi", r#"{"N":"99999"}"#),
        (":t", r#"{"S":"b"}"#),
        (":d", r#"{"S":"dd"}"#),
        (":two", r#"{"N":"2"}"#),
    ]);
    c.bench_function("condition/parse+resolve", |b| {
        b.iter(|| {
            let raw = parse_condition(ExpressionKind::Condition, black_box(text)).unwrap();
            let mut placeholders = Placeholders::new(None, Some(&vals)).unwrap();
            placeholders
                .condition(ExpressionKind::Condition, &raw)
                .unwrap()
        })
    });
    let mut placeholders = Placeholders::new(None, Some(&vals)).unwrap();
    let resolved = placeholders
        .condition(
            ExpressionKind::Condition,
            &parse_condition(ExpressionKind::Condition, text).unwrap(),
        )
        .unwrap();
    let item = bench_item();
    c.bench_function("condition/evaluate", |b| {
        b.iter(|| assert!(evaluate(black_box(&resolved), black_box(&item))))
    });

    let update_values = values(&[
        (":one", r#"{"N":"1"}"#),
        (":s", r#"{"SS":["z"]}"#),
        (":v", r#"{"S":"new"}"#),
    ]);
    let update = "SET n = n + :one, doc.x[0] = :v ADD tags :s REMOVE body";
    c.bench_function("update/parse+resolve+apply", |b| {
        b.iter(|| {
            let mut placeholders = Placeholders::new(None, Some(&update_values)).unwrap();
            let actions = placeholders
                .update(&parse_update(black_box(update)).unwrap())
                .unwrap();
            apply(&item, true, &actions).unwrap()
        })
    });
}

fn items(c: &mut Criterion) {
    let item = bench_item();
    let encoded = encode(&item);
    c.bench_function("item/encode", |b| b.iter(|| encode(black_box(&item))));
    c.bench_function("item/decode", |b| b.iter(|| decode(black_box(&encoded))));
    c.bench_function("item/check_from_wire", |b| {
        let raw: BTreeMap<String, RawValue> =
            serde_json::from_str(&serde_json::to_string(&item).unwrap()).unwrap();
        b.iter(|| dynasim_engine::ops::common::check_item(black_box(&raw)).unwrap())
    });
}

fn requests(c: &mut Criterion) {
    let mut engine = Engine::new(Config::default());
    let create: CreateTableInput = serde_json::from_str(r#"{"TableName":"bench","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#).unwrap();
    engine.execute(Request::CreateTable(create), 0).unwrap();
    let data = "d".repeat(170);
    for p in 0..1000 {
        for s in 0..100 {
            let put: WriteInput = serde_json::from_str(&format!(r#"{{"TableName":"bench","Item":{{"pk":{{"S":"p{p:06}"}},"sk":{{"S":"s{s:05}"}},"data":{{"S":"{data}"}},"n":{{"N":"{s}"}}}}}}"#)).unwrap();
            engine.execute(Request::PutItem(put), 1).unwrap();
        }
    }
    let get: GetItemInput = serde_json::from_str(
        r#"{"TableName":"bench","Key":{"pk":{"S":"p000500"},"sk":{"S":"s00050"}}}"#,
    )
    .unwrap();
    c.bench_function("engine/get_item (100k items)", |b| {
        b.iter(|| engine.execute(Request::GetItem(get.clone()), 2).unwrap())
    });
    let put: WriteInput = serde_json::from_str(&format!(r#"{{"TableName":"bench","Item":{{"pk":{{"S":"p000500"}},"sk":{{"S":"s00050"}},"data":{{"S":"{data}"}},"n":{{"N":"1"}}}}}}"#)).unwrap();
    c.bench_function("engine/put_item (100k items)", |b| {
        b.iter(|| engine.execute(Request::PutItem(put.clone()), 2).unwrap())
    });
    let update: WriteInput = serde_json::from_str(r#"{"TableName":"bench","Key":{"pk":{"S":"p000500"},"sk":{"S":"s00050"}},"UpdateExpression":"ADD cnt :one","ExpressionAttributeValues":{":one":{"N":"1"}}}"#).unwrap();
    c.bench_function("engine/update_item (100k items)", |b| {
        b.iter(|| {
            engine
                .execute(Request::UpdateItem(update.clone()), 2)
                .unwrap()
        })
    });
    // Ten actions: nine updates and a condition check, on items of one table of 100k items.
    let mut actions: Vec<String> = (0..9)
        .map(|i| format!(r#"{{"Update":{{"TableName":"bench","Key":{{"pk":{{"S":"p00060{i}"}},"sk":{{"S":"s00001"}}}},"UpdateExpression":"ADD cnt :one","ExpressionAttributeValues":{{":one":{{"N":"1"}}}}}}}}"#))
        .collect();
    actions.push(r#"{"ConditionCheck":{"TableName":"bench","Key":{"pk":{"S":"p000700"},"sk":{"S":"s00001"}},"ConditionExpression":"attribute_exists(pk)"}}"#.to_string());
    let transaction: TransactWriteItemsInput =
        serde_json::from_str(&format!(r#"{{"TransactItems":[{}]}}"#, actions.join(","))).unwrap();
    c.bench_function("engine/transact_write_items 10 actions (100k items)", |b| {
        b.iter(|| {
            engine
                .execute(Request::TransactWriteItems(transaction.clone()), 2)
                .unwrap()
        })
    });
    let query: QueryInput = serde_json::from_str(r#"{"TableName":"bench","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p000500"}},"Limit":20}"#).unwrap();
    c.bench_function("engine/query limit 20 (100k items)", |b| {
        b.iter(|| engine.execute(Request::Query(query.clone()), 2).unwrap())
    });
    // The same put with the journal on (serve --data-dir), taking the changes after each: the
    // engine's share of durability (the log's encoding and IO are the server's).
    engine.enable_journal();
    let mut changes = Vec::new();
    c.bench_function("engine/put_item journaled (100k items)", |b| {
        b.iter(|| {
            let answer = engine.execute(Request::PutItem(put.clone()), 2).unwrap();
            engine.take_changes(&mut changes);
            changes.clear();
            answer
        })
    });
}

/// The partition layer with its state machines in the loop: route by key to one of 64
/// partitions, admission against the partition's and table's buckets, the write in the
/// partition's store, replication through its three-replica group (propose, append, ack,
/// commit, heartbeat, apply, compact), and charging (load windows, heat sampling). Items are
/// pre-encoded, so request parsing and item encoding (measured above) are not included.
/// Half the operations are puts, half eventually consistent gets served by a drawn replica.
fn partitioned(c: &mut Criterion) {
    use dynasim_engine::capacity::admission::{Admission, Capacity, TableLoad, Usage};
    use dynasim_engine::limits::Limits;
    use dynasim_engine::partition::Partitions;
    const KEYS: usize = 100_000;
    const BATCH: usize = 1_000;
    let limits = Limits::default();
    let keys: Vec<Vec<u8>> = (0..KEYS)
        .map(|i| {
            let pk = format!("user{i:06}");
            let mut key = xxhash_rust::xxh3::xxh3_64(pk.as_bytes())
                .to_be_bytes()
                .to_vec();
            key.extend_from_slice(&(pk.len() as u16).to_be_bytes());
            key.extend_from_slice(pk.as_bytes());
            key
        })
        .collect();
    let item = vec![7u8; 100];
    let mut parts = Partitions::new(64);
    let mut table = TableLoad::new(&limits);
    let admission = Admission {
        capacity: Capacity::OnDemand,
        partitions: 64,
        adaptive: true,
        limits: &limits,
        table_arn: "arn:aws:dynamodb:us-east-1:000000000000:table/bench",
        gsi_read: false,
    };
    for key in &keys {
        parts.insert(key, &item);
    }
    let mut group = c.benchmark_group("partitioned");
    group.throughput(criterion::Throughput::Elements(BATCH as u64));
    let mut next = 0usize;
    let mut now_ms = 1_000_000u64;
    group.bench_function("mixed_ops_1000", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                // A fixed stride over the keys: deterministic and spread over partitions.
                next = (next + 7_919) % KEYS;
                let key = &keys[next];
                // One operation per simulated millisecond: well within a new on-demand
                // table's capacity, so nothing is throttled.
                now_ms += 1;
                let write = next.is_multiple_of(2);
                let partition = parts.partition_of_mut(key);
                let min = if write { 1.0 } else { 0.5 };
                table
                    .admit(&mut partition.load, write, min, None, now_ms, &admission)
                    .expect("on-demand capacity is ample");
                let usage = if write {
                    // Followers 1 ms behind: a write with no lag skips the round entirely.
                    parts.put(key, &item, now_ms, [1; 3], &limits);
                    Usage {
                        write: true,
                        units: 1.0,
                        index_units: &[],
                        returned: 0,
                    }
                } else {
                    let partition = parts.partition_of_mut(key);
                    let zone = next % 3;
                    partition.catch_up(now_ms);
                    black_box(partition.read(zone, key));
                    Usage {
                        write: false,
                        units: 0.5,
                        index_units: &[],
                        returned: 1,
                    }
                };
                let partition = parts.partition_of_mut(key);
                table.charge(&mut partition.load, key, &usage, now_ms, &admission);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, expressions, items, requests, partitioned, streams);
criterion_main!(benches);

/// A table with a stream (and optionally two GSIs): GetRecords of 1,000 records of about
/// 200-byte items (the engine call, and with the JSON rendering the server adds), and the
/// cost of a put with two GSIs and a stream beside the same put on a plain table.
fn streams(c: &mut Criterion) {
    let table = |name: &str, extras: &str| {
        serde_json::from_str::<CreateTableInput>(&format!(r#"{{"TableName":"{name}","KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}}],"AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"g1","AttributeType":"S"}},{{"AttributeName":"g2","AttributeType":"S"}}],"ProvisionedThroughput":{{"ReadCapacityUnits":1,"WriteCapacityUnits":900}}{extras}}}"#)).unwrap()
    };
    let gsis = r#","GlobalSecondaryIndexes":[{"IndexName":"by_g1","KeySchema":[{"AttributeName":"g1","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"},"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":900}},{"IndexName":"by_g2","KeySchema":[{"AttributeName":"g2","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"},"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":900}}]"#;
    let stream =
        r#","StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}"#;
    let mut engine = Engine::new(Config::default());
    for (name, extras) in [
        ("plain", String::new()),
        ("indexed", format!("{gsis}{stream}")),
    ] {
        let mut create = table(name, &extras);
        if name == "plain" {
            create.attribute_definitions.as_mut().unwrap().truncate(1);
        }
        engine.execute(Request::CreateTable(create), 0).unwrap();
    }
    let data = "d".repeat(170);
    let put = |table: &str, i: u64| -> WriteInput {
        serde_json::from_str(&format!(r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"p{i:06}"}},"g1":{{"S":"a{}"}},"g2":{{"S":"b{}"}},"data":{{"S":"{data}"}}}}}}"#, i % 97, i % 89)).unwrap()
    };
    // 1,000 changes into the one shard, 10 ms apart (within 900 WCU).
    for i in 0..1000 {
        engine
            .execute(Request::PutItem(put("indexed", i)), 1000 + i * 10)
            .unwrap();
    }
    let now = 1000 + 1000 * 10;
    let describe: DescribeStreamInput =
        serde_json::from_value(serde_json::json!({"StreamArn": stream_arn(&engine)})).unwrap();
    let shard = match engine
        .execute(Request::DescribeStream(describe), now)
        .unwrap()
    {
        Response::DescribeStream(d) => d.stream_description.shards[0].shard_id.clone(),
        _ => unreachable!(),
    };
    let iterator_input: GetShardIteratorInput = serde_json::from_value(serde_json::json!({"StreamArn": stream_arn(&engine), "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})).unwrap();
    let iterator = match engine
        .execute(Request::GetShardIterator(iterator_input), now)
        .unwrap()
    {
        Response::GetShardIterator(o) => o.shard_iterator,
        _ => unreachable!(),
    };
    let get: GetRecordsInput =
        serde_json::from_value(serde_json::json!({"ShardIterator": iterator, "Limit": 1000}))
            .unwrap();
    match engine
        .execute(Request::GetRecords(get.clone()), now)
        .unwrap()
    {
        Response::GetRecords(o) => assert_eq!(o.records.len(), 1000),
        _ => unreachable!(),
    }
    c.bench_function("engine/get_records 1000", |b| {
        b.iter(|| {
            engine
                .execute(Request::GetRecords(get.clone()), now)
                .unwrap()
        })
    });
    c.bench_function("engine/get_records 1000 + JSON", |b| {
        b.iter(|| {
            let answer = engine
                .execute(Request::GetRecords(get.clone()), now)
                .unwrap();
            black_box(serde_json::to_vec(&answer).unwrap())
        })
    });
    // Puts far apart in time so that no bucket runs dry; each changes the item (a new g2).
    let mut t = now;
    let mut n = 0u64;
    for table in ["plain", "indexed"] {
        c.bench_function(
            &format!("engine/put_item {table} (two GSIs and a stream: indexed)"),
            |b| {
                b.iter(|| {
                    n += 1;
                    t += 100;
                    engine
                        .execute(Request::PutItem(put(table, n % 1000)), t)
                        .unwrap()
                })
            },
        );
    }
}

fn stream_arn(engine: &Engine) -> String {
    engine
        .table("indexed")
        .unwrap()
        .latest_stream()
        .unwrap()
        .arn
        .clone()
}
