//! Time to Live (`dynamodb-facts.md` §11): UpdateTimeToLive and DescribeTimeToLive (status
//! transitions, every error), which items are eligible, and the sweep (items readable and
//! updatable until it runs, a stream REMOVE from the service, no capacity, the metric). The
//! check `ttl_deletions_were_due` is the property every sweep must keep; a sweep without its
//! re-check of the current item (`Engine::ttl_sweep_skips_recheck`) fails it.

use dynasim_engine::limits::Limits;
use dynasim_engine::{Config, Engine, Request};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

/// Epoch milliseconds of the tests' clock (Nov 2023), so that five years back is after 1970.
const NOW: u64 = 1_700_000_000_000;
const FIVE_YEARS_MS: u64 = 5 * 365 * 24 * 60 * 60 * 1000;

fn engine_with(config: Config) -> Engine {
    let mut engine = Engine::new(config);
    create(&mut engine, false);
    engine
}

fn engine() -> Engine {
    engine_with(Config::default())
}

fn call(engine: &mut Engine, op: &str, body: Json, now_ms: u64) -> Result<Json, (String, String)> {
    fn de<T: serde::de::DeserializeOwned>(body: Json) -> T {
        serde_json::from_value(body).unwrap()
    }
    let request = match op {
        "CreateTable" => Request::CreateTable(de(body)),
        "PutItem" => Request::PutItem(de(body)),
        "GetItem" => Request::GetItem(de(body)),
        "UpdateItem" => Request::UpdateItem(de(body)),
        "Scan" => Request::Scan(de(body)),
        "Query" => Request::Query(de(body)),
        "UpdateTimeToLive" => Request::UpdateTimeToLive(de(body)),
        "DescribeTimeToLive" => Request::DescribeTimeToLive(de(body)),
        "ListStreams" => Request::ListStreams(de(body)),
        "DescribeStream" => Request::DescribeStream(de(body)),
        "GetShardIterator" => Request::GetShardIterator(de(body)),
        "GetRecords" => Request::GetRecords(de(body)),
        other => panic!("{other} is not used here"),
    };
    engine
        .execute(request, now_ms)
        .map(|r| serde_json::to_value(&r).unwrap())
        .map_err(|e| (e.kind.name().to_string(), e.message))
}

fn ok(engine: &mut Engine, op: &str, body: Json, now_ms: u64) -> Json {
    call(engine, op, body, now_ms).unwrap_or_else(|e| panic!("{op}: {e:?}"))
}

fn create(engine: &mut Engine, stream: bool) {
    let mut body = json!({
        "TableName": "tbl",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "g", "AttributeType": "S"}],
        "GlobalSecondaryIndexes": [{"IndexName": "by_g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    if stream {
        body["TableName"] = json!("streamed");
        body["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    }
    ok(engine, "CreateTable", body, 0);
}

fn update_ttl(
    engine: &mut Engine,
    enabled: bool,
    attribute: &str,
    now_ms: u64,
) -> Result<Json, (String, String)> {
    let spec = json!({"Enabled": enabled, "AttributeName": attribute});
    let body = json!({"TableName": "tbl", "TimeToLiveSpecification": spec});
    call(engine, "UpdateTimeToLive", body, now_ms)
}

fn describe(engine: &mut Engine, now_ms: u64) -> Json {
    ok(
        engine,
        "DescribeTimeToLive",
        json!({"TableName": "tbl"}),
        now_ms,
    )["TimeToLiveDescription"]
        .clone()
}

fn put(engine: &mut Engine, table: &str, pk: &str, exp: Option<Json>, now_ms: u64) {
    let mut item = json!({"pk": {"S": pk}, "g": {"S": "x"}});
    if let Some(exp) = exp {
        item["exp"] = exp;
    }
    ok(
        engine,
        "PutItem",
        json!({"TableName": table, "Item": item}),
        now_ms,
    );
}

fn seconds(ms: u64) -> Json {
    json!({"N": (ms / 1000).to_string()})
}

fn get(engine: &mut Engine, pk: &str, now_ms: u64) -> Option<Json> {
    let body = json!({"TableName": "tbl", "Key": {"pk": {"S": pk}}, "ConsistentRead": true});
    ok(engine, "GetItem", body, now_ms).get("Item").cloned()
}

/// Every item of `tbl`, by partition key.
fn items(engine: &mut Engine, now_ms: u64) -> BTreeMap<String, Json> {
    let page = ok(
        engine,
        "Scan",
        json!({"TableName": "tbl", "ConsistentRead": true}),
        now_ms,
    );
    page["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["pk"]["S"].as_str().unwrap().to_string(), item.clone()))
        .collect()
}

/// The property every TTL sweep keeps, written apart from the engine: an item the sweep at
/// `now_ms` deleted had, as it stood just before (`before`), the attribute `exp` as a number
/// of epoch seconds before `now_ms` and at most five years before it. TTL never deletes an item
/// whose current TTL is in the future, absent or not a number, nor one before its expiry.
fn ttl_deletions_were_due(
    before: &BTreeMap<String, Json>,
    after: &BTreeMap<String, Json>,
    now_ms: u64,
) -> Result<(), String> {
    for (pk, item) in before.iter().filter(|(pk, _)| !after.contains_key(*pk)) {
        let expiry_s = item["exp"]["N"]
            .as_str()
            .and_then(|n| n.parse::<f64>().ok());
        let Some(expiry_s) = expiry_s else {
            return Err(format!("{pk} deleted without a numeric TTL: {item}"));
        };
        let now_s = now_ms as f64 / 1000.0;
        if expiry_s >= now_s {
            return Err(format!("{pk} deleted before its expiry {expiry_s}"));
        }
        if now_s - expiry_s > (FIVE_YEARS_MS / 1000) as f64 {
            return Err(format!(
                "{pk} deleted though it expired over five years ago"
            ));
        }
    }
    Ok(())
}

/// Runs the timer at `now_ms` and checks `ttl_deletions_were_due` around it.
fn sweep_checked(engine: &mut Engine, now_ms: u64) -> Result<(), String> {
    let before = items(engine, now_ms);
    engine.handle_timeout(now_ms);
    let after = items(engine, now_ms);
    ttl_deletions_were_due(&before, &after, now_ms)
}

#[test]
fn a_table_never_configured_is_disabled_without_an_attribute() {
    let mut engine = engine();
    assert_eq!(
        describe(&mut engine, NOW),
        json!({"TimeToLiveStatus": "DISABLED"})
    );
}

#[test]
fn update_echoes_the_specification_and_describe_follows_the_transition() {
    let limits = Limits {
        ttl_transition_ms: 1_000,
        ttl_modification_interval_ms: 10_000,
        ..Limits::default()
    };
    let mut engine = engine_with(Config {
        limits,
        ..Config::default()
    });
    let answer = update_ttl(&mut engine, true, "exp", NOW).unwrap();
    assert_eq!(
        answer,
        json!({"TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}})
    );
    let enabling = json!({"TimeToLiveStatus": "ENABLING", "AttributeName": "exp"});
    assert_eq!(describe(&mut engine, NOW + 999), enabling);
    let enabled = json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"});
    assert_eq!(describe(&mut engine, NOW + 1_000), enabled);
    update_ttl(&mut engine, false, "exp", NOW + 10_000).unwrap();
    let disabling = json!({"TimeToLiveStatus": "DISABLING", "AttributeName": "exp"});
    assert_eq!(describe(&mut engine, NOW + 10_500), disabling);
    assert_eq!(
        describe(&mut engine, NOW + 11_000),
        json!({"TimeToLiveStatus": "DISABLED"})
    );
}

#[test]
fn by_default_enabling_answers_enabled_at_once() {
    let mut engine = engine();
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    let enabled = json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"});
    assert_eq!(describe(&mut engine, NOW), enabled);
}

fn expect_error(result: Result<Json, (String, String)>, kind: &str, contains: &str) {
    let (got_kind, message) = result.expect_err("an error");
    assert_eq!(got_kind, kind, "{message}");
    assert!(message.contains(contains), "{message:?} lacks {contains:?}");
}

#[test]
fn shape_errors_and_a_missing_table() {
    let mut engine = engine();
    let mut update = |body: Json| call(&mut engine, "UpdateTimeToLive", body, NOW);
    let spec_null = "Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null";
    expect_error(
        update(json!({"TableName": "tbl"})),
        "ValidationException",
        spec_null,
    );
    let spec = json!({"AttributeName": "exp"});
    let enabled_null =
        "'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be null";
    let body = json!({"TableName": "tbl", "TimeToLiveSpecification": spec});
    expect_error(update(body), "ValidationException", enabled_null);
    let spec = json!({"Enabled": true});
    let name_null = "'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must not be null";
    let body = json!({"TableName": "tbl", "TimeToLiveSpecification": spec});
    expect_error(update(body), "ValidationException", name_null);
    for (name, constraint) in [
        ("", "length greater than or equal to 1"),
        (&"a".repeat(256) as &str, "length less than or equal to 255"),
    ] {
        let spec = json!({"Enabled": true, "AttributeName": name});
        let body = json!({"TableName": "tbl", "TimeToLiveSpecification": spec});
        expect_error(update(body), "ValidationException", constraint);
    }
    let spec = json!({"Enabled": true, "AttributeName": "a".repeat(255)});
    let body = json!({"TableName": "tbl", "TimeToLiveSpecification": spec});
    update(body).unwrap();
    let spec = json!({"Enabled": true, "AttributeName": "exp"});
    expect_error(
        update(json!({"TimeToLiveSpecification": spec})),
        "ValidationException",
        "TableName",
    );
    let body = json!({"TableName": "missing", "TimeToLiveSpecification": spec});
    expect_error(
        update(body),
        "ResourceNotFoundException",
        "Table: missing not found",
    );
    let describe = call(
        &mut engine,
        "DescribeTimeToLive",
        json!({"TableName": "missing"}),
        NOW,
    );
    expect_error(
        describe,
        "ResourceNotFoundException",
        "Table: missing not found",
    );
}

#[test]
fn state_errors_and_the_modification_interval() {
    let limits = Limits {
        ttl_modification_interval_ms: 10_000,
        ..Limits::default()
    };
    let mut engine = engine_with(Config {
        limits,
        ..Config::default()
    });
    let disabled = "TimeToLive is already disabled";
    expect_error(
        update_ttl(&mut engine, false, "exp", NOW),
        "ValidationException",
        disabled,
    );
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    let enabled = "TimeToLive is already enabled";
    expect_error(
        update_ttl(&mut engine, true, "exp", NOW + 20_000),
        "ValidationException",
        enabled,
    );
    let different =
        "TimeToLive is active on a different AttributeName: current AttributeName is exp";
    expect_error(
        update_ttl(&mut engine, true, "other", NOW + 20_000),
        "ValidationException",
        different,
    );
    let disabling_other = update_ttl(&mut engine, false, "other", NOW + 20_000);
    expect_error(disabling_other, "ValidationException", different);
    let too_soon = "Time to live has been modified multiple times within a fixed interval";
    expect_error(
        update_ttl(&mut engine, false, "exp", NOW + 9_999),
        "ValidationException",
        too_soon,
    );
    update_ttl(&mut engine, false, "exp", NOW + 10_000).unwrap();
    expect_error(
        update_ttl(&mut engine, false, "exp", NOW + 30_000),
        "ValidationException",
        disabled,
    );
    expect_error(
        update_ttl(&mut engine, true, "other", NOW + 15_000),
        "ValidationException",
        too_soon,
    );
    update_ttl(&mut engine, true, "other", NOW + 20_000).unwrap();
    let other = json!({"TimeToLiveStatus": "ENABLED", "AttributeName": "other"});
    assert_eq!(describe(&mut engine, NOW + 20_000), other);
}

#[test]
fn only_top_level_numbers_in_the_past_within_five_years_expire() {
    let mut engine = engine();
    let past = NOW - 60_000;
    let cases: [(&str, Option<Json>, bool); 10] = [
        ("number_past", Some(seconds(past)), true),
        (
            "decimal_past",
            Some(json!({"N": format!("{}.1234", past / 1000)})),
            true,
        ),
        ("exponent_past", Some(json!({"N": "1699999e3"})), true),
        (
            "string_number",
            Some(json!({"S": (past / 1000).to_string()})),
            false,
        ),
        ("future", Some(seconds(NOW + 3_600_000)), false),
        ("absent", None, false),
        ("nested", Some(json!({"M": {"exp": seconds(past)}})), false),
        ("binary", Some(json!({"B": "AAAA"})), false),
        (
            "five_years_ago",
            Some(seconds(NOW - FIVE_YEARS_MS + 3_600_000)),
            true,
        ),
        (
            "over_five_years_ago",
            Some(seconds(NOW - FIVE_YEARS_MS - 3_600_000)),
            false,
        ),
    ];
    for (pk, exp, _) in &cases {
        put(&mut engine, "tbl", pk, exp.clone(), NOW - 1_000);
    }
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    assert_eq!(
        engine.poll_timeout(),
        Some(NOW),
        "the expired items are due now"
    );
    sweep_checked(&mut engine, NOW).unwrap();
    let left = items(&mut engine, NOW);
    for (pk, _, expires) in &cases {
        assert_eq!(!left.contains_key(*pk), *expires, "{pk}");
    }
    // The decimal part counts: an item expiring within the current second waits for it.
    put(
        &mut engine,
        "tbl",
        "this_second",
        Some(json!({"N": format!("{}.5", NOW / 1000 + 10)})),
        NOW,
    );
    engine.handle_timeout(NOW + 10_400);
    assert!(get(&mut engine, "this_second", NOW + 10_400).is_some());
    engine.handle_timeout(NOW + 10_501);
    assert!(get(&mut engine, "this_second", NOW + 10_501).is_none());
}

fn delayed_engine(delay_ms: u64) -> Engine {
    let mut engine = engine_with(Config {
        ttl_delay_ms: delay_ms,
        ..Config::default()
    });
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    engine
}

#[test]
fn an_expired_item_stays_readable_and_updatable_until_the_delayed_sweep() {
    let mut engine = delayed_engine(5_000);
    put(&mut engine, "tbl", "a", Some(seconds(NOW + 1_000)), NOW);
    assert_eq!(engine.poll_timeout(), Some(NOW + 1_001));
    sweep_checked(&mut engine, NOW + 2_000).unwrap();
    assert!(
        get(&mut engine, "a", NOW + 2_000).is_some(),
        "readable while the delay runs"
    );
    let filter = json!({"TableName": "tbl", "FilterExpression": "attribute_exists(exp)"});
    assert_eq!(ok(&mut engine, "Scan", filter, NOW + 2_000)["Count"], 1);
    let update = json!({"TableName": "tbl", "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET note = :n", "ExpressionAttributeValues": {":n": {"S": "hi"}}});
    ok(&mut engine, "UpdateItem", update, NOW + 3_000);
    assert_eq!(
        engine.poll_timeout(),
        Some(NOW + 6_001),
        "an unchanged TTL keeps its schedule"
    );
    sweep_checked(&mut engine, NOW + 6_000).unwrap();
    assert!(get(&mut engine, "a", NOW + 6_000).is_some());
    sweep_checked(&mut engine, NOW + 6_001).unwrap();
    assert!(get(&mut engine, "a", NOW + 6_001).is_none());
    let by_g = json!({"TableName": "tbl", "IndexName": "by_g",
        "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "x"}}});
    assert_eq!(
        ok(&mut engine, "Query", by_g, NOW + 6_001)["Count"],
        0,
        "the GSI entry went too"
    );
    assert_eq!(engine.poll_timeout(), None);
}

#[test]
fn a_ttl_extended_or_removed_before_the_sweep_is_honoured() {
    let mut engine = delayed_engine(5_000);
    put(
        &mut engine,
        "tbl",
        "extended",
        Some(seconds(NOW)),
        NOW - 10_000,
    );
    put(
        &mut engine,
        "tbl",
        "removed",
        Some(seconds(NOW)),
        NOW - 10_000,
    );
    sweep_checked(&mut engine, NOW + 1_000).unwrap();
    let extend = json!({"TableName": "tbl", "Key": {"pk": {"S": "extended"}},
        "UpdateExpression": "SET exp = :e", "ExpressionAttributeValues": {":e": seconds(NOW + 3_600_000)}});
    ok(&mut engine, "UpdateItem", extend, NOW + 2_000);
    let remove = json!({"TableName": "tbl", "Key": {"pk": {"S": "removed"}}, "UpdateExpression": "REMOVE exp"});
    ok(&mut engine, "UpdateItem", remove, NOW + 2_000);
    for now_ms in [NOW + 6_000, NOW + 60_000, NOW + 3_000_000] {
        sweep_checked(&mut engine, now_ms).unwrap();
        assert_eq!(items(&mut engine, now_ms).len(), 2);
    }
    sweep_checked(&mut engine, NOW + 3_600_000 + 5_001).unwrap();
    assert_eq!(
        items(&mut engine, NOW + 3_700_000).len(),
        1,
        "the extended TTL in its turn"
    );
}

#[test]
fn disabling_drops_the_index_and_enabling_builds_it_from_the_items() {
    let limits = Limits {
        ttl_modification_interval_ms: 0,
        ..Limits::default()
    };
    let mut engine = engine_with(Config {
        limits,
        ..Config::default()
    });
    put(
        &mut engine,
        "tbl",
        "a",
        Some(seconds(NOW - 1_000)),
        NOW - 5_000,
    );
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    assert_eq!(engine.table("tbl").unwrap().ttl_due_count(), Some(1));
    update_ttl(&mut engine, false, "exp", NOW).unwrap();
    assert_eq!(engine.table("tbl").unwrap().ttl_due_count(), None);
    assert_eq!(engine.poll_timeout(), None);
    engine.handle_timeout(NOW + 1_000);
    assert!(
        get(&mut engine, "a", NOW + 1_000).is_some(),
        "no sweep while disabled"
    );
}

fn stream_records(engine: &mut Engine, now_ms: u64) -> Vec<Json> {
    let streams = ok(
        engine,
        "ListStreams",
        json!({"TableName": "streamed"}),
        now_ms,
    );
    let arn = streams["Streams"][0]["StreamArn"].clone();
    let description = ok(engine, "DescribeStream", json!({"StreamArn": arn}), now_ms);
    let mut records = Vec::new();
    for shard in description["StreamDescription"]["Shards"]
        .as_array()
        .unwrap()
    {
        let body = json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"});
        let iterator = ok(engine, "GetShardIterator", body, now_ms)["ShardIterator"].clone();
        let page = ok(
            engine,
            "GetRecords",
            json!({"ShardIterator": iterator}),
            now_ms,
        );
        records.extend(page["Records"].as_array().unwrap().iter().cloned());
    }
    records
}

#[test]
fn the_sweep_writes_a_service_remove_record_charges_nothing_and_counts_the_deletion() {
    let mut engine = Engine::new(Config::default());
    create(&mut engine, true);
    let spec = json!({"Enabled": true, "AttributeName": "exp"});
    ok(
        &mut engine,
        "UpdateTimeToLive",
        json!({"TableName": "streamed", "TimeToLiveSpecification": spec}),
        NOW,
    );
    put(
        &mut engine,
        "streamed",
        "a",
        Some(seconds(NOW)),
        NOW - 1_000,
    );
    let totals = |engine: &Engine| {
        engine
            .table("streamed")
            .unwrap()
            .metrics
            .table
            .totals
            .clone()
    };
    let before = totals(&engine);
    engine.handle_timeout(NOW + 1);
    let after = totals(&engine);
    assert_eq!(after.time_to_live_deleted_item_count, 1);
    assert_eq!(
        after.consumed_write_capacity_units,
        before.consumed_write_capacity_units
    );
    assert_eq!(after.successful_requests, before.successful_requests);
    let records = stream_records(&mut engine, NOW + 2);
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[0]["eventName"], "INSERT");
    assert!(records[0].get("userIdentity").is_none());
    assert_eq!(records[1]["eventName"], "REMOVE");
    let service = json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"});
    assert_eq!(records[1]["userIdentity"], service);
    assert_eq!(records[1]["dynamodb"]["OldImage"]["pk"], json!({"S": "a"}));
}

#[test]
fn a_hosted_engine_does_not_sweep() {
    let mut engine = engine_with(Config {
        hosted_partitions: true,
        ..Config::default()
    });
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    put(&mut engine, "tbl", "a", Some(seconds(NOW - 1_000)), NOW);
    assert_eq!(engine.poll_timeout(), None);
    engine.handle_timeout(NOW + 1_000);
    assert!(get(&mut engine, "a", NOW + 1_000).is_some());
}

/// An item written just inside the five-year bound and swept just outside it: the index had
/// it due, the current item no longer is. The sweep's re-check keeps it; the broken variant
/// deletes it, and `ttl_deletions_were_due` catches that.
fn sweep_past_the_five_year_bound(skip_recheck: bool) -> Result<(), String> {
    let mut engine = delayed_engine(10_000);
    engine.ttl_sweep_skips_recheck = skip_recheck;
    let expiry_ms = NOW + 1_000 - FIVE_YEARS_MS;
    put(
        &mut engine,
        "tbl",
        "old",
        Some(seconds(expiry_ms)),
        NOW + 500,
    );
    put(
        &mut engine,
        "tbl",
        "fresh",
        Some(seconds(NOW + 2_000)),
        NOW + 500,
    );
    sweep_checked(&mut engine, NOW + 2_500)?;
    sweep_checked(&mut engine, NOW + 20_000)?;
    assert!(
        get(&mut engine, "fresh", NOW + 20_000).is_none(),
        "the due item went"
    );
    Ok(())
}

#[test]
fn the_sweep_rechecks_the_current_item_and_the_broken_variant_is_caught() {
    sweep_past_the_five_year_bound(false).unwrap();
    let caught = sweep_past_the_five_year_bound(true).unwrap_err();
    assert!(caught.contains("over five years ago"), "{caught}");
}

#[test]
fn a_profile_draws_the_delay_per_table_from_the_seed() {
    let profile: dynasim_engine::realism::profile::Profile =
        serde_json::from_value(json!({"defaults": {"ttl_delay_ms": [1_000, 9_000]}})).unwrap();
    let deletion_time = |seed: u64| {
        let mut engine = Engine::with_profile(Config::default(), profile.clone(), seed);
        create(&mut engine, false);
        update_ttl(&mut engine, true, "exp", NOW).unwrap();
        put(&mut engine, "tbl", "a", Some(seconds(NOW)), NOW - 1_000);
        engine.handle_timeout(NOW + 1);
        let due = engine.poll_timeout().unwrap();
        assert!((NOW + 1_001..=NOW + 9_001).contains(&due), "{due}");
        engine.handle_timeout(due - 1);
        assert!(get(&mut engine, "a", due - 1).is_some());
        engine.handle_timeout(due);
        assert!(get(&mut engine, "a", due).is_none());
        due
    };
    assert_eq!(deletion_time(3), deletion_time(3));
}

#[test]
fn the_update_is_journaled_as_a_control_request_and_a_deletion_as_an_item_change() {
    use dynasim_engine::storage::change::{Change, ControlRequest};
    let mut engine = engine();
    engine.enable_journal();
    update_ttl(&mut engine, true, "exp", NOW).unwrap();
    put(&mut engine, "tbl", "a", Some(seconds(NOW - 1_000)), NOW);
    let mut changes = Vec::new();
    engine.take_changes(&mut changes);
    let control = changes.iter().find_map(|c| match c {
        Change::Control(c) => Some(&c.request),
        Change::Item { .. } => None,
    });
    assert!(
        matches!(control, Some(ControlRequest::UpdateTimeToLive(_))),
        "{changes:?}"
    );
    engine.handle_timeout(NOW + 1);
    let mut changes = Vec::new();
    engine.take_changes(&mut changes);
    assert!(
        matches!(changes.as_slice(), [Change::Item { item: None, .. }]),
        "{changes:?}"
    );
}
