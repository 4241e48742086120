"""Global tables (version 2019.11.21) across two regions of one `dynasim serve`, through boto3:
each region's own catalog (chosen by the client's region_name, the SigV4 scope), a replica
added with UpdateTable's ReplicaUpdates and described in both regions, a write in one region
read in the other only after the replication delay, a conflict resolved by last writer wins
(a write acknowledged in one region and lost), the errors of wrong replica updates, and a
multi-Region strongly consistent table (the latest write read in every region, the conflict of
a concurrent write from another region).

The server runs a profile with a fixed replication delay and a clock offset for one region,
in a server of its own."""
import json
import os
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import launch, stop
from helpers import error_of, expect_error

EAST, WEST = "us-east-1", "us-west-2"
DELAY_MS = 800


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("starts its own dynasim server with two regions and a replication profile")
    profile = tmp_path_factory.mktemp("global") / "global.toml"
    # West's physical clock runs 5 s ahead: its writes carry newer versions than east's
    # writes made up to 5 s later.
    profile.write_text(
        "[global_tables]\n"
        f"replication_delay_ms = [{DELAY_MS}, {DELAY_MS}]\n"
        'clock_offset_ms = { "us-west-2" = 5000 }\n'
    )
    process, url = launch("--profile", str(profile), "--seed", "5")
    yield url
    stop(process)


def client_in(url, region):
    return boto3.client(
        "dynamodb", endpoint_url=url, region_name=region,
        aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def east(server):
    return client_in(server, EAST)


@pytest.fixture(scope="module")
def west(server):
    return client_in(server, WEST)


def new_table(client, **extra):
    name = "g_" + uuid.uuid4().hex[:12]
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], **extra)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


@pytest.fixture
def global_table(east, west):
    name = new_table(east)
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    west.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    yield name
    east.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    east.delete_table(TableName=name)


def value(client, table, key):
    item = client.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
    return item["v"]["S"] if item else None


def wait_for(client, table, key, expected, timeout_s=10):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if value(client, table, key) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"{key} never read {expected!r}: {value(client, table, key)!r}")


def test_each_region_has_its_own_tables(east, west):
    name = new_table(east)
    try:
        assert name in east.list_tables()["TableNames"]
        assert name not in west.list_tables()["TableNames"]
        arn = east.describe_table(TableName=name)["Table"]["TableArn"]
        assert arn.startswith("arn:aws:dynamodb:us-east-1:"), arn
        expect_error(west.describe_table, "ResourceNotFoundException", TableName=name)
    finally:
        east.delete_table(TableName=name)


def test_a_replica_is_described_in_both_regions(east, west, global_table):
    in_east = east.describe_table(TableName=global_table)["Table"]
    in_west = west.describe_table(TableName=global_table)["Table"]
    assert in_east["GlobalTableVersion"] == in_west["GlobalTableVersion"] == "2019.11.21"
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in in_east["Replicas"]] == [(WEST, "ACTIVE")]
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in in_west["Replicas"]] == [(EAST, "ACTIVE")]
    assert in_west["TableArn"].startswith("arn:aws:dynamodb:us-west-2:")
    assert in_east["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert in_west["KeySchema"] == in_east["KeySchema"]


def test_a_write_is_read_in_the_other_region_after_the_delay(east, west, global_table):
    started = time.time()
    east.put_item(TableName=global_table, Item={"pk": {"S": "k"}, "v": {"S": "from-east"}})
    assert value(east, global_table, "k") == "from-east"
    assert value(west, global_table, "k") is None, "replication is asynchronous"
    wait_for(west, global_table, "k", "from-east")
    assert time.time() - started >= DELAY_MS / 1000 - 0.05


def test_a_conflict_is_resolved_by_last_writer_wins(east, west, global_table):
    # Both writes are acknowledged before either reaches the other region. West's clock is
    # ahead, so its earlier write carries the newer version: east's later write is lost in
    # both regions, and east's conditional write saw only east's version.
    west.put_item(TableName=global_table, Item={"pk": {"S": "c"}, "v": {"S": "west"}})
    east.put_item(TableName=global_table, Item={"pk": {"S": "c"}, "v": {"S": "east"}},
                  ConditionExpression="attribute_not_exists(pk)")
    assert value(east, global_table, "c") == "east"
    wait_for(east, global_table, "c", "west")
    wait_for(west, global_table, "c", "west")


def test_a_delete_replicates_and_wins_over_an_older_write(east, west, global_table):
    east.put_item(TableName=global_table, Item={"pk": {"S": "d"}, "v": {"S": "x"}})
    wait_for(west, global_table, "d", "x")
    east.delete_item(TableName=global_table, Key={"pk": {"S": "d"}})
    wait_for(west, global_table, "d", None)


def test_replication_latency_is_published_in_the_source_region(server, east, west, global_table):
    east.put_item(TableName=global_table, Item={"pk": {"S": "m"}, "v": {"S": "x"}})
    wait_for(west, global_table, "m", "x")
    text = urllib.request.urlopen(f"{server}/metrics?region={EAST}").read().decode()
    line = f'dynasim_replication_latency_ms{{table="{global_table}",destination="{WEST}",stat="last"}}'
    last = [l for l in text.splitlines() if l.startswith(line)]
    assert last and float(last[0].split()[-1]) >= DELAY_MS, text
    series = json.loads(urllib.request.urlopen(f"{server}/metrics/series?region={WEST}").read())
    assert series["Tables"][global_table]["Totals"]["ReplicatedWriteCapacityUnits"] >= 1


def test_wrong_replica_updates_are_refused(east, west, global_table):
    update = lambda updates: east.update_table(TableName=global_table, ReplicaUpdates=updates)
    expect_error(update, "ValidationException", contains="is not a valid region name",
                 updates=[{"Create": {"RegionName": "mars-east-1"}}])
    expect_error(update, "ValidationException", contains="appears more than once",
                 updates=[{"Create": {"RegionName": "eu-west-1"}}, {"Delete": {"RegionName": "eu-west-1"}}])
    expect_error(update, "ValidationException", contains="already existed as tables",
                 updates=[{"Create": {"RegionName": WEST}}])
    expect_error(update, "ValidationException", contains="has no replica in eu-west-1",
                 updates=[{"Delete": {"RegionName": "eu-west-1"}}])
    expect_error(west.update_table, "ValidationException", contains="cannot be disabled",
                 TableName=global_table, StreamSpecification={"StreamEnabled": False})
    expect_error(east.update_table, "ValidationException", contains="cannot be changed",
                 TableName=global_table, MultiRegionConsistency="STRONG",
                 ReplicaUpdates=[{"Create": {"RegionName": "us-east-2"}}])


def test_a_table_with_another_stream_view_type_gets_no_replica(east):
    name = new_table(east, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    try:
        expect_error(east.update_table, "ValidationException", contains="NEW_AND_OLD_IMAGES",
                     TableName=name, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    finally:
        east.delete_table(TableName=name)


def test_a_strong_table_reads_the_latest_everywhere_and_refuses_a_concurrent_write(server, east, west):
    east2 = client_in(server, "us-east-2")
    name = new_table(east)
    east.update_table(TableName=name, MultiRegionConsistency="STRONG", ReplicaUpdates=[
        {"Create": {"RegionName": WEST}}, {"Create": {"RegionName": "us-east-2"}}])
    try:
        described = west.describe_table(TableName=name)["Table"]
        assert described["MultiRegionConsistency"] == "STRONG"
        east.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"S": "east"}})
        assert value(west, name, "k") == "east", "a strongly consistent read sees the latest write"
        assert value(east2, name, "k") == "east"
        # Within the coordination window of east's write, west's write of the item conflicts.
        response = expect_conflict(west, name)
        assert response["Error"]["Message"] == (
            "The request was rejected because one or more items in the request are being "
            "modified by a request in another Region.")
        expect_error(east.transact_write_items, "ValidationException", contains="not supported",
                     TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": "t"}}}}])
    finally:
        east.update_table(TableName=name, ReplicaUpdates=[
            {"Delete": {"RegionName": WEST}}, {"Delete": {"RegionName": "us-east-2"}}])
        east.delete_table(TableName=name)


def expect_conflict(client, table):

    response = error_of(client.put_item, TableName=table, Item={"pk": {"S": "k"}, "v": {"S": "west"}})
    assert response["Error"]["Code"] == "ReplicatedWriteConflictException", response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    return response


def test_replica_auto_scaling_lists_both_regions(east, west, global_table):
    described = west.describe_table_replica_auto_scaling(TableName=global_table)
    description = described["TableAutoScalingDescription"]
    assert description["TableName"] == global_table
    assert sorted(r["RegionName"] for r in description["Replicas"]) == [EAST, WEST]
    assert all(r["ReplicaStatus"] == "ACTIVE" for r in description["Replicas"])
