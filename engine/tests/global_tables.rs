//! Global tables across the regions of one host (`global::regions::Regions`): replicas added
//! and removed with UpdateTable's ReplicaUpdates, each region's own catalog, asynchronous
//! replication with seeded delays, last writer wins by version, tombstones, and the errors
//! of each wrong combination.

use dynasim_engine::global::lww::LwwBug;
use dynasim_engine::global::regions::Regions;
use dynasim_engine::realism::profile::Profile;
use dynasim_engine::{Config, Engine, Request, Response};
use serde_json::{Value as Json, json};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn de<T: serde::de::DeserializeOwned>(body: Json) -> T {
    serde_json::from_value(body).unwrap()
}

fn regions(profile: Json) -> Regions {
    seeded(profile, 3)
}

/// A host whose first region runs `profile` with `seed`.
fn seeded(profile: Json, seed: u64) -> Regions {
    let profile: Profile = serde_json::from_value(profile).unwrap();
    Regions::new(Engine::with_profile(Config::default(), profile, seed))
}

fn request(operation: &str, body: Json) -> Request {
    match operation {
        "CreateTable" => Request::CreateTable(de(body)),
        "UpdateTable" => Request::UpdateTable(de(body)),
        "DescribeTable" => Request::DescribeTable(de(body)),
        "DeleteTable" => Request::DeleteTable(de(body)),
        "ListTables" => Request::ListTables(de(body)),
        "PutItem" => Request::PutItem(de(body)),
        "DeleteItem" => Request::DeleteItem(de(body)),
        "GetItem" => Request::GetItem(de(body)),
        "UpdateTimeToLive" => Request::UpdateTimeToLive(de(body)),
        "DescribeTimeToLive" => Request::DescribeTimeToLive(de(body)),
        "TransactWriteItems" => Request::TransactWriteItems(de(body)),
        "DescribeTableReplicaAutoScaling" => Request::DescribeTableReplicaAutoScaling(de(body)),
        other => panic!("{other}"),
    }
}

fn call(r: &mut Regions, region: &str, operation: &str, body: Json, now: u64) -> Json {
    match r.execute(region, request(operation, body), now) {
        Ok(Response::NoBody) => json!({}),
        Ok(response) => serde_json::to_value(&response).unwrap(),
        Err(e) => json!({"__type": e.kind.name(), "message": e.message}),
    }
}

fn create(r: &mut Regions, region: &str, now: u64) -> Json {
    let body = json!({
        "TableName": "gtab",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    });
    call(r, region, "CreateTable", body, now)
}

fn add_replica(r: &mut Regions, from: &str, to: &str, now: u64) -> Json {
    let body = json!({"TableName": "gtab", "ReplicaUpdates": [{"Create": {"RegionName": to}}]});
    call(r, from, "UpdateTable", body, now)
}

fn put(r: &mut Regions, region: &str, key: &str, value: &str, now: u64) -> Json {
    let item = json!({"pk": {"S": key}, "v": {"S": value}});
    call(
        r,
        region,
        "PutItem",
        json!({"TableName": "gtab", "Item": item}),
        now,
    )
}

fn get(r: &mut Regions, region: &str, key: &str, now: u64) -> Option<String> {
    let body = json!({"TableName": "gtab", "Key": {"pk": {"S": key}}, "ConsistentRead": true});
    let answer = call(r, region, "GetItem", body, now);
    assert!(answer.get("__type").is_none(), "{answer}");
    answer["Item"]["v"]["S"].as_str().map(str::to_string)
}

/// Runs the host's timers up to `until`.
fn settle(r: &mut Regions, until: u64) {
    while let Some(due) = r.poll_timeout().filter(|&d| d <= until) {
        r.handle_timeout(due);
    }
    r.handle_timeout(until);
}

fn two_regions(profile: Json) -> Regions {
    let mut r = regions(profile);
    create(&mut r, EAST, 0);
    let answer = add_replica(&mut r, EAST, WEST, 0);
    assert_eq!(
        answer["TableDescription"]["TableStatus"], "UPDATING",
        "{answer}"
    );
    r
}

#[test]
fn each_region_has_its_own_catalog() {
    let mut r = regions(json!({}));
    create(&mut r, EAST, 0);
    let west = call(&mut r, WEST, "ListTables", json!({}), 0);
    assert_eq!(west["TableNames"], json!([]));
    let east = call(&mut r, EAST, "ListTables", json!({}), 0);
    assert_eq!(east["TableNames"], json!(["gtab"]));
    let described = call(
        &mut r,
        EAST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        0,
    );
    let arn = described["Table"]["TableArn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:dynamodb:us-east-1:"), "{arn}");
    assert!(described["Table"].get("Replicas").is_none());
}

#[test]
fn a_replica_is_described_in_every_region_and_holds_the_items() {
    let mut r = regions(json!({}));
    create(&mut r, EAST, 0);
    put(&mut r, EAST, "before", "1", 0);
    add_replica(&mut r, EAST, WEST, 10);
    assert_eq!(get(&mut r, WEST, "before", 10).as_deref(), Some("1"));
    let east = call(
        &mut r,
        EAST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        20,
    );
    assert_eq!(east["Table"]["GlobalTableVersion"], "2019.11.21");
    assert_eq!(
        east["Table"]["Replicas"],
        json!([{"RegionName": WEST, "ReplicaStatus": "ACTIVE"}])
    );
    assert_eq!(
        east["Table"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    let west = call(
        &mut r,
        WEST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        20,
    );
    assert_eq!(
        west["Table"]["Replicas"],
        json!([{"RegionName": EAST, "ReplicaStatus": "ACTIVE"}])
    );
    let arn = west["Table"]["TableArn"].as_str().unwrap();
    assert!(arn.starts_with("arn:aws:dynamodb:us-west-2:"), "{arn}");
}

#[test]
fn a_write_reaches_the_other_region_after_the_drawn_delay() {
    let mut r = two_regions(json!({"global_tables": {"replication_delay_ms": [300, 300]}}));
    put(&mut r, EAST, "k", "east", 1000);
    assert_eq!(get(&mut r, EAST, "k", 1000).as_deref(), Some("east"));
    assert_eq!(get(&mut r, WEST, "k", 1299), None, "not yet replicated");
    assert_eq!(get(&mut r, WEST, "k", 1300).as_deref(), Some("east"));
    let latency = r.replication_latency();
    assert_eq!(latency.len(), 1);
    let (table, from, to, l) = latency[0];
    assert_eq!((table, from, to, l.last_ms), ("gtab", EAST, WEST, 300));
}

#[test]
fn concurrent_writes_converge_on_the_newer_version_in_both_regions() {
    for seed in 0..20 {
        let profile = json!({"global_tables": {"replication_delay_ms": [0, 500]}});
        let mut r = seeded(profile, seed);
        create(&mut r, EAST, 0);
        add_replica(&mut r, EAST, WEST, 0);
        // Both acknowledged; the later one (in HLC time) wins everywhere.
        put(&mut r, EAST, "k", "east", 1000);
        put(&mut r, WEST, "k", "west", 1001);
        settle(&mut r, 3000);
        assert_eq!(
            get(&mut r, EAST, "k", 3000).as_deref(),
            Some("west"),
            "seed {seed}"
        );
        assert_eq!(
            get(&mut r, WEST, "k", 3000).as_deref(),
            Some("west"),
            "seed {seed}"
        );
    }
}

#[test]
fn a_clock_behind_loses_to_an_earlier_write_from_a_clock_ahead() {
    // West's clock runs 500 ms ahead: its write at host time 1000 is stamped 1500, newer than
    // east's write at host time 1200; east's write is acknowledged and still lost.
    let profile = json!({"global_tables": {
        "replication_delay_ms": [100, 100],
        "clock_offset_ms": {"us-west-2": 500},
    }});
    let mut r = two_regions(profile);
    put(&mut r, WEST, "k", "west", 1000);
    put(&mut r, EAST, "k", "east", 1050);
    settle(&mut r, 2000);
    assert_eq!(get(&mut r, EAST, "k", 2000).as_deref(), Some("west"));
    assert_eq!(get(&mut r, WEST, "k", 2000).as_deref(), Some("west"));
}

#[test]
fn a_tie_broken_by_arrival_diverges() {
    let profile = json!({"global_tables": {"replication_delay_ms": [100, 100]}});
    let mut r = seeded(profile, 1);
    r.set_bug(LwwBug::TieByArrival);
    create(&mut r, EAST, 0);
    add_replica(&mut r, EAST, WEST, 0);
    put(&mut r, EAST, "k", "east", 1000);
    put(&mut r, WEST, "k", "west", 1000);
    settle(&mut r, 2000);
    assert_ne!(get(&mut r, EAST, "k", 2000), get(&mut r, WEST, "k", 2000));
}

#[test]
fn a_delete_wins_over_an_older_write_still_in_flight() {
    let profile = json!({"global_tables": {"replication_delay_ms": [200, 200]}});
    let mut r = two_regions(profile);
    put(&mut r, EAST, "k", "first", 0);
    settle(&mut r, 500);
    // West's put and east's later delete cross: east keeps a tombstone newer than the put.
    put(&mut r, WEST, "k", "old", 1000);
    let delete = json!({"TableName": "gtab", "Key": {"pk": {"S": "k"}}});
    call(&mut r, EAST, "DeleteItem", delete, 1100);
    settle(&mut r, 3000);
    assert_eq!(get(&mut r, EAST, "k", 3000), None);
    assert_eq!(get(&mut r, WEST, "k", 3000), None);
}

#[test]
fn a_transaction_reaches_the_other_region_item_by_item() {
    let profile = json!({"global_tables": {"replication_delay_ms": [0, 400]}});
    let mut r = two_regions(profile);
    let items: Vec<Json> = (0..4)
        .map(|i| json!({"Put": {"TableName": "gtab", "Item": {"pk": {"S": format!("t{i}")}, "v": {"S": "x"}}}}))
        .collect();
    call(
        &mut r,
        EAST,
        "TransactWriteItems",
        json!({"TransactItems": items}),
        1000,
    );
    let mut partial = false;
    for now in 1000..=1400 {
        let seen = (0..4)
            .filter(|i| get(&mut r, WEST, &format!("t{i}"), now).is_some())
            .count();
        partial |= seen > 0 && seen < 4;
    }
    assert!(partial, "the four writes arrive at their own times");
    assert!((0..4).all(|i| get(&mut r, WEST, &format!("t{i}"), 1400).is_some()));
}

#[test]
fn replica_updates_refuse_each_wrong_combination() {
    let mut r = two_regions(json!({}));
    let update = |updates: Json| json!({"TableName": "gtab", "ReplicaUpdates": updates});
    let cases = [
        (json!([{}]), "exactly one of Create, Update or Delete"),
        (json!([{"Create": {}}]), "RegionName is required"),
        (
            json!([{"Create": {"RegionName": "mars-1"}}]),
            "mars-1 is not a valid region name",
        ),
        (
            json!([{"Create": {"RegionName": "eu-west-1"}}, {"Delete": {"RegionName": "eu-west-1"}}]),
            "appears more than once",
        ),
        (
            json!([{"Create": {"RegionName": EAST}}]),
            "the table is in this region already",
        ),
        (
            json!([{"Create": {"RegionName": WEST}}]),
            "already existed as tables",
        ),
        (
            json!([{"Delete": {"RegionName": "eu-west-1"}}]),
            "has no replica in eu-west-1",
        ),
        (json!([{"Delete": {"RegionName": EAST}}]), "use DeleteTable"),
    ];
    for (updates, message) in cases {
        let answer = call(&mut r, EAST, "UpdateTable", update(updates.clone()), 10);
        assert_eq!(
            answer["__type"], "ValidationException",
            "{updates}: {answer}"
        );
        let text = answer["message"].as_str().unwrap();
        assert!(text.contains(message), "{updates}: {text}");
    }
    let combined = json!({"TableName": "gtab", "BillingMode": "PAY_PER_REQUEST",
        "ReplicaUpdates": [{"Create": {"RegionName": "eu-west-1"}}]});
    let answer = call(&mut r, EAST, "UpdateTable", combined, 10);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("cannot be combined")
    );
    let stream_off = json!({"TableName": "gtab", "StreamSpecification": {"StreamEnabled": false}});
    let answer = call(&mut r, WEST, "UpdateTable", stream_off, 10);
    assert_eq!(answer["__type"], "ValidationException", "{answer}");
    let missing =
        json!({"TableName": "nope", "ReplicaUpdates": [{"Create": {"RegionName": WEST}}]});
    let answer = call(&mut r, EAST, "UpdateTable", missing, 10);
    assert_eq!(answer["__type"], "ResourceNotFoundException");
}

#[test]
fn a_table_with_another_stream_view_type_cannot_get_a_replica() {
    let mut r = regions(json!({}));
    let body = json!({
        "TableName": "gtab",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"},
    });
    call(&mut r, EAST, "CreateTable", body, 0);
    let answer = add_replica(&mut r, EAST, WEST, 0);
    assert!(
        answer["message"].as_str().unwrap().contains("KEYS_ONLY"),
        "{answer}"
    );
}

#[test]
fn a_deleted_replica_stops_replicating_and_a_protected_one_is_refused() {
    let mut r = two_regions(json!({"global_tables": {"replication_delay_ms": [50, 50]}}));
    let protect = json!({"TableName": "gtab", "DeletionProtectionEnabled": true});
    call(&mut r, WEST, "UpdateTable", protect, 10);
    let delete = json!({"TableName": "gtab", "ReplicaUpdates": [{"Delete": {"RegionName": WEST}}]});
    let answer = call(&mut r, EAST, "UpdateTable", delete.clone(), 20);
    assert_eq!(answer["__type"], "ResourceInUseException", "{answer}");
    let unprotect = json!({"TableName": "gtab", "DeletionProtectionEnabled": false});
    call(&mut r, WEST, "UpdateTable", unprotect, 30);
    put(&mut r, EAST, "k", "v", 40);
    let answer = call(&mut r, EAST, "UpdateTable", delete, 50);
    assert!(answer.get("__type").is_none(), "{answer}");
    settle(&mut r, 1000);
    let west = call(
        &mut r,
        WEST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        1000,
    );
    assert_eq!(west["__type"], "ResourceNotFoundException", "{west}");
    let east = call(
        &mut r,
        EAST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        1000,
    );
    assert!(
        east["Table"].get("Replicas").is_none(),
        "no longer global: {east}"
    );
    assert_eq!(r.replication_in_flight(), 0);
}

#[test]
fn time_to_live_and_deletes_of_a_replica_pass_between_regions() {
    let mut r = two_regions(json!({}));
    let ttl = json!({"TableName": "gtab", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}});
    call(&mut r, EAST, "UpdateTimeToLive", ttl, 10);
    let west = call(
        &mut r,
        WEST,
        "DescribeTimeToLive",
        json!({"TableName": "gtab"}),
        20,
    );
    assert_eq!(
        west["TimeToLiveDescription"]["AttributeName"], "exp",
        "{west}"
    );
    let answer = call(
        &mut r,
        WEST,
        "DeleteTable",
        json!({"TableName": "gtab"}),
        30,
    );
    assert!(answer.get("__type").is_none(), "{answer}");
    let east = call(
        &mut r,
        EAST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        40,
    );
    assert!(east["Table"].get("Replicas").is_none(), "{east}");
}

#[test]
fn a_host_clock_stepping_back_still_stamps_later_writes_newer() {
    for (bug, converge) in [(LwwBug::None, true), (LwwBug::PhysicalClock, false)] {
        let profile = json!({"global_tables": {"replication_delay_ms": [100, 100]}});
        let mut r = seeded(profile, 1);
        r.set_bug(bug);
        create(&mut r, EAST, 0);
        add_replica(&mut r, EAST, WEST, 0);
        put(&mut r, EAST, "k", "first", 1000);
        put(&mut r, EAST, "k", "second", 900); // the host's clock stepped back
        settle(&mut r, 2000);
        let (east, west) = (get(&mut r, EAST, "k", 2000), get(&mut r, WEST, "k", 2000));
        assert_eq!(east.as_deref(), Some("second"));
        assert_eq!(east == west, converge, "{bug:?}: {east:?} {west:?}");
    }
}

const EAST2: &str = "us-east-2";

/// A table made MRSC across east, east-2 and west with a 200 ms coordination window.
fn strong_regions() -> Regions {
    let mut r = regions(json!({"global_tables": {"replication_delay_ms": [200, 200]}}));
    create(&mut r, EAST, 0);
    let body = json!({"TableName": "gtab", "MultiRegionConsistency": "STRONG", "ReplicaUpdates": [
        {"Create": {"RegionName": EAST2}}, {"Create": {"RegionName": WEST}}]});
    let answer = call(&mut r, EAST, "UpdateTable", body, 0);
    assert!(answer.get("__type").is_none(), "{answer}");
    r
}

#[test]
fn a_strong_table_is_read_everywhere_at_once_and_refuses_a_concurrent_write() {
    let mut r = strong_regions();
    let described = call(
        &mut r,
        WEST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        10,
    );
    assert_eq!(described["Table"]["MultiRegionConsistency"], "STRONG");
    assert_eq!(described["Table"]["Replicas"].as_array().unwrap().len(), 2);
    put(&mut r, EAST, "k", "east", 1000);
    assert_eq!(
        get(&mut r, WEST, "k", 1000).as_deref(),
        Some("east"),
        "no delay"
    );
    assert_eq!(get(&mut r, EAST2, "k", 1000).as_deref(), Some("east"));
    let answer = put(&mut r, WEST, "k", "west", 1100);
    assert_eq!(
        answer["__type"], "ReplicatedWriteConflictException",
        "{answer}"
    );
    assert_eq!(get(&mut r, EAST, "k", 1100).as_deref(), Some("east"));
    // The same region may write again; another region once the coordination is over.
    assert!(
        put(&mut r, EAST, "k", "east2", 1150)
            .get("__type")
            .is_none()
    );
    r.handle_timeout(1400);
    assert!(put(&mut r, WEST, "k", "west", 1400).get("__type").is_none());
    assert_eq!(get(&mut r, EAST, "k", 1400).as_deref(), Some("west"));
    // A conditional write sees the latest version from any region.
    let conditional = json!({"TableName": "gtab", "Item": {"pk": {"S": "k"}, "v": {"S": "x"}},
        "ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": {"S": "west"}}});
    let answer = call(&mut r, EAST2, "PutItem", conditional, 2000);
    assert!(answer.get("__type").is_none(), "{answer}");
}

#[test]
fn a_strong_table_refuses_what_mrsc_does_not_support() {
    let mut r = strong_regions();
    let txn =
        json!({"TransactItems": [{"Put": {"TableName": "gtab", "Item": {"pk": {"S": "t"}}}}]});
    let answer = call(&mut r, EAST, "TransactWriteItems", txn, 10);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("A transaction is not supported"),
        "{answer}"
    );
    let ttl = json!({"TableName": "gtab", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}});
    let answer = call(&mut r, WEST, "UpdateTimeToLive", ttl, 10);
    assert!(
        answer["message"].as_str().unwrap().contains("Time to Live"),
        "{answer}"
    );
    let add =
        json!({"TableName": "gtab", "ReplicaUpdates": [{"Create": {"RegionName": "eu-west-1"}}]});
    let answer = call(&mut r, EAST, "UpdateTable", add, 10);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("Adding a replica"),
        "{answer}"
    );
    let partial =
        json!({"TableName": "gtab", "ReplicaUpdates": [{"Delete": {"RegionName": WEST}}]});
    let answer = call(&mut r, EAST, "UpdateTable", partial, 10);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("removed together"),
        "{answer}"
    );
    let eventual = json!({"TableName": "gtab", "MultiRegionConsistency": "EVENTUAL",
        "ReplicaUpdates": [{"Delete": {"RegionName": WEST}}, {"Delete": {"RegionName": EAST2}}]});
    let answer = call(&mut r, EAST, "UpdateTable", eventual, 10);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("cannot be changed"),
        "{answer}"
    );
    let all = json!({"TableName": "gtab",
        "ReplicaUpdates": [{"Delete": {"RegionName": WEST}}, {"Delete": {"RegionName": EAST2}}]});
    let answer = call(&mut r, EAST, "UpdateTable", all, 10);
    assert!(answer.get("__type").is_none(), "{answer}");
    let described = call(
        &mut r,
        EAST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        20,
    );
    assert!(
        described["Table"].get("MultiRegionConsistency").is_none(),
        "{described}"
    );
}

#[test]
fn becoming_strong_needs_three_regions_of_one_set_an_empty_table_and_a_witness_counts() {
    let strong = |updates: Json, witness: Option<&str>| {
        let mut body = json!({"TableName": "gtab", "MultiRegionConsistency": "STRONG", "ReplicaUpdates": updates});
        if let Some(w) = witness {
            body["GlobalTableWitnessUpdates"] = json!([{"Create": {"RegionName": w}}]);
        }
        body
    };
    let cases = [
        (
            strong(json!([{"Create": {"RegionName": WEST}}]), None),
            "exactly three regions",
        ),
        (
            strong(
                json!([{"Create": {"RegionName": WEST}}, {"Create": {"RegionName": "eu-west-1"}}]),
                None,
            ),
            "one region set",
        ),
    ];
    for (body, message) in cases {
        let mut r = regions(json!({}));
        create(&mut r, EAST, 0);
        let answer = call(&mut r, EAST, "UpdateTable", body.clone(), 10);
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "{body}: {answer}"
        );
    }
    let mut r = regions(json!({}));
    create(&mut r, EAST, 0);
    put(&mut r, EAST, "k", "v", 5);
    let answer = call(
        &mut r,
        EAST,
        "UpdateTable",
        strong(json!([{"Create": {"RegionName": WEST}}]), Some(EAST2)),
        10,
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("must be empty"),
        "{answer}"
    );
    let mut r = regions(json!({}));
    create(&mut r, EAST, 0);
    let answer = call(
        &mut r,
        EAST,
        "UpdateTable",
        strong(json!([{"Create": {"RegionName": WEST}}]), Some(EAST2)),
        10,
    );
    assert!(answer.get("__type").is_none(), "{answer}");
    let described = call(
        &mut r,
        WEST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        20,
    );
    assert_eq!(
        described["Table"]["GlobalTableWitnesses"],
        json!([{"RegionName": EAST2, "WitnessStatus": "ACTIVE"}])
    );
    let listed = call(&mut r, EAST2, "ListTables", json!({}), 20);
    assert_eq!(listed["TableNames"], json!([]), "a witness holds no table");
}

/// Two hosts, one region each, replicating by pulls (the simulator's shape).
fn hosts(bug: LwwBug) -> (Regions, Regions) {
    let make = |region: &str| {
        let config = Config {
            region: region.to_string(),
            ..Config::default()
        };
        let mut host = Regions::new(Engine::new(config));
        host.set_bug(bug);
        create(&mut host, region, 0);
        host.join_remote(region, "gtab", &[(EAST, 0), (WEST, 1)])
            .unwrap();
        host
    };
    (make(EAST), make(WEST))
}

/// `to` pulls from `from` once.
fn pull(to: &mut Regions, to_region: &str, from: &mut Regions, from_region: &str, now: u64) {
    let request = to.pull_request(to_region, "gtab", from_region).unwrap();
    let shipped = from.answer_pull(&request, 100);
    to.apply_shipped(to_region, "gtab", from_region, shipped, now);
    to.handle_timeout(now);
    from.handle_timeout(now);
}

#[test]
fn hosts_that_pull_converge_and_keep_a_tombstone_until_it_is_safe() {
    for (bug, converge) in [(LwwBug::None, true), (LwwBug::EarlyTombstoneDrop, false)] {
        let (mut a, mut b) = hosts(bug);
        put(&mut a, EAST, "k", "x", 0);
        pull(&mut b, WEST, &mut a, EAST, 10);
        assert_eq!(get(&mut b, WEST, "k", 10).as_deref(), Some("x"));
        put(&mut b, WEST, "k", "old", 50);
        let delete = json!({"TableName": "gtab", "Key": {"pk": {"S": "k"}}});
        call(&mut a, EAST, "DeleteItem", delete, 100);
        a.handle_timeout(110);
        for now in [200, 300, 400] {
            pull(&mut a, EAST, &mut b, WEST, now);
            pull(&mut b, WEST, &mut a, EAST, now + 1);
        }
        let (east, west) = (get(&mut a, EAST, "k", 500), get(&mut b, WEST, "k", 500));
        assert_eq!(east == west, converge, "{bug:?}: {east:?} {west:?}");
        if converge {
            assert_eq!(east, None);
        }
    }
}

#[test]
fn a_lost_pull_only_delays_and_the_log_is_trimmed_once_applied() {
    let (mut a, mut b) = hosts(LwwBug::None);
    for i in 0..10 {
        put(&mut a, EAST, &format!("k{i}"), "v", i);
    }
    let request = b.pull_request(WEST, "gtab", EAST).unwrap();

    let lost = a.answer_pull(&request, 4);
    assert_eq!(lost.len(), 4);
    // The answer is lost; the next pull asks again from the same point.
    let request = b.pull_request(WEST, "gtab", EAST).unwrap();
    assert_eq!(request.next_seq, 1);
    let first = a.answer_pull(&request, 4);
    b.apply_shipped(WEST, "gtab", EAST, first, 20);
    b.apply_shipped(WEST, "gtab", EAST, lost, 20); // a late duplicate is ignored
    while get(&mut b, WEST, "k9", 30).is_none() {
        pull(&mut b, WEST, &mut a, EAST, 30);
    }
    pull(&mut b, WEST, &mut a, EAST, 40);
    let request = b.pull_request(WEST, "gtab", EAST).unwrap();
    assert_eq!(request.next_seq, 11);
    assert!(a.answer_pull(&request, 100).is_empty());
}

#[test]
fn replica_auto_scaling_lists_every_replica_with_the_profiles_target_tracking() {
    let profile = json!({"defaults": {"throttling": true, "auto_scaling": {
        "target_utilization": 0.7, "min_capacity": 5, "max_capacity": 100}}});
    let mut r = regions(profile);
    let body = json!({
        "TableName": "gtab",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    });
    call(&mut r, EAST, "CreateTable", body, 0);
    let alone = call(
        &mut r,
        EAST,
        "DescribeTableReplicaAutoScaling",
        json!({"TableName": "gtab"}),
        0,
    );
    let replicas = &alone["TableAutoScalingDescription"]["Replicas"];
    assert_eq!(replicas.as_array().unwrap().len(), 1, "{alone}");
    assert_eq!(replicas[0]["RegionName"], EAST);
    let settings = &replicas[0]["ReplicaProvisionedWriteCapacityAutoScalingSettings"];
    assert_eq!(settings["MinimumUnits"], 5);
    assert_eq!(settings["MaximumUnits"], 100);
    assert_eq!(
        settings["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"],
        70.0
    );
    add_replica(&mut r, EAST, WEST, 10);
    let both = call(
        &mut r,
        WEST,
        "DescribeTableReplicaAutoScaling",
        json!({"TableName": "gtab"}),
        20,
    );
    let regions: Vec<&str> = both["TableAutoScalingDescription"]["Replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["RegionName"].as_str().unwrap())
        .collect();
    assert_eq!(regions, [EAST, WEST]);
    let missing = call(
        &mut r,
        EAST,
        "DescribeTableReplicaAutoScaling",
        json!({"TableName": "nope"}),
        20,
    );
    assert_eq!(missing["__type"], "ResourceNotFoundException");
}

const EU: &str = "eu-west-1";

fn three_regions(seed: u64) -> Regions {
    let profile = json!({"global_tables": {"replication_delay_ms": [100, 1000]}});
    let mut r = seeded(profile, seed);
    create(&mut r, EAST, 0);
    add_replica(&mut r, EAST, WEST, 0);
    add_replica(&mut r, EAST, EU, 0);
    r
}

/// Review finding: a replica removed while its last writes are on their way must not let the
/// others drop a tombstone those writes are older than.
#[test]
fn a_removed_replicas_last_writes_still_meet_the_tombstones() {
    for seed in 0..40 {
        let mut r = three_regions(seed);
        put(&mut r, EAST, "k", "v0", 10);
        settle(&mut r, 2000);
        put(&mut r, WEST, "k", "P", 3000);
        let delete =
            json!({"TableName": "gtab", "ReplicaUpdates": [{"Delete": {"RegionName": WEST}}]});
        let answer = call(&mut r, EAST, "UpdateTable", delete, 3001);
        assert!(answer.get("__type").is_none(), "{answer}");
        let key = json!({"TableName": "gtab", "Key": {"pk": {"S": "k"}}});
        call(&mut r, EAST, "DeleteItem", key, 3002);
        settle(&mut r, 8000);
        let (east, eu) = (get(&mut r, EAST, "k", 8000), get(&mut r, EU, "k", 8000));
        assert_eq!(
            (east.as_deref(), eu.as_deref()),
            (None, None),
            "seed {seed}"
        );
    }
}

/// Review finding: with two regions, removing one must not lose the acknowledged writes it
/// had not yet replicated.
#[test]
fn the_last_replica_still_receives_a_removed_ones_acknowledged_writes() {
    let mut r = two_regions(json!({"global_tables": {"replication_delay_ms": [300, 300]}}));
    put(&mut r, WEST, "k", "acked", 1000);
    let answer = call(
        &mut r,
        WEST,
        "DeleteTable",
        json!({"TableName": "gtab"}),
        1001,
    );
    assert!(answer.get("__type").is_none(), "{answer}");
    settle(&mut r, 2000);
    assert_eq!(get(&mut r, EAST, "k", 2000).as_deref(), Some("acked"));
    let described = call(
        &mut r,
        EAST,
        "DescribeTable",
        json!({"TableName": "gtab"}),
        2000,
    );
    assert!(described["Table"].get("Replicas").is_none(), "{described}");
    // Once drained, the table is regional: a replica can be added again.
    let again = add_replica(&mut r, EAST, WEST, 2100);
    assert!(again.get("__type").is_none(), "{again}");
    assert_eq!(get(&mut r, WEST, "k", 2100).as_deref(), Some("acked"));
}

#[test]
fn a_strong_tables_region_is_not_deleted_alone_and_bad_overrides_change_nothing() {
    let mut r = strong_regions();
    let answer = call(
        &mut r,
        WEST,
        "DeleteTable",
        json!({"TableName": "gtab"}),
        10,
    );
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("removed together"),
        "{answer}"
    );
    let mut r = regions(json!({}));
    create(&mut r, EAST, 0);
    let body = json!({"TableName": "gtab", "ReplicaUpdates": [
        {"Create": {"RegionName": WEST}},
        {"Create": {"RegionName": EU, "TableClassOverride": "GLACIER"}}]});
    let answer = call(&mut r, EAST, "UpdateTable", body, 10);
    assert_eq!(answer["__type"], "ValidationException", "{answer}");
    let west = call(&mut r, WEST, "ListTables", json!({}), 10);
    assert_eq!(west["TableNames"], json!([]), "no action was applied");
}

#[test]
fn a_host_makes_engines_for_a_bounded_number_of_regions() {
    let mut r = regions(json!({}));
    for i in 0..dynasim_engine::global::regions::REGIONS_MAX + 5 {
        let answer = call(&mut r, &format!("r{i}"), "ListTables", json!({}), 0);
        let refused = answer["__type"] == "UnrecognizedClientException";
        assert_eq!(
            refused,
            i + 1 >= dynasim_engine::global::regions::REGIONS_MAX,
            "{i}: {answer}"
        );
    }
}
