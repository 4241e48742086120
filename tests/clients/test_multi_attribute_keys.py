"""Multi-attribute GSI keys (November 2025) through boto3: up to four HASH and four RANGE key
schema elements, described in order; sparse indexing; Query's rules (= on every partition key
attribute, sort key attributes left to right, a non-equality only on the last used); results in
sort key tuple order; paging with LastEvaluatedKey; Scan of the index.

The bundled botocore may predate the feature; its client-side validation does not check a list's
maximum length, so the SDK sends these key schemas as they are.
"""
import uuid

import pytest

from helpers import expect_error


def key_schema(hash_names, range_names):
    return ([{"AttributeName": n, "KeyType": "HASH"} for n in hash_names]
            + [{"AttributeName": n, "KeyType": "RANGE"} for n in range_names])


def create(client, hash_keys, range_keys, **extra):
    """A table keyed by `pk` with the GSI `idx` over (name, type) pairs; returns its name."""
    name = "mak_" + uuid.uuid4().hex[:8]
    definitions = [{"AttributeName": n, "AttributeType": t} for n, t in [("pk", "S")] + hash_keys + range_keys]
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=definitions,
        GlobalSecondaryIndexes=[{"IndexName": "idx",
                                 "KeySchema": key_schema([n for n, _ in hash_keys], [n for n, _ in range_keys]),
                                 "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


@pytest.fixture
def tuple_table(client):
    """Partition key (h1 S, h2 N), sort key (r1 N, r2 S), with items in partition ("a", 1)."""
    name = create(client, [("h1", "S"), ("h2", "N")], [("r1", "N"), ("r2", "S")])
    for pk, r1, r2 in [("p1", 2, "b"), ("p2", 1, "z"), ("p3", 2, "a"), ("p4", 10, "a"), ("p5", -3, "q")]:
        put(client, name, pk, "a", 1, r1, r2)
    put(client, name, "other", "a", 2, 1, "a")
    yield name
    client.delete_table(TableName=name)


def put(client, table, pk, h1, h2, r1, r2):
    client.put_item(TableName=table, Item={"pk": {"S": pk}, "h1": {"S": h1}, "h2": {"N": str(h2)},
                                           "r1": {"N": str(r1)}, "r2": {"S": r2}})


def query(client, table, condition, values, **extra):
    values = {":h1": {"S": "a"}, ":h2": {"N": "1"}, **values}
    return client.query(TableName=table, IndexName="idx", KeyConditionExpression=condition,
                        ExpressionAttributeValues=values, **extra)


def pks(answer):
    return [item["pk"]["S"] for item in answer["Items"]]


def test_four_hash_and_four_range_elements_are_described_in_order(client):
    hash_keys = [(f"h{i}", "S") for i in range(4)]
    range_keys = [("r0", "N"), ("r1", "S"), ("r2", "B"), ("r3", "S")]
    name = create(client, hash_keys, range_keys)
    try:
        gsi = client.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"][0]
        assert gsi["KeySchema"] == key_schema([n for n, _ in hash_keys], [n for n, _ in range_keys])
        assert gsi["IndexStatus"] == "ACTIVE"
    finally:
        client.delete_table(TableName=name)


def test_a_fifth_hash_element_is_refused(client):
    hash_keys = [(f"h{i}", "S") for i in range(5)]
    expect_error(create, "ValidationException",
                 "Invalid KeySchema: More than 4 HASH KeySchemaElements for index: idx",
                 client=client, hash_keys=hash_keys, range_keys=[])


def test_a_hash_element_after_a_range_element_is_refused(client):
    expect_error(client.create_table, "ValidationException",
                 "Invalid KeySchema: The HASH KeySchemaElements must come before the RANGE KeySchemaElements for index: idx",
                 TableName="mak_refused", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ["pk", "a", "b", "c"]],
                 GlobalSecondaryIndexes=[{"IndexName": "idx",
                                          "KeySchema": key_schema(["a"], ["b"]) + key_schema(["c"], []),
                                          "Projection": {"ProjectionType": "ALL"}}],
                 BillingMode="PAY_PER_REQUEST")


def test_update_table_adds_a_multi_attribute_index_and_backfills_it(client, hash_table):
    client.put_item(TableName=hash_table, Item={"pk": {"S": "x"}, "a": {"S": "1"}, "b": {"S": "2"}})
    client.put_item(TableName=hash_table, Item={"pk": {"S": "y"}, "a": {"S": "1"}})
    client.update_table(
        TableName=hash_table,
        AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}, {"AttributeName": "b", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by_ab", "KeySchema": key_schema(["a", "b"], []),
                                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
    gsi = client.describe_table(TableName=hash_table)["Table"]["GlobalSecondaryIndexes"][0]
    assert gsi["KeySchema"] == key_schema(["a", "b"], [])
    found = client.query(TableName=hash_table, IndexName="by_ab", KeyConditionExpression="a = :a AND b = :b",
                         ExpressionAttributeValues={":a": {"S": "1"}, ":b": {"S": "2"}})
    assert pks(found) == ["x"]


def test_items_missing_a_key_attribute_are_not_indexed(client, tuple_table):
    client.put_item(TableName=tuple_table, Item={"pk": {"S": "sparse"}, "h1": {"S": "a"}, "h2": {"N": "1"}, "r1": {"N": "1"}})
    scanned = client.scan(TableName=tuple_table, IndexName="idx")
    assert "sparse" not in pks(scanned) and len(scanned["Items"]) == 6
    expect_error(client.put_item, "ValidationException",
                 "One or more parameter values were invalid: Type mismatch for Index Key h2 Expected: N Actual: S IndexName: idx",
                 TableName=tuple_table, Item={"pk": {"S": "w"}, "h2": {"S": "1"}})


def test_queries_follow_the_sort_key_tuple(client, tuple_table):
    assert pks(query(client, tuple_table, "h1 = :h1 AND h2 = :h2", {})) == ["p5", "p2", "p3", "p1", "p4"]
    backward = query(client, tuple_table, "h2 = :h2 AND h1 = :h1", {}, ScanIndexForward=False)
    assert pks(backward) == ["p4", "p1", "p3", "p2", "p5"]
    assert pks(query(client, tuple_table, "h1 = :h1 AND h2 = :h2 AND r1 = :r1", {":r1": {"N": "2"}})) == ["p3", "p1"]
    assert pks(query(client, tuple_table, "h1 = :h1 AND h2 = :h2 AND r1 >= :r1", {":r1": {"N": "2"}})) == ["p3", "p1", "p4"]
    last = query(client, tuple_table, "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND begins_with(r2, :p)",
                 {":r1": {"N": "2"}, ":p": {"S": "b"}})
    assert pks(last) == ["p1"]


def test_pages_carry_every_key_attribute(client, tuple_table):
    seen, start = [], None
    while True:
        extra = {"Limit": 2}
        if start:
            extra["ExclusiveStartKey"] = start
        page = query(client, tuple_table, "h1 = :h1 AND h2 = :h2", {}, **extra)
        seen += pks(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            break
        assert set(start) == {"pk", "h1", "h2", "r1", "r2"}
    assert seen == ["p5", "p2", "p3", "p1", "p4"]


@pytest.mark.parametrize("condition, values, message", [
    ("h1 = :h1 AND r1 = :h2", {}, "Query condition missed key schema element: h2"),
    ("h1 = :h1 AND h2 = :h2 AND r2 = :r2", {":r2": {"S": "a"}}, "Query condition missed key schema element: r1"),
    ("h1 = :h1 AND h2 = :h2 AND r1 > :r1 AND r2 = :r2", {":r1": {"N": "1"}, ":r2": {"S": "a"}},
     "Query key condition not supported: only the last sort key attribute used may have a condition other than =; attribute: r1"),
    ("h1 = :h1 AND h2 = :h2 AND colour = :c", {":c": {"S": "a"}}, "Query key condition not supported"),
])
def test_wrong_key_conditions_are_refused(client, tuple_table, condition, values, message):
    expect_error(query, "ValidationException", message, client=client, table=tuple_table, condition=condition, values=values)


def test_legacy_key_conditions_are_refused(client, tuple_table):
    expect_error(client.query, "ValidationException",
                 "KeyConditions cannot be used on an index with a multi-attribute key; use KeyConditionExpression. IndexName: idx",
                 TableName=tuple_table, IndexName="idx",
                 KeyConditions={"h1": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
                                "h2": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}})
