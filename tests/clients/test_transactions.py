"""TransactWriteItems and TransactGetItems through boto3: commits across tables, every
cancellation reason in action order, the request's validation errors, ClientRequestToken
idempotency, capacity at twice the single-item rate, stream records for committed writes
only, and (under a profile's commit delay, in a server of their own) the conflicts that
concurrent requests really meet: TransactionConflictException for a PutItem, TransactionConflict
for another transaction and for TransactGetItems, TransactionInProgressException for the same
token."""
import os
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import CREDENTIALS, launch, new_table, stop
from helpers import error_of, expect_error


def S(v):
    return {"S": v}


def key(pk, sk="a"):
    return {"pk": S(pk), "sk": S(sk)}


@pytest.fixture
def tables(client):
    names = [new_table(client), new_table(client)]
    yield names
    for name in names:
        client.delete_table(TableName=name)


@pytest.fixture(scope="module")
def loose(endpoint):
    """A client without boto3's own parameter checks, to see the service's."""
    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    return boto3.client("dynamodb", endpoint_url=endpoint, config=config, **CREDENTIALS)


def canceled(call, **kwargs):
    response = error_of(call, **kwargs)
    assert response["Error"]["Code"] == "TransactionCanceledException", response["Error"]
    return response


def test_a_transaction_commits_every_action_across_two_tables(client, tables):
    a, b = tables
    client.put_item(TableName=a, Item={**key("upd"), "n": {"N": "1"}})
    client.put_item(TableName=a, Item={**key("del"), "v": S("x")})
    client.put_item(TableName=b, Item={**key("chk"), "ok": {"BOOL": True}})
    answer = client.transact_write_items(TransactItems=[
        {"Put": {"TableName": a, "Item": {**key("new"), "v": S("p")},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": a, "Key": key("upd"), "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": a, "Key": key("del")}},
        {"ConditionCheck": {"TableName": b, "Key": key("chk"), "ConditionExpression": "ok = :t",
                            "ExpressionAttributeValues": {":t": {"BOOL": True}}}},
    ], ReturnConsumedCapacity="TOTAL")
    assert client.get_item(TableName=a, Key=key("new"), ConsistentRead=True)["Item"]["v"] == S("p")
    assert client.get_item(TableName=a, Key=key("upd"), ConsistentRead=True)["Item"]["n"] == {"N": "2"}
    assert "Item" not in client.get_item(TableName=a, Key=key("del"), ConsistentRead=True)
    assert client.get_item(TableName=b, Key=key("chk"), ConsistentRead=True)["Item"]["ok"] == {"BOOL": True}
    consumed = {c["TableName"]: c["CapacityUnits"] for c in answer["ConsumedCapacity"]}
    # Three writes of items under 1 KB at 2 units each; one condition check, 2 read units.
    assert consumed == {a: 6.0, b: 2.0}, answer["ConsumedCapacity"]


def test_a_failed_condition_cancels_everything_with_reasons_in_action_order(client, tables):
    a, b = tables
    client.put_item(TableName=a, Item={**key("x"), "v": S("old")})
    response = canceled(client.transact_write_items, TransactItems=[
        {"Put": {"TableName": a, "Item": {**key("fresh"), "v": S("new")}}},
        {"Put": {"TableName": a, "Item": {**key("x"), "v": S("new")},
                 "ConditionExpression": "attribute_not_exists(pk)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"ConditionCheck": {"TableName": b, "Key": key("missing"),
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])
    assert response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, ConditionalCheckFailed]")
    reasons = response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Message"] == "The conditional request failed"
    assert reasons[1]["Item"] == {**key("x"), "v": S("old")}
    assert reasons[2] == {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
    assert "Item" not in client.get_item(TableName=a, Key=key("fresh"), ConsistentRead=True)
    assert client.get_item(TableName=a, Key=key("x"), ConsistentRead=True)["Item"]["v"] == S("old")
    # A cancelled transaction leaves no mark: the items are writable at once.
    client.put_item(TableName=a, Item={**key("x"), "v": S("after")})


def test_an_item_dependent_validation_error_stops_the_later_actions(client, tables):
    a, _ = tables
    client.put_item(TableName=a, Item={**key("s"), "n": S("not a number")})
    response = canceled(client.transact_write_items, TransactItems=[
        {"Update": {"TableName": a, "Key": key("s"), "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": a, "Key": key("none"),
                            "ConditionExpression": "attribute_exists(pk)"}},
    ])
    codes = [r["Code"] for r in response["CancellationReasons"]]
    assert codes == ["ValidationError", "None"], response["CancellationReasons"]
    assert "operand" in response["CancellationReasons"][0]["Message"]


def test_the_request_is_validated_before_anything_runs(loose, tables):
    a, _ = tables
    put = {"Put": {"TableName": a, "Item": key("p")}}
    expect_error(loose.transact_write_items, "ValidationException", TransactItems=[],
                 message="1 validation error detected: Value '[]' at 'transactItems' failed to satisfy "
                         "constraint: Member must have length greater than or equal to 1")
    expect_error(loose.transact_write_items, "ValidationException",
                 TransactItems=[{"Put": {"TableName": a, "Item": key(str(i))}} for i in range(101)],
                 contains="Member must have length less than or equal to 100")
    expect_error(loose.transact_write_items, "ValidationException", TransactItems=[put, put],
                 message="Transaction request cannot include multiple operations on one item")
    expect_error(loose.transact_write_items, "ValidationException",
                 TransactItems=[{"Put": {"TableName": a, "Item": key("p")},
                                 "Delete": {"TableName": a, "Key": key("p")}}],
                 message="TransactItems can only contain one of Check, Put, Update or Delete")
    expect_error(loose.transact_write_items, "ValidationException",
                 TransactItems=[{"ConditionCheck": {"TableName": a, "Key": key("p")}}],
                 message="1 validation error detected: Value null at "
                         "'transactItems.1.member.conditionCheck.conditionExpression' failed to satisfy "
                         "constraint: Member must not be null")
    expect_error(loose.transact_write_items, "ValidationException", TransactItems=[put],
                 ClientRequestToken="t" * 37, contains="'clientRequestToken'")
    expect_error(loose.transact_write_items, "ValidationException",
                 TransactItems=[{"Put": {"TableName": a, "Item": {"pk": S("only")}}}],
                 message="One or more parameter values were invalid: Missing the key sk in the item")
    expect_error(loose.transact_write_items, "ResourceNotFoundException",
                 TransactItems=[{"Put": {"TableName": "no_such_table", "Item": key("p")}}])
    big = [{"Put": {"TableName": a, "Item": {**key(str(i)), "pad": S("x" * 100_000)}}} for i in range(50)]
    expect_error(loose.transact_write_items, "ValidationException", TransactItems=big,
                 contains="size cannot exceed")


def test_the_same_token_answers_the_first_outcome_without_writing_again(client, tables):
    a, _ = tables
    token = uuid.uuid4().hex
    items = [{"Put": {"TableName": a, "Item": {**key("t"), "v": S("first")}}}]
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)
    client.put_item(TableName=a, Item={**key("t"), "v": S("changed since")})
    replay = client.transact_write_items(TransactItems=items, ClientRequestToken=token,
                                         ReturnConsumedCapacity="TOTAL")
    assert client.get_item(TableName=a, Key=key("t"), ConsistentRead=True)["Item"]["v"] == S("changed since")
    assert replay["ConsumedCapacity"] == [{"TableName": a, "CapacityUnits": 1.0}], replay
    other = [{"Put": {"TableName": a, "Item": {**key("t"), "v": S("other")}}}]
    expect_error(client.transact_write_items, "IdempotentParameterMismatchException",
                 TransactItems=other, ClientRequestToken=token)


def test_a_cancelled_token_can_be_retried(client, tables):
    a, _ = tables
    token = uuid.uuid4().hex
    items = [{"Put": {"TableName": a, "Item": key("r"), "ConditionExpression": "attribute_exists(pk)"}}]
    canceled(client.transact_write_items, TransactItems=items, ClientRequestToken=token)
    client.put_item(TableName=a, Item=key("r"))
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)


def test_transact_get_items_answers_in_request_order_at_twice_the_read_rate(client, tables):
    a, b = tables
    client.put_item(TableName=a, Item={**key("1"), "v": S("one"), "w": S("w")})
    client.put_item(TableName=b, Item={**key("2"), "v": S("two")})
    answer = client.transact_get_items(TransactItems=[
        {"Get": {"TableName": b, "Key": key("2")}},
        {"Get": {"TableName": a, "Key": key("missing")}},
        {"Get": {"TableName": a, "Key": key("1"), "ProjectionExpression": "#v",
                 "ExpressionAttributeNames": {"#v": "v"}}},
    ], ReturnConsumedCapacity="TOTAL")
    responses = answer["Responses"]
    assert responses[0] == {"Item": {**key("2"), "v": S("two")}}
    assert responses[1] == {}
    assert responses[2] == {"Item": {"v": S("one")}}
    consumed = {c["TableName"]: c["CapacityUnits"] for c in answer["ConsumedCapacity"]}
    assert consumed == {a: 4.0, b: 2.0}, answer["ConsumedCapacity"]


def test_transact_get_items_is_validated(loose, tables):
    a, _ = tables
    get = {"Get": {"TableName": a, "Key": key("g")}}
    expect_error(loose.transact_get_items, "ValidationException", TransactItems=[get, get],
                 message="Transaction request cannot include multiple operations on one item")
    expect_error(loose.transact_get_items, "ValidationException",
                 TransactItems=[{"Get": {"TableName": a}}],
                 message="1 validation error detected: Value null at 'transactItems.1.member.get.key' "
                         "failed to satisfy constraint: Member must not be null")


def test_only_committed_transactions_reach_the_stream(client):
    name = "t_" + uuid.uuid4().hex[:12]
    client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST",
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    streams = boto3.client("dynamodbstreams", endpoint_url=client.meta.endpoint_url, **CREDENTIALS)
    try:
        canceled(client.transact_write_items, TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": S("a")}}},
            {"Put": {"TableName": name, "Item": {"pk": S("b")}, "ConditionExpression": "attribute_exists(pk)"}}])
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": S("c")}}},
            {"Put": {"TableName": name, "Item": {"pk": S("d")}}}])
        arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        keys = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for record in streams.get_records(ShardIterator=iterator)["Records"]:
                keys.append(record["dynamodb"]["Keys"]["pk"]["S"])
        assert sorted(keys) == ["c", "d"]
    finally:
        client.delete_table(TableName=name)


DELAY_MS = 1500


@pytest.fixture(scope="module")
def delayed(tmp_path_factory):
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("starts its own dynasim server with a commit delay")
    profile = tmp_path_factory.mktemp("txn") / "commit-delay.toml"
    profile.write_text(f"[transactions]\ncommit_delay_ms = [{DELAY_MS}, {DELAY_MS}]\n")
    process, url = launch("--profile", str(profile), "--seed", "3")
    config = Config(retries={"max_attempts": 1})
    yield boto3.client("dynamodb", endpoint_url=url, config=config, **CREDENTIALS)
    stop(process)


def in_background(call, **kwargs):
    """Starts `call` on a thread; returns a function that waits and gives (answer, error)."""
    out = {}

    def run():
        try:
            out["answer"] = call(**kwargs)
        except ClientError as error:
            out["error"] = error.response

    thread = threading.Thread(target=run)
    thread.start()

    def wait():
        thread.join(timeout=30)
        return out.get("answer"), out.get("error")
    return wait


def test_concurrent_requests_meet_a_transaction_held_prepared(delayed):
    client = delayed
    name = new_table(client)
    client.put_item(TableName=name, Item={**key("held"), "v": S("before")})
    token = uuid.uuid4().hex
    items = [{"Put": {"TableName": name, "Item": {**key("held"), "v": S("by the transaction")}}},
             {"Put": {"TableName": name, "Item": {**key("second"), "v": S("too")}}}]
    started = time.time()
    wait = in_background(client.transact_write_items, TransactItems=items, ClientRequestToken=token)
    time.sleep(0.3)  # well inside the 1.5 s between prepare and commit
    expect_error(client.put_item, "TransactionConflictException",
                 message="Operation was rejected because there is an ongoing transaction for the item.",
                 TableName=name, Item={**key("held"), "v": S("single write")})
    response = canceled(client.transact_write_items, TransactItems=[
        {"Update": {"TableName": name, "Key": key("other"), "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": S("x")}}},
        {"Delete": {"TableName": name, "Key": key("second")}}])
    assert [r["Code"] for r in response["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert response["CancellationReasons"][1]["Message"] == "Transaction is ongoing for the item."
    response = canceled(client.transact_get_items, TransactItems=[{"Get": {"TableName": name, "Key": key("held")}}])
    assert [r["Code"] for r in response["CancellationReasons"]] == ["TransactionConflict"]
    expect_error(client.transact_write_items, "TransactionInProgressException",
                 TransactItems=items, ClientRequestToken=token)
    # A GetItem reads the committed item meanwhile, and is not refused.
    assert client.get_item(TableName=name, Key=key("held"), ConsistentRead=True)["Item"]["v"] == S("before")
    answer, error = wait()
    assert error is None and answer is not None, error
    assert time.time() - started >= DELAY_MS / 1000 * 0.9
    assert client.get_item(TableName=name, Key=key("held"), ConsistentRead=True)["Item"]["v"] == \
        S("by the transaction")
    client.put_item(TableName=name, Item={**key("held"), "v": S("after the commit")})
    client.delete_table(TableName=name)


@pytest.fixture(scope="module")
def spread(tmp_path_factory):
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("starts its own dynasim server with a commit spread")
    profile = tmp_path_factory.mktemp("txn") / "commit-spread.toml"
    profile.write_text("[transactions]\ncommit_spread_ms = [0, 1500]\n")
    process, url = launch("--profile", str(profile), "--seed", "3")
    config = Config(retries={"max_attempts": 1})
    yield boto3.client("dynamodb", endpoint_url=url, config=config, **CREDENTIALS)
    stop(process)


def test_a_commit_spread_shows_one_item_committed_and_another_not_yet(spread):
    """Under `commit_spread_ms` each item commits at its own point: GetItems one after another
    see the transaction on some items and not on others (serializable, not strictly), an item
    not yet committed refuses a single-item write, and the answer comes after the last."""
    client = spread
    name = new_table(client)
    names = [f"item{i}" for i in range(6)]
    items = [{"Put": {"TableName": name, "Item": {**key(n), "v": S("new")}}} for n in names]
    wait = in_background(client.transact_write_items, TransactItems=items)
    mixed, conflict = False, False
    deadline = time.time() + 5
    while time.time() < deadline:
        seen = [client.get_item(TableName=name, Key=key(n), ConsistentRead=True).get("Item")
                for n in names]
        done = [item is not None for item in seen]
        if any(done) and not all(done):
            mixed = True
            if not conflict:
                pending = names[done.index(False)]
                try:
                    # The condition keeps the item as the transaction wrote it should the
                    # commit reach it first (ConditionalCheckFailed, and another try).
                    client.put_item(TableName=name, Item={**key(pending), "v": S("single")},
                                    ConditionExpression="attribute_not_exists(pk)")
                except ClientError as error:
                    conflict = error.response["Error"]["Code"] == "TransactionConflictException"
        if all(done):
            break
    answer, error = wait()
    assert error is None and answer is not None, error
    assert mixed, "no GetItem round saw the items committed at different times"
    assert conflict, "a single-item write of an item not yet committed was not refused"
    for n in names:
        assert client.get_item(TableName=name, Key=key(n), ConsistentRead=True)["Item"]["v"] == S("new")
    client.delete_table(TableName=name)
