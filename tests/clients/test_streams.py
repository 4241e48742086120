"""DynamoDB Streams through boto3 and the AWS CLI (dynamodb-facts.md §8): StreamSpecification on
CreateTable and UpdateTable, the Streams API on the same endpoint, records with DynamoDB's
shape, and a consumer that follows shard lineage across a partition split."""
import json
import os
import subprocess
import sys
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import CREDENTIALS


@pytest.fixture(scope="module")
def streams(endpoint):
    return boto3.client("dynamodbstreams", endpoint_url=endpoint,
                        config=Config(retries={"max_attempts": 1}), **CREDENTIALS)


def create(client, view="NEW_AND_OLD_IMAGES", write_units=None):
    name = "s_" + uuid.uuid4().hex[:12]
    extra = {"BillingMode": "PAY_PER_REQUEST"}
    if write_units:
        extra = {"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": write_units}}
    answer = client.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view}, **extra)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name, answer["TableDescription"]


def all_shards(streams, arn):
    shards, start = [], None
    while True:
        kwargs = {"StreamArn": arn, "Limit": 1}
        if start:
            kwargs["ExclusiveStartShardId"] = start
        description = streams.describe_stream(**kwargs)["StreamDescription"]
        shards += description["Shards"]
        start = description.get("LastEvaluatedShardId")
        if not start:
            return shards


def read_shard(streams, arn, shard_id, limit=1000):
    """Every record of a shard from TRIM_HORIZON: until a closed shard has no next iterator, or
    an open one answers nothing."""
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    while iterator:
        answer = streams.get_records(ShardIterator=iterator, Limit=limit)
        if not answer["Records"] and "NextShardIterator" in answer:
            break
        records += answer["Records"]
        iterator = answer.get("NextShardIterator")
    return records


def read_by_lineage(streams, arn):
    """What a Kinesis-adapter consumer does: a shard only after its parent is read."""
    shards = all_shards(streams, arn)
    ids = {s["ShardId"] for s in shards}
    done, records = set(), []
    pending = list(shards)
    while pending:
        ready = [s for s in pending if s.get("ParentShardId") not in ids or s["ParentShardId"] in done]
        assert ready, "lineage has a cycle"
        for shard in ready:
            records += read_shard(streams, arn, shard["ShardId"], limit=2)
            done.add(shard["ShardId"])
            pending.remove(shard)
    return records


def test_records_have_dynamodbs_shape(client, streams):
    name, description = create(client)
    arn = description["LatestStreamArn"]
    assert description["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert arn == f"{description['TableArn']}/stream/{description['LatestStreamLabel']}"
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "n": {"N": "1"}})  # no change: no record
    client.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :two",
                       ExpressionAttributeValues={":two": {"N": "2"}})
    client.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    client.delete_item(TableName=name, Key={"pk": {"S": "a"}})  # nothing deleted: no record
    records = read_by_lineage(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for r in records:
        assert r["eventSource"] == "aws:dynamodb" and r["awsRegion"] == "us-east-1"
        assert len(r["eventID"]) == 32 and "userIdentity" not in r
        body = r["dynamodb"]
        assert body["Keys"] == {"pk": {"S": "a"}} and body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert body["SequenceNumber"].isdigit() and 21 <= len(body["SequenceNumber"]) <= 40
        assert body["SizeBytes"] > 0
    assert "OldImage" not in records[0]["dynamodb"]
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    assert "NewImage" not in records[2]["dynamodb"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences)
    client.delete_table(TableName=name)


def test_a_consumer_follows_a_shard_split(client, streams):
    name, description = create(client, view="NEW_IMAGE", write_units=900)
    arn = description["LatestStreamArn"]
    assert len(all_shards(streams, arn)) == 1
    for i in range(20):
        client.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "n": {"N": "1"}})
    # More throughput than one partition serves: the partition splits, and its shard with it.
    client.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1800})
    for i in range(20):
        client.update_item(TableName=name, Key={"pk": {"S": f"k{i}"}}, UpdateExpression="ADD n :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    for i in range(0, 20, 3):
        client.delete_item(TableName=name, Key={"pk": {"S": f"k{i}"}})
    shards = all_shards(streams, arn)
    parent = shards[0]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    children = [s for s in shards if s.get("ParentShardId") == parent["ShardId"]]
    assert len(children) == 2
    assert all("EndingSequenceNumber" not in c["SequenceNumberRange"] for c in children)
    replay = {}
    for record in read_by_lineage(streams, arn):
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        if record["eventName"] == "REMOVE":
            replay.pop(key)
        else:
            replay[key] = record["dynamodb"]["NewImage"]
    items = client.scan(TableName=name, ConsistentRead=True)["Items"]
    assert replay == {i["pk"]["S"]: i for i in items}
    assert len(replay) == 20 - len(range(0, 20, 3))
    client.delete_table(TableName=name)


def test_disabling_and_enabling_again_makes_a_new_stream(client, streams):
    name, description = create(client, view="KEYS_ONLY")
    first = description["LatestStreamArn"]
    with pytest.raises(ClientError) as error:
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    table = client.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in table and table["LatestStreamArn"] == first
    with pytest.raises(ClientError) as error:
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert streams.describe_stream(StreamArn=first)["StreamDescription"]["StreamStatus"] in ("DISABLING", "DISABLED")
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    second = client.update_table(TableName=name, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]["LatestStreamArn"]
    assert second != first
    listed = [s["StreamArn"] for s in streams.list_streams(TableName=name)["Streams"]]
    assert sorted(listed) == sorted([first, second])
    client.delete_table(TableName=name)


def test_streams_api_errors(client, streams):
    name, description = create(client, view="KEYS_ONLY")
    arn = description["LatestStreamArn"]
    shard = all_shards(streams, arn)[0]["ShardId"]

    def code(call, **kwargs):
        with pytest.raises(ClientError) as error:
            call(**kwargs)
        return error.value.response["Error"]["Code"]

    assert code(streams.describe_stream, StreamArn=arn + "-missing") == "ResourceNotFoundException"
    assert code(streams.get_shard_iterator, StreamArn=arn, ShardId=shard,
                ShardIteratorType="AT_SEQUENCE_NUMBER") == "ValidationException"
    assert code(streams.get_shard_iterator, StreamArn=arn, ShardId="shardId-00000000000000000000-00000000",
                ShardIteratorType="LATEST") == "ResourceNotFoundException"
    assert code(streams.get_records, ShardIterator="not-an-iterator") == "ValidationException"
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    assert code(streams.get_records, ShardIterator=iterator, Limit=1001) == "ValidationException"
    assert code(streams.list_streams, Limit=101) == "ValidationException"
    answer = streams.get_records(ShardIterator=iterator)
    assert answer["Records"] == [] and answer["NextShardIterator"]
    client.delete_table(TableName=name)


def aws_streams(endpoint, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret", AWS_DEFAULT_REGION="us-east-1")
    command = [sys.executable, "-m", "awscli", "dynamodbstreams", "--endpoint-url", endpoint, "--output", "json", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_aws_cli_reads_a_stream(client, endpoint):
    name, description = create(client, view="NEW_IMAGE")
    client.put_item(TableName=name, Item={"pk": {"S": "cli"}})
    listed = aws_streams(endpoint, "list-streams", "--table-name", name)
    arn = listed["Streams"][0]["StreamArn"]
    assert arn == description["LatestStreamArn"]
    shards = aws_streams(endpoint, "describe-stream", "--stream-arn", arn)["StreamDescription"]["Shards"]
    records = []
    for shard in shards:
        iterator = aws_streams(endpoint, "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard["ShardId"],
                               "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
        records += aws_streams(endpoint, "get-records", "--shard-iterator", iterator)["Records"]
    assert [r["dynamodb"]["NewImage"] for r in records] == [{"pk": {"S": "cli"}}]
    client.delete_table(TableName=name)


def test_streams_tail_prints_records_across_a_split(client, endpoint):
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("the dynasim CLI's own command")
    from conftest import ROOT
    binary = os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))
    name, _ = create(client, view="NEW_IMAGE", write_units=900)
    client.put_item(TableName=name, Item={"pk": {"S": "before"}})
    client.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1800})
    for i in range(4):
        client.put_item(TableName=name, Item={"pk": {"S": f"after{i}"}})
    tail = subprocess.run([binary, "streams", "tail", name, "--endpoint", endpoint, "--from-start", "--json",
                           "--count", "5", "--interval-ms", "50"], capture_output=True, text=True, timeout=60)
    assert tail.returncode == 0, tail.stderr
    records = [json.loads(line) for line in tail.stdout.splitlines()]
    assert records[0]["dynamodb"]["Keys"] == {"pk": {"S": "before"}}, "the parent shard first"
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in records[1:]) == [f"after{i}" for i in range(4)]
    human = subprocess.run([binary, "streams", "tail", name, "--endpoint", endpoint, "--from-start",
                            "--count", "1"], capture_output=True, text=True, timeout=60)
    assert "INSERT" in human.stdout and '"before"' in human.stdout, human.stdout
    client.delete_table(TableName=name)
