"""Time to Live through boto3: UpdateTimeToLive and DescribeTimeToLive (round trip, errors,
ENABLING under a profile, the setting kept across a restart with --data-dir), and the sweep:
an expired item deleted after `--ttl-delay-ms`, a future one kept, the deletion in the table's
stream as a REMOVE by the service."""
import os
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import CREDENTIALS, launch, stop
from helpers import expect_error

pytestmark = pytest.mark.skipif(bool(os.environ.get("DYNASIM_ENDPOINT")),
                                reason="starts its own dynasim servers with --ttl-delay-ms")

DELAY_MS = 300
SERVICE = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}


def clients(url):
    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    dynamodb = boto3.client("dynamodb", endpoint_url=url, config=config, **CREDENTIALS)
    streams = boto3.client("dynamodbstreams", endpoint_url=url, config=config, **CREDENTIALS)
    return dynamodb, streams


@pytest.fixture(scope="module")
def server():
    process, url = launch("--ttl-delay-ms", str(DELAY_MS))
    yield clients(url)
    stop(process)


def create(client, stream=False):
    name = f"ttl-{uuid.uuid4().hex[:8]}"
    extra = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"}
    client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST", **extra)
    return name


def enable(client, table, attribute="exp", enabled=True):
    return client.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attribute})


def test_update_and_describe_round_trip(server):
    client, _ = server
    table = create(client)
    assert client.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"}
    answer = enable(client, table)
    assert answer["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    assert client.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}


def test_errors(server):
    client, _ = server
    table = create(client)
    expect_error(enable, "ValidationException", contains="already disabled",
                 client=client, table=table, enabled=False)
    enable(client, table)
    expect_error(enable, "ValidationException", contains="already enabled", client=client, table=table)
    different = "TimeToLive is active on a different AttributeName: current AttributeName is exp"
    expect_error(enable, "ValidationException", message=different,
                 client=client, table=table, attribute="other")
    expect_error(enable, "ValidationException", message=different,
                 client=client, table=table, attribute="other", enabled=False)
    expect_error(enable, "ValidationException",
                 message="Time to live has been modified multiple times within a fixed interval",
                 client=client, table=table, enabled=False)
    expect_error(client.describe_time_to_live, "ResourceNotFoundException",
                 contains="not found", TableName="ttl-missing")
    expect_error(enable, "ResourceNotFoundException", contains="not found",
                 client=client, table="ttl-missing")
    expect_error(enable, "ValidationException", contains="length less than or equal to 255",
                 client=client, table=table, attribute="a" * 256)
    expect_error(client.update_time_to_live, "ValidationException",
                 contains="'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be null",
                 TableName=table, TimeToLiveSpecification={"AttributeName": "exp"})
    expect_error(client.update_time_to_live, "ValidationException",
                 contains="'timeToLiveSpecification' failed to satisfy constraint: Member must not be null",
                 TableName=table)


def wait_until_gone(client, table, pk, deadline_s=10.0):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        if "Item" not in client.get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True):
            return True
        time.sleep(0.05)
    return False


def test_an_expired_item_is_deleted_after_the_delay_and_a_future_one_kept(server):
    client, _ = server
    table = create(client)
    enable(client, table)
    # At least 1 s (up to 2 s) from now: the read below finds the item not yet expired.
    expiry = int(time.time()) + 2
    client.put_item(TableName=table, Item={"pk": {"S": "soon"}, "exp": {"N": str(expiry)}})
    client.put_item(TableName=table, Item={"pk": {"S": "later"}, "exp": {"N": str(expiry + 3600)}})
    client.put_item(TableName=table, Item={"pk": {"S": "text"}, "exp": {"S": str(expiry - 100)}})
    assert "Item" in client.get_item(TableName=table, Key={"pk": {"S": "soon"}}), "not expired yet"
    assert wait_until_gone(client, table, "soon")
    # Deleted no earlier than the expiry plus the delay.
    assert time.time() >= expiry + DELAY_MS / 1000 - 0.05
    left = client.scan(TableName=table, ConsistentRead=True)["Items"]
    assert sorted(item["pk"]["S"] for item in left) == ["later", "text"]


def test_the_deletion_is_a_service_remove_in_the_stream(server):
    client, streams = server
    table = create(client, stream=True)
    enable(client, table)
    client.put_item(TableName=table, Item={"pk": {"S": "gone"}, "exp": {"N": str(int(time.time()) - 5)}})
    assert wait_until_gone(client, table, "gone")
    arn = streams.list_streams(TableName=table)["Streams"][0]["StreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    assert "userIdentity" not in records[0]
    assert records[1]["userIdentity"] == SERVICE
    assert records[1]["dynamodb"]["OldImage"]["pk"] == {"S": "gone"}


def test_a_profile_shows_enabling(tmp_path):
    profile = tmp_path / "slow-ttl.toml"
    profile.write_text("[limits]\nttl_transition_ms = 60000\n")
    process, url = launch("--profile", str(profile), "--seed", "1")
    try:
        client, _ = clients(url)
        table = create(client)
        enable(client, table)
        assert client.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLING", "AttributeName": "exp"}
    finally:
        stop(process)


def test_the_setting_and_the_deletions_survive_a_restart(tmp_path):
    process, url = launch("--data-dir", str(tmp_path / "data"))
    try:
        client, _ = clients(url)
        table = create(client)
        enable(client, table)
        client.put_item(TableName=table, Item={"pk": {"S": "gone"}, "exp": {"N": str(int(time.time()) - 5)}})
        client.put_item(TableName=table, Item={"pk": {"S": "kept"}})
        assert wait_until_gone(client, table, "gone")
    finally:
        stop(process)
    process, url = launch("--data-dir", str(tmp_path / "data"))
    try:
        client, _ = clients(url)
        assert client.describe_time_to_live(TableName=table)["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
        expect_error(enable, "ValidationException", contains="already enabled", client=client, table=table)
        left = client.scan(TableName=table, ConsistentRead=True)["Items"]
        assert [item["pk"]["S"] for item in left] == ["kept"], "the deleted item is not back after the restart"
    finally:
        stop(process)
