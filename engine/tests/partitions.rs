//! Partitions, replica lag, admission control and metrics, through the engine's request API
//! with the caller's clock.

use dynasim_engine::limits::Limits;
use dynasim_engine::realism::profile::Profile;
use dynasim_engine::{Config, Engine, Error, ErrorKind, Item, Request, Response};
use serde_json::{Value as Json, json};

fn engine_with(limits: Limits, profile: &str, seed: u64) -> Engine {
    let profile: Profile = toml_profile(profile);
    Engine::with_profile(
        Config {
            limits,
            ..Config::default()
        },
        profile,
        seed,
    )
}

fn toml_profile(text: &str) -> Profile {
    // The engine does not parse files; tests build profiles from JSON of the same shape.
    if text.is_empty() {
        return Profile::default();
    }
    serde_json::from_str(text).unwrap()
}

fn request(op: &str, body: Json) -> Request {
    fn de<T: serde::de::DeserializeOwned>(body: Json) -> T {
        serde_json::from_value(body).unwrap()
    }
    match op {
        "CreateTable" => Request::CreateTable(de(body)),
        "UpdateTable" => Request::UpdateTable(de(body)),
        "PutItem" => Request::PutItem(de(body)),
        "DeleteItem" => Request::DeleteItem(de(body)),
        "GetItem" => Request::GetItem(de(body)),
        "BatchWriteItem" => Request::BatchWriteItem(de(body)),
        "Query" => Request::Query(de(body)),
        "Scan" => Request::Scan(de(body)),
        other => panic!("{other} is not used here"),
    }
}

fn run(engine: &mut Engine, op: &str, body: Json, now_ms: u64) -> Result<Response, Error> {
    engine.execute(request(op, body), now_ms)
}

fn create(engine: &mut Engine, name: &str, capacity: Json) {
    let mut body = json!({
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
    });
    body.as_object_mut()
        .unwrap()
        .extend(capacity.as_object().unwrap().clone());
    run(engine, "CreateTable", body, 0).unwrap();
}

fn on_demand() -> Json {
    json!({"BillingMode": "PAY_PER_REQUEST"})
}

fn provisioned(read: u64, write: u64) -> Json {
    json!({"ProvisionedThroughput": {"ReadCapacityUnits": read, "WriteCapacityUnits": write}})
}

fn put(
    engine: &mut Engine,
    table: &str,
    pk: &str,
    sk: i64,
    v: &str,
    now_ms: u64,
) -> Result<Response, Error> {
    run(
        engine,
        "PutItem",
        json!({"TableName": table, "Item": {"pk": {"S": pk}, "sk": {"N": sk.to_string()}, "v": {"S": v}}}),
        now_ms,
    )
}

fn get(
    engine: &mut Engine,
    table: &str,
    pk: &str,
    sk: i64,
    consistent: bool,
    now_ms: u64,
) -> Option<String> {
    let response = run(
        engine,
        "GetItem",
        json!({"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"N": sk.to_string()}}, "ConsistentRead": consistent}),
        now_ms,
    )
    .unwrap();
    let Response::Item(output) = response else {
        panic!("GetItem answers an item")
    };
    output.item.map(|item: Item| match &item["v"] {
        dynasim_engine::Value::S(s) => s.clone(),
        other => panic!("{other:?}"),
    })
}

fn to_json(response: &Response) -> Json {
    serde_json::to_value(response).unwrap()
}

/// Every page of a Query or Scan, as the wire would show them.
fn pages(engine: &mut Engine, op: &str, mut body: Json) -> Vec<Json> {
    let mut out = Vec::new();
    loop {
        let response = run(engine, op, body.clone(), 1).unwrap();
        let page = to_json(&response);
        let last = page.get("LastEvaluatedKey").cloned();
        out.push(page);
        match last {
            Some(key) => body["ExclusiveStartKey"] = key,
            None => return out,
        }
    }
}

#[test]
fn query_and_scan_answer_the_same_with_one_partition_or_hundreds() {
    let small_pages = Limits {
        page_size_bytes_max: 300,
        ..Limits::default()
    };
    let tiny_partitions = Limits {
        partition_size_bytes_max: 64,
        ..small_pages.clone()
    };
    let mut one = engine_with(small_pages, "", 0);
    let mut many = engine_with(tiny_partitions, "", 0);
    for engine in [&mut one, &mut many] {
        create(engine, "tbl", on_demand());
        for pk in 0..20 {
            for sk in 0..30 {
                put(engine, "tbl", &format!("p{pk}"), sk, "x", 1).unwrap();
            }
        }
    }
    let partitions = |e: &Engine| e.table("tbl").unwrap().partitions().count();
    // A new on-demand table starts with 4 partitions; tiny limits split it into hundreds,
    // including inside item collections (the table has no LSI).
    assert_eq!(partitions(&one), 4);
    assert!(partitions(&many) >= 200, "{} partitions", partitions(&many));
    let mut bodies = vec![
        ("Scan", json!({"TableName": "tbl"})),
        ("Scan", json!({"TableName": "tbl", "Limit": 7})),
        (
            "Scan",
            json!({"TableName": "tbl", "Segment": 1, "TotalSegments": 3}),
        ),
        (
            "Scan",
            json!({"TableName": "tbl", "Select": "COUNT", "FilterExpression": "sk > :s", "ExpressionAttributeValues": {":s": {"N": "10"}}}),
        ),
    ];
    for pk in [0, 7, 19] {
        bodies.push(("Query", json!({"TableName": "tbl", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": format!("p{pk}")}}})));
        bodies.push(("Query", json!({"TableName": "tbl", "Limit": 4, "ScanIndexForward": false, "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b", "ExpressionAttributeValues": {":p": {"S": format!("p{pk}")}, ":a": {"N": "3"}, ":b": {"N": "25"}}})));
    }
    for (op, body) in bodies {
        let a = pages(&mut one, op, body.clone());
        let b = pages(&mut many, op, body.clone());
        assert!(a.len() > 1 || op == "Query", "{op} {body} pages");
        assert_eq!(a, b, "{op} {body}");
    }
}

const LAG: &str = r#"{"defaults": {"replica_lag_ms": [100, 100]}}"#;

#[test]
fn eventually_consistent_reads_are_stale_within_the_lag_and_converge() {
    let mut engine = engine_with(Limits::default(), LAG, 7);
    create(&mut engine, "tbl", on_demand());
    put(&mut engine, "tbl", "a", 1, "v1", 1_000).unwrap();
    put(&mut engine, "tbl", "a", 1, "v2", 2_000).unwrap();
    let mut stale = 0;
    for i in 0..60 {
        let now = 2_001 + i;
        assert_eq!(
            get(&mut engine, "tbl", "a", 1, true, now).as_deref(),
            Some("v2"),
            "strong reads are never stale"
        );
        match get(&mut engine, "tbl", "a", 1, false, now).as_deref() {
            Some("v1") => stale += 1,
            Some("v2") => {}
            other => panic!("a read returned {other:?}, which was never written last"),
        }
    }
    // Two of three replicas lag: about two thirds of the reads are stale.
    assert!((25..=55).contains(&stale), "{stale} stale reads of 60");
    for i in 0..30 {
        assert_eq!(
            get(&mut engine, "tbl", "a", 1, false, 2_100 + i).as_deref(),
            Some("v2"),
            "converged after the lag"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_stale_reads() {
    let trace = |seed| {
        let mut engine = engine_with(Limits::default(), LAG, seed);
        create(&mut engine, "tbl", on_demand());
        put(&mut engine, "tbl", "a", 1, "v1", 1_000).unwrap();
        put(&mut engine, "tbl", "a", 1, "v2", 2_000).unwrap();
        (0..40)
            .map(|i| get(&mut engine, "tbl", "a", 1, false, 2_001 + i))
            .collect::<Vec<_>>()
    };
    assert_eq!(trace(3), trace(3));
    assert_ne!(trace(3), trace(4));
}

#[test]
fn without_a_profile_every_read_is_fresh() {
    let mut engine = engine_with(Limits::default(), "", 0);
    create(&mut engine, "tbl", on_demand());
    for i in 0..50 {
        put(&mut engine, "tbl", "a", 1, &format!("v{i}"), 1_000 + i).unwrap();
        assert_eq!(
            get(&mut engine, "tbl", "a", 1, false, 1_000 + i),
            Some(format!("v{i}"))
        );
    }
}

const THROTTLING: &str = r#"{"defaults": {"throttling": true, "adaptive_capacity": false}}"#;

fn no_burst() -> Limits {
    Limits {
        burst_seconds: 0.0,
        ..Limits::default()
    }
}

#[test]
fn provisioned_throttling_arrives_exactly_when_the_bucket_empties() {
    let mut engine = engine_with(no_burst(), THROTTLING, 0);
    create(&mut engine, "tbl", provisioned(5, 5));
    // The bucket starts with one second of capacity: five 1-WCU writes.
    for i in 0..5 {
        put(&mut engine, "tbl", "a", i, "x", 10_000).unwrap();
    }
    let error = put(&mut engine, "tbl", "a", 5, "x", 10_000).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ProvisionedThroughputExceeded);
    assert_eq!(
        error.message,
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
    );
    assert_eq!(
        error.throttling_reasons[0].reason,
        "TableWriteProvisionedThroughputExceeded"
    );
    assert_eq!(
        error.throttling_reasons[0].resource,
        "arn:aws:dynamodb:us-east-1:000000000000:table/tbl"
    );
    // The throttled write did not happen.
    assert_eq!(get(&mut engine, "tbl", "a", 5, true, 10_000), None);
    // 199 ms later less than a unit accrued; at 200 ms one did.
    assert!(put(&mut engine, "tbl", "a", 5, "x", 10_199).is_err());
    put(&mut engine, "tbl", "a", 5, "x", 10_200).unwrap();
    // Reads have their own bucket: 5 strongly consistent reads, then a throttle.
    for _ in 0..5 {
        get(&mut engine, "tbl", "a", 1, true, 10_200);
    }
    let error = run(&mut engine, "GetItem", json!({"TableName": "tbl", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ConsistentRead": true}), 10_200).unwrap_err();
    assert_eq!(
        error.throttling_reasons[0].reason,
        "TableReadProvisionedThroughputExceeded"
    );
}

#[test]
fn burst_credit_keeps_up_to_300_seconds_of_unused_capacity() {
    let mut engine = engine_with(Limits::default(), THROTTLING, 0);
    create(&mut engine, "tbl", provisioned(1, 2));
    put(&mut engine, "tbl", "a", 0, "x", 1_000).unwrap();
    // Idle for 1,000 s: only 300 s of the 2 WCU rate is kept (600 units, one already spent
    // from the first second's two).
    let now = 1_001_000;
    let mut written = 0;
    while put(&mut engine, "tbl", "a", written, "x", now).is_ok() {
        written += 1;
        assert!(written < 10_000);
    }
    assert_eq!(written, 600);
}

#[test]
fn adaptive_capacity_lets_a_hot_partition_exceed_its_share_up_to_the_ceiling() {
    let served = |adaptive: bool| {
        let profile =
            format!(r#"{{"defaults": {{"throttling": true, "adaptive_capacity": {adaptive}}}}}"#);
        let mut engine = engine_with(no_burst(), &profile, 0);
        // 1,500 WCU needs two partitions (1,000 WCU each at most): 750 WCU is each one's share.
        create(&mut engine, "tbl", provisioned(10, 1_500));
        assert_eq!(engine.table("tbl").unwrap().partitions().count(), 2);
        let mut ok = 0;
        for i in 0..2_000 {
            if put(&mut engine, "tbl", "hot", i, "x", 5_000).is_ok() {
                ok += 1;
            }
        }
        ok
    };
    assert_eq!(
        served(false),
        750,
        "without adaptive capacity, the partition's share"
    );
    assert_eq!(served(true), 1_000, "with it, up to the partition ceiling");
}

#[test]
fn a_hot_key_throttles_at_the_partition_ceiling_even_on_demand() {
    let mut engine = engine_with(
        Limits::default(),
        r#"{"defaults": {"throttling": true}}"#,
        0,
    );
    create(&mut engine, "tbl", on_demand());
    let mut ok = 0;
    let mut last = None;
    for i in 0..1_500 {
        match put(&mut engine, "tbl", "hot", i, "x", 5_000) {
            Ok(_) => ok += 1,
            Err(e) => last = Some(e),
        }
    }
    assert_eq!(ok, 1_000);
    let error = last.unwrap();
    assert_eq!(error.kind, ErrorKind::Throttling);
    assert_eq!(
        error.throttling_reasons[0].reason,
        "TableWriteKeyRangeThroughputExceeded"
    );
}

#[test]
fn on_demand_serves_double_the_previous_peak_then_scales() {
    let limits = Limits {
        on_demand_initial_write_units: 100.0,
        on_demand_scale_ms: 60_000,
        ..Limits::default()
    };
    let mut engine = engine_with(limits, r#"{"defaults": {"throttling": true}}"#, 0);
    create(&mut engine, "tbl", on_demand());
    let burst = |engine: &mut Engine, now: u64, attempts: i64| {
        (0..attempts)
            .filter(|i| put(engine, "tbl", &format!("k{i}"), 0, "x", now).is_ok())
            .count()
    };
    // A new table serves its initial level (twice a peak of 50) at once.
    assert_eq!(burst(&mut engine, 1_000, 150), 100);
    // Demand of 150 does not raise the capacity before the table has scaled...
    assert_eq!(burst(&mut engine, 30_000, 150), 100);
    // ...and after scaling twice the new peak (150) is served.
    assert_eq!(burst(&mut engine, 62_000, 400), 300);
    let error = put(&mut engine, "tbl", "late", 0, "x", 62_000).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Throttling);
    assert!(
        error
            .message
            .starts_with("Throughput exceeds the current capacity of your table or index.")
    );
}

#[test]
fn a_partition_that_stays_hot_splits_and_isolates_its_hot_key() {
    let limits = Limits {
        heat_split_seconds: 3,
        ..Limits::default()
    };
    let mut engine = engine_with(limits, r#"{"defaults": {"contributor_insights": true}}"#, 0);
    create(&mut engine, "tbl", provisioned(5, 5));
    for pk in 0..40 {
        put(&mut engine, "tbl", &format!("cold{pk}"), 0, "x", 0).unwrap();
    }
    assert_eq!(engine.table("tbl").unwrap().partitions().count(), 1);
    // 900 writes per second to one key: 90% of the partition's ceiling, for five seconds.
    for second in 1..=5u64 {
        for i in 0..900u64 {
            put(&mut engine, "tbl", "hot", 0, "x", second * 1000 + i).unwrap();
            if i % 100 == 0 {
                put(
                    &mut engine,
                    "tbl",
                    &format!("cold{}", i / 100),
                    0,
                    "y",
                    second * 1000 + i,
                )
                .unwrap();
            }
        }
    }
    let table = engine.table("tbl").unwrap();
    assert!(table.partitions().count() > 1, "the hot partition split");
    // The hot item sits alone in its partition.
    let hot_key = {
        let mut item = Item::new();
        item.insert("pk".into(), dynasim_engine::Value::s("hot"));
        item.insert("sk".into(), dynasim_engine::Value::n("0"));
        table.key_schema.item_key(&item).unwrap()
    };
    let partition = table.partitions().partition_of(&hot_key);
    assert_eq!(partition.items.len(), 1, "the hot item is isolated");
    // Contributor Insights names the hot key first.
    let insights = table.metrics.insights.as_ref().unwrap();
    let top = dynasim_engine::capacity::metrics::Insights::top(&insights.accessed, 1);
    assert!(top[0].0.ends_with(b"hot"));
}

#[test]
fn metrics_count_consumption_throttles_and_items() {
    let mut engine = engine_with(no_burst(), THROTTLING, 0);
    create(&mut engine, "tbl", provisioned(5, 2));
    put(&mut engine, "tbl", "a", 0, "x", 60_000).unwrap();
    put(&mut engine, "tbl", "a", 1, "x", 60_000).unwrap();
    assert!(put(&mut engine, "tbl", "a", 2, "x", 60_000).is_err());
    get(&mut engine, "tbl", "a", 0, false, 60_500);
    let series = &engine.table("tbl").unwrap().metrics.table;
    assert_eq!(series.totals.consumed_write_capacity_units, 2.0);
    assert_eq!(series.totals.consumed_read_capacity_units, 0.5);
    assert_eq!(series.totals.write_throttle_events, 1);
    assert_eq!(series.totals.throttled_requests, 1);
    assert_eq!(series.totals.returned_item_count, 1);
    assert_eq!(series.minutes.len(), 1);
    assert_eq!(
        series.minutes[0].0, 1,
        "one-minute buckets of the caller's clock"
    );
}

#[test]
fn throttled_batch_writes_come_back_unprocessed() {
    let mut engine = engine_with(no_burst(), THROTTLING, 0);
    create(&mut engine, "tbl", provisioned(5, 3));
    let requests: Vec<Json> = (0..5)
        .map(|i| json!({"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"N": i.to_string()}}}}))
        .collect();
    let response = run(
        &mut engine,
        "BatchWriteItem",
        json!({"RequestItems": {"tbl": requests}}),
        1_000,
    )
    .unwrap();
    let output = to_json(&response);
    assert_eq!(
        output["UnprocessedItems"]["tbl"].as_array().unwrap().len(),
        2
    );
    // When every write is throttled the batch fails.
    let one = json!({"RequestItems": {"tbl": [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}}]}});
    let error = run(&mut engine, "BatchWriteItem", one, 1_000).unwrap_err();
    assert_eq!(error.kind, ErrorKind::ProvisionedThroughputExceeded);
}

#[test]
fn provisioned_throughput_decides_the_partition_count() {
    let mut engine = engine_with(Limits::default(), "", 0);
    create(&mut engine, "small", provisioned(5, 5));
    create(&mut engine, "big", provisioned(6_000, 2_000));
    assert_eq!(engine.table("small").unwrap().partitions().count(), 1);
    assert_eq!(engine.table("big").unwrap().partitions().count(), 4);
    run(
        &mut engine,
        "UpdateTable",
        json!({"TableName": "small", "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 2_500}}),
        1,
    )
    .unwrap();
    assert_eq!(engine.table("small").unwrap().partitions().count(), 3);
}

#[test]
fn auto_scaling_tracks_consumption_out_and_in() {
    let profile = r#"{"defaults": {"throttling": true,
        "auto_scaling": {"target_utilization": 0.5, "min_capacity": 5, "max_capacity": 100}}}"#;
    let mut engine = engine_with(Limits::default(), profile, 0);
    create(&mut engine, "tbl", provisioned(5, 5));
    let wcu = |e: &Engine| e.table("tbl").unwrap().throughput.write_capacity_units;
    // 4 WCU per second: 80% of 5, above the 50% target.
    for second in 0..180u64 {
        for i in 0..4u64 {
            put(
                &mut engine,
                "tbl",
                "k",
                (second * 4 + i) as i64,
                "x",
                second * 1000 + i,
            )
            .unwrap();
        }
        if second == 119 {
            assert_eq!(
                wcu(&engine),
                5,
                "not before two full minutes above the target"
            );
        }
    }
    // Judged at the start of minute 2: 4 / 0.5 = 8 WCU.
    assert_eq!(wcu(&engine), 8);
    // Fifteen idle minutes later it scales back in, to the minimum.
    put(&mut engine, "tbl", "k", -1, "x", 20 * 60_000).unwrap();
    assert_eq!(wcu(&engine), 5);
    assert_eq!(
        engine.table("tbl").unwrap().throughput.read_capacity_units,
        5
    );
}

#[test]
fn eventually_consistent_query_and_scan_can_be_stale_and_converge() {
    let mut engine = engine_with(Limits::default(), LAG, 5);
    create(&mut engine, "tbl", on_demand());
    put(&mut engine, "tbl", "a", 1, "v1", 1_000).unwrap();
    put(&mut engine, "tbl", "a", 2, "gone", 1_000).unwrap();
    run(
        &mut engine,
        "DeleteItem",
        json!({"TableName": "tbl", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}),
        1_150,
    )
    .unwrap();
    put(&mut engine, "tbl", "a", 1, "v2", 1_150).unwrap();
    let values = |response: Response| -> Vec<String> {
        let page = to_json(&response);
        page["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["v"]["S"].as_str().unwrap().to_string())
            .collect()
    };
    let query = |consistent: bool| {
        json!({"TableName": "tbl", "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "a"}}, "ConsistentRead": consistent})
    };
    let mut stale = 0;
    for i in 0..30 {
        let now = 1_200 + i;
        let strong = values(run(&mut engine, "Query", query(true), now).unwrap());
        assert_eq!(
            strong,
            vec!["v2"],
            "strong reads see the delete and the update"
        );
        let eventual = values(run(&mut engine, "Query", query(false), now).unwrap());
        match eventual
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["v2"] => {}
            ["v1", "gone"] => stale += 1,
            other => panic!("a view no replica held: {other:?}"),
        }
        let scanned = values(run(&mut engine, "Scan", json!({"TableName": "tbl"}), now).unwrap());
        assert!(
            scanned == vec!["v2"] || scanned == vec!["v1", "gone"],
            "{scanned:?}"
        );
    }
    assert!(
        stale > 0,
        "followers 100 ms behind serve the state before the delete and update"
    );
    for i in 0..10 {
        let eventual = values(run(&mut engine, "Query", query(false), 1_300 + i).unwrap());
        assert_eq!(eventual, vec!["v2"]);
    }
}

#[test]
fn lsi_reads_that_fetch_from_the_table_pay_one_read_per_item() {
    let mut engine = engine_with(Limits::default(), "", 0);
    run(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "lsi",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                                     {"AttributeName": "n", "AttributeType": "N"}],
            "BillingMode": "PAY_PER_REQUEST",
            "LocalSecondaryIndexes": [{"IndexName": "by_n", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
                                       "Projection": {"ProjectionType": "KEYS_ONLY"}}]
        }),
        0,
    )
    .unwrap();
    for i in 0..4 {
        let item = json!({"pk": {"S": "a"}, "sk": {"N": i.to_string()}, "n": {"N": i.to_string()}, "body": {"S": "x".repeat(280)}});
        run(
            &mut engine,
            "PutItem",
            json!({"TableName": "lsi", "Item": item}),
            1,
        )
        .unwrap();
    }
    let units = |engine: &mut Engine, select: &str, consistent: bool| {
        let body = json!({"TableName": "lsi", "IndexName": "by_n", "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "a"}}, "Select": select, "ConsistentRead": consistent,
            "ReturnConsumedCapacity": "TOTAL"});
        to_json(&run(engine, "Query", body, 2).unwrap())["ConsumedCapacity"]["CapacityUnits"]
            .as_f64()
            .unwrap()
    };
    // Index entries (keys only, under 4 KB together): one read unit.
    assert_eq!(units(&mut engine, "ALL_PROJECTED_ATTRIBUTES", true), 1.0);
    // Plus one 4 KB read per item fetched from the table (the guide's example: 4 + 16 KB).
    assert_eq!(units(&mut engine, "ALL_ATTRIBUTES", true), 5.0);
    assert_eq!(units(&mut engine, "ALL_ATTRIBUTES", false), 2.5);
}

mod staleness {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Put(u8, u8),
        Delete(u8),
        Get(u8, bool),
        Wait(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..4u8, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
            1 => (0..4u8).prop_map(Op::Delete),
            4 => (0..4u8, any::<bool>()).prop_map(|(k, c)| Op::Get(k, c)),
            2 => (0..120u64).prop_map(Op::Wait),
        ]
    }

    const LAG_MAX_MS: u64 = 200;
    /// A follower learns of a commit from the next append or a heartbeat, which a read sends
    /// when due and none was sent in the last 50 ms.
    const BOUND_MS: u64 = LAG_MAX_MS + 50;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Strongly consistent reads see the latest write; eventually consistent reads see a
        /// value that was current at most the lag bound ago; after the bound every replica
        /// has converged.
        #[test]
        fn reads_are_as_stale_as_the_lag_allows_and_no_more(
            ops in proptest::collection::vec(op(), 1..80),
            seed in any::<u64>(),
        ) {
            let profile = format!(r#"{{"defaults": {{"replica_lag_ms": [0, {LAG_MAX_MS}]}}}}"#);
            let mut engine = engine_with(Limits::default(), &profile, seed);
            create(&mut engine, "tbl", on_demand());
            let mut now = 1_000u64;
            // Per key: (time written, value or None for a delete), in order.
            let mut history: Vec<Vec<(u64, Option<String>)>> = vec![vec![(0, None)]; 4];
            for op in &ops {
                match op {
                    Op::Put(k, v) => {
                        put(&mut engine, "tbl", &format!("k{k}"), 0, &v.to_string(), now).unwrap();
                        history[*k as usize].push((now, Some(v.to_string())));
                    }
                    Op::Delete(k) => {
                        run(&mut engine, "DeleteItem", json!({"TableName": "tbl", "Key": {"pk": {"S": format!("k{k}")}, "sk": {"N": "0"}}}), now).unwrap();
                        history[*k as usize].push((now, None));
                    }
                    Op::Get(k, consistent) => {
                        let got = get(&mut engine, "tbl", &format!("k{k}"), 0, *consistent, now);
                        let h = &history[*k as usize];
                        if *consistent {
                            prop_assert_eq!(&got, &h.last().unwrap().1);
                        } else {
                            // Allowed: the value current at `now - BOUND_MS` and anything after.
                            let cutoff = now.saturating_sub(BOUND_MS);
                            let first = h.iter().rposition(|(t, _)| *t <= cutoff).unwrap_or(0);
                            let allowed: Vec<&Option<String>> = h[first..].iter().map(|(_, v)| v).collect();
                            prop_assert!(allowed.contains(&&got), "read {:?} at {}, allowed {:?}", got, now, allowed);
                        }
                    }
                    Op::Wait(ms) => now += ms,
                }
                now += 1;
            }
            // Converged: after the bound, every eventually consistent read is the latest.
            now += BOUND_MS + 1;
            for k in 0..4u8 {
                for _ in 0..6 {
                    let got = get(&mut engine, "tbl", &format!("k{k}"), 0, false, now);
                    prop_assert_eq!(&got, &history[k as usize].last().unwrap().1);
                    now += 51;
                }
            }
        }
    }
}

#[test]
fn a_lagging_gsi_shows_writes_late_and_then_converges() {
    let mut engine = engine_with(
        Limits::default(),
        r#"{"defaults": {"gsi_lag_ms": [100, 100]}}"#,
        0,
    );
    run(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "tbl",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                                     {"AttributeName": "g", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "ALL"}}]
        }),
        0,
    )
    .unwrap();
    let by_g = |engine: &mut Engine, g: &str, now: u64| -> Vec<String> {
        let body = json!({"TableName": "tbl", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
            "ExpressionAttributeValues": {":g": {"S": g}}});
        to_json(&run(engine, "Query", body, now).unwrap())["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["v"]["S"].as_str().unwrap().to_string())
            .collect()
    };
    let write = |engine: &mut Engine, g: &str, v: &str, now: u64| {
        let item = json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": g}, "v": {"S": v}});
        run(
            engine,
            "PutItem",
            json!({"TableName": "tbl", "Item": item}),
            now,
        )
        .unwrap();
    };
    write(&mut engine, "x", "v1", 1_000);
    assert!(
        by_g(&mut engine, "x", 1_050).is_empty(),
        "not propagated yet"
    );
    assert_eq!(by_g(&mut engine, "x", 1_100), vec!["v1"]);
    // A change of a projected attribute shows the old value until it propagates.
    write(&mut engine, "x", "v2", 2_000);
    assert_eq!(by_g(&mut engine, "x", 2_050), vec!["v1"]);
    // A move to another index key: the old key keeps it, the new one lacks it, for a while.
    write(&mut engine, "y", "v3", 2_060);
    assert_eq!(by_g(&mut engine, "x", 2_099), vec!["v1"]);
    assert_eq!(by_g(&mut engine, "x", 2_100), vec!["v2"]);
    assert!(by_g(&mut engine, "y", 2_100).is_empty());
    assert!(by_g(&mut engine, "x", 2_160).is_empty());
    assert_eq!(by_g(&mut engine, "y", 2_160), vec!["v3"]);
    // The table itself was never behind.
    assert_eq!(
        get(&mut engine, "tbl", "a", 1, true, 2_061).as_deref(),
        Some("v3")
    );
}

/// The items a Scan returns, as `pk/sk=v` strings in key order.
fn scanned(engine: &mut Engine, body: Json) -> Vec<String> {
    pages(engine, "Scan", body)
        .iter()
        .flat_map(|p| p["Items"].as_array().cloned().unwrap_or_default())
        .map(|i| format!("{}/{}={}", i["pk"]["S"], i["sk"]["N"], i["v"]["S"]))
        .collect()
}

#[test]
fn move_items_carries_items_and_index_entries_to_another_engine() {
    let with_gsi = json!({
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "v", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [{"IndexName": "by-v",
            "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}],
    });
    let mut a = Engine::new(Config::default());
    let mut b = Engine::new(Config::default());
    run(&mut a, "CreateTable", with_gsi.clone(), 0).unwrap();
    run(&mut b, "CreateTable", with_gsi, 0).unwrap();
    for k in 0..20 {
        put(
            &mut a,
            "tbl",
            &format!("k{k}"),
            k,
            &format!("v{}", k % 4),
            1,
        )
        .unwrap();
    }
    let before = scanned(&mut a, json!({"TableName": "tbl"}));
    let odd = |item: &Item| match &item["pk"] {
        dynasim_engine::Value::S(s) => s[1..].parse::<u32>().unwrap() % 2 == 1,
        _ => false,
    };
    assert_eq!(a.move_items("tbl", &mut b, odd, 2, false).unwrap(), 10);
    let (left, right) = (
        scanned(&mut a, json!({"TableName": "tbl"})),
        scanned(&mut b, json!({"TableName": "tbl"})),
    );
    assert_eq!((left.len(), right.len()), (10, 10));
    let mut union: Vec<String> = left.iter().chain(&right).cloned().collect();
    let mut expected = before.clone();
    union.sort();
    expected.sort();
    assert_eq!(union, expected, "moved, not copied or lost");
    // The index moved with its items: v1 and v3 belong to odd keys only.
    let query = |e: &mut Engine, v: &str| {
        pages(
            e,
            "Query",
            json!({"TableName": "tbl", "IndexName": "by-v", "KeyConditionExpression": "v = :v",
                   "ExpressionAttributeValues": {":v": {"S": v}}}),
        )[0]["Count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((query(&mut a, "v1"), query(&mut b, "v1")), (0, 5));
    assert_eq!((query(&mut a, "v2"), query(&mut b, "v2")), (5, 0));
    assert!(a.move_items("missing", &mut b, odd, 3, false).is_err());
    // The host's broken variant deletes one selected item without copying it.
    let mut c = Engine::new(Config::default());
    run(
        &mut c,
        "CreateTable",
        json!({"TableName": "tbl",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "v", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [{"IndexName": "by-v",
                "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}}]}),
        0,
    )
    .unwrap();
    assert_eq!(b.move_items("tbl", &mut c, |_| true, 4, true).unwrap(), 10);
    assert_eq!(scanned(&mut b, json!({"TableName": "tbl"})).len(), 0);
    assert_eq!(scanned(&mut c, json!({"TableName": "tbl"})).len(), 9);
}

/// A local secondary index is read from the same replica as its table: an eventually
/// consistent Query of it can show the replica's stale items under their stale index keys,
/// never a mix, and converges with the table; a strongly consistent one never is stale.
#[test]
fn eventually_consistent_lsi_queries_can_be_stale_and_converge() {
    let mut engine = engine_with(Limits::default(), LAG, 5);
    run(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "lsi",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "v", "AttributeType": "S"}],
            "LocalSecondaryIndexes": [{"IndexName": "by_v",
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "v", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"}}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        0,
    )
    .unwrap();
    put(&mut engine, "lsi", "a", 1, "b-old", 1_000).unwrap();
    put(&mut engine, "lsi", "a", 2, "c-gone", 1_000).unwrap();
    // 150 ms later, each rewritten within the lag of the followers: one moves in the index,
    // one is deleted.
    put(&mut engine, "lsi", "a", 1, "a-new", 1_150).unwrap();
    run(
        &mut engine,
        "DeleteItem",
        json!({"TableName": "lsi", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}),
        1_150,
    )
    .unwrap();
    let query = |consistent: bool| {
        json!({"TableName": "lsi", "IndexName": "by_v", "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "a"}}, "ConsistentRead": consistent})
    };
    let values = |response: Response| -> Vec<String> {
        to_json(&response)["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["v"]["S"].as_str().unwrap().to_string())
            .collect()
    };
    let mut stale = 0;
    for i in 0..30 {
        let now = 1_200 + i;
        assert_eq!(
            values(run(&mut engine, "Query", query(true), now).unwrap()),
            ["a-new"]
        );
        let eventual = values(run(&mut engine, "Query", query(false), now).unwrap());
        match eventual
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["a-new"] => {}
            // The replica's items, in the index's order (by v).
            ["b-old", "c-gone"] => stale += 1,
            other => panic!("a view no replica held: {other:?}"),
        }
    }
    assert!(
        stale > 0,
        "followers 100 ms behind serve the index before the rewrite"
    );
    for i in 0..10 {
        let eventual = values(run(&mut engine, "Query", query(false), 1_300 + i).unwrap());
        assert_eq!(eventual, ["a-new"]);
    }
}

/// An on-demand table with a GSI on `g`, under a throttling profile.
fn gsi_table(limits: Limits) -> Engine {
    let mut engine = engine_with(limits, r#"{"defaults": {"throttling": true}}"#, 0);
    run(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "gsi",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"}],
            "GlobalSecondaryIndexes": [{"IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
        0,
    )
    .unwrap();
    engine
}

fn put_g(engine: &mut Engine, pk: &str, g: Option<&str>, now_ms: u64) -> Result<Response, Error> {
    let mut item = json!({"pk": {"S": pk}});
    if let Some(g) = g {
        item["g"] = json!({"S": g});
    }
    run(
        engine,
        "PutItem",
        json!({"TableName": "gsi", "Item": item}),
        now_ms,
    )
}

/// A GSI is partitioned by its own key: writes spread over the table's partitions but all
/// under one index key fill that index partition's ceiling (1,000 writes a second) and are
/// throttled with the index's reason, writing nothing; the same writes without the index key,
/// or spread over index keys, are not.
#[test]
fn a_hot_gsi_key_throttles_writes_on_its_index_partition() {
    let mut engine = gsi_table(Limits::default());
    let mut throttled = None;
    for i in 0..1_500 {
        match put_g(&mut engine, &format!("item-{i}"), Some("hot"), 1_000) {
            Ok(_) => {}
            Err(error) => {
                throttled = Some((i, error));
                break;
            }
        }
    }
    let (at, error) = throttled.expect("the index partition's ceiling is reached");
    assert_eq!(
        at, 1_000,
        "a partition's 1,000 writes a second, then throttled"
    );
    assert_eq!(error.kind, ErrorKind::Throttling);
    assert_eq!(
        error.throttling_reasons[0].reason,
        "IndexWriteKeyRangeThroughputExceeded"
    );
    assert!(
        error.throttling_reasons[0]
            .resource
            .ends_with("/index/by_g")
    );
    let written = run(
        &mut engine,
        "GetItem",
        json!({"TableName": "gsi", "Key": {"pk": {"S": format!("item-{at}")}}}),
        1_000,
    )
    .unwrap();
    assert!(
        to_json(&written).get("Item").is_none(),
        "a throttled write writes nothing"
    );
    // Writes without the index key still pass this second, and so do those under index keys
    // on the other index partitions (three of its four).
    for i in 0..200 {
        put_g(&mut engine, &format!("sparse-{i}"), None, 1_000).unwrap();
    }
    let spread = (0..200)
        .filter(|i| {
            let g = format!("g{i}");
            put_g(&mut engine, &format!("spread-{i}"), Some(&g), 1_000).is_ok()
        })
        .count();
    assert!((100..200).contains(&spread), "{spread} of 200 passed");
    // The next second the hot key's partition serves again.
    put_g(&mut engine, "later", Some("hot"), 2_000).unwrap();
}

/// Reads of one hot index key are judged by the index partition holding it (3,000 read units
/// a second), whatever the table's partitions serve.
#[test]
fn a_hot_gsi_key_throttles_queries_on_its_index_partition() {
    let mut engine = gsi_table(Limits::default());
    put_g(&mut engine, "a", Some("hot"), 0).unwrap();
    let query = json!({"TableName": "gsi", "IndexName": "by_g",
        "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "hot"}}});
    // An eventually consistent query of a small item costs half a unit: 6,000 a second.
    let mut served = 0;
    let error = loop {
        match run(&mut engine, "Query", query.clone(), 1_000) {
            Ok(_) => served += 1,
            Err(error) => break error,
        }
        assert!(served <= 7_000, "never throttled");
    };
    assert_eq!(served, 6_000);
    assert_eq!(
        error.throttling_reasons[0].reason,
        "IndexReadKeyRangeThroughputExceeded"
    );
    let other = json!({"TableName": "gsi", "IndexName": "by_g",
        "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "cold"}}});
    run(&mut engine, "Query", other, 1_000).unwrap();
}

/// An index partition that runs hot for `heat_split_seconds` splits between its hot keys:
/// two keys that shared one partition's ceiling (1,000 writes a second) get one each.
#[test]
fn a_hot_gsi_partition_splits_between_its_hot_keys() {
    let limits = Limits {
        heat_split_seconds: 3,
        heat_split_utilization: 0.5,
        ..Limits::default()
    };
    let mut engine = engine_with(limits, r#"{"defaults": {"throttling": true}}"#, 0);
    // The table has four partitions; its index (1,000 write units) starts with one.
    let throughput = json!({"ReadCapacityUnits": 4000, "WriteCapacityUnits": 4000});
    let index_throughput = json!({"ReadCapacityUnits": 1000, "WriteCapacityUnits": 1000});
    run(
        &mut engine,
        "CreateTable",
        json!({
            "TableName": "gsi",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"}],
            "GlobalSecondaryIndexes": [{"IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "ProvisionedThroughput": index_throughput}],
            "ProvisionedThroughput": throughput,
        }),
        0,
    )
    .unwrap();
    let mut ok = |second: u64, n: usize| -> usize {
        (0..n)
            .filter(|i| {
                let g = if i % 2 == 0 { "k-a" } else { "k-b" };
                let pk = format!("{second}-{i}");
                put_g(&mut engine, &pk, Some(g), second * 1000).is_ok()
            })
            .count()
    };
    assert_eq!(
        ok(0, 1_200),
        1_000,
        "both keys share one partition's ceiling"
    );
    for second in 1..=4 {
        assert_eq!(
            ok(second, 600),
            600,
            "second {second}: hot, under the ceiling"
        );
    }
    assert_eq!(ok(5, 1_200), 1_200, "split: a partition for each key");
}
