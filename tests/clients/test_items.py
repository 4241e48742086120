"""Single-item operations, ReturnValues, conditions, counters, expressions."""
from decimal import Decimal

from helpers import error_of, expect_error


def key(pk, sk="s"):
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_put_get_delete_with_return_values(client, table):
    item = {**key("a"), "n": {"N": "1.50"}, "ss": {"SS": ["x", "y"]}, "b": {"B": b"\x00\x01"}, "m": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}]}}}, "e": {"S": ""}}
    assert "Attributes" not in client.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD")
    got = client.get_item(TableName=table, Key=key("a"), ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1.5"}
    assert got["b"] == {"B": b"\x00\x01"}
    assert got["e"] == {"S": ""}
    old = client.put_item(TableName=table, Item={**key("a"), "v": {"N": "2"}}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["n"] == {"N": "1.5"}
    deleted = client.delete_item(TableName=table, Key=key("a"), ReturnValues="ALL_OLD")["Attributes"]
    assert deleted["v"] == {"N": "2"}
    assert "Item" not in client.get_item(TableName=table, Key=key("a"))
    # Deleting a missing item succeeds.
    assert "Attributes" not in client.delete_item(TableName=table, Key=key("a"), ReturnValues="ALL_OLD")
    expect_error(client.put_item, "ValidationException", "ReturnValues can only be ALL_OLD or NONE", TableName=table, Item=key("a"), ReturnValues="ALL_NEW")


def test_update_item_return_values(client, table):
    client.put_item(TableName=table, Item={**key("u"), "a": {"M": {"b": {"N": "1"}, "c": {"L": [{"N": "0"}, {"N": "1"}]}}}, "x": {"S": "keep"}})
    common = dict(TableName=table, Key=key("u"), UpdateExpression="SET a.b = :two, a.c[1] = :nine",
                  ExpressionAttributeValues={":two": {"N": "2"}, ":nine": {"N": "9"}})
    assert client.update_item(ReturnValues="UPDATED_OLD", **common)["Attributes"] == {"a": {"M": {"b": {"N": "1"}, "c": {"L": [{"N": "1"}]}}}}
    assert client.update_item(ReturnValues="UPDATED_NEW", **common)["Attributes"] == {"a": {"M": {"b": {"N": "2"}, "c": {"L": [{"N": "9"}]}}}}
    new = client.update_item(ReturnValues="ALL_NEW", **common)["Attributes"]
    assert new["x"] == {"S": "keep"}
    old = client.update_item(ReturnValues="ALL_OLD", **common)["Attributes"]
    assert old["a"]["M"]["b"] == {"N": "2"}
    assert "Attributes" not in client.update_item(ReturnValues="NONE", **common)


def test_update_creates_items_and_counts(client, table):
    for _ in range(3):
        client.update_item(TableName=table, Key=key("c"), UpdateExpression="ADD hits :one SET seen = if_not_exists(seen, :t)",
                           ExpressionAttributeValues={":one": {"N": "1"}, ":t": {"S": "first"}})
    item = client.get_item(TableName=table, Key=key("c"), ConsistentRead=True)["Item"]
    assert item["hits"] == {"N": "3"}
    assert item["seen"] == {"S": "first"}
    # A REMOVE-only update does not create a missing item.
    client.update_item(TableName=table, Key=key("nothing"), UpdateExpression="REMOVE x")
    assert "Item" not in client.get_item(TableName=table, Key=key("nothing"))
    # SET x = x + :n on a missing attribute fails.
    expect_error(client.update_item, "ValidationException", "The provided expression refers to an attribute that does not exist in the item",
                 TableName=table, Key=key("c"), UpdateExpression="SET missing_counter = missing_counter + :one", ExpressionAttributeValues={":one": {"N": "1"}})
    expect_error(client.update_item, "ValidationException", "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key",
                 TableName=table, Key=key("c"), UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "x"}})


def test_sets_and_lists(client, table):
    client.put_item(TableName=table, Item={**key("s"), "tags": {"SS": ["a", "b"]}, "l": {"L": [{"N": "1"}]}})
    client.update_item(TableName=table, Key=key("s"), UpdateExpression="ADD tags :c DELETE extra :nothing SET l = list_append(l, :more)",
                       ExpressionAttributeValues={":c": {"SS": ["c"]}, ":nothing": {"SS": ["z"]}, ":more": {"L": [{"N": "2"}]}})
    item = client.get_item(TableName=table, Key=key("s"))["Item"]
    assert sorted(item["tags"]["SS"]) == ["a", "b", "c"]
    assert item["l"] == {"L": [{"N": "1"}, {"N": "2"}]}
    client.update_item(TableName=table, Key=key("s"), UpdateExpression="DELETE tags :all", ExpressionAttributeValues={":all": {"SS": ["a", "b", "c"]}})
    assert "tags" not in client.get_item(TableName=table, Key=key("s"))["Item"]


def test_conditional_writes(client, table):
    client.put_item(TableName=table, Item={**key("k"), "v": {"N": "1"}})
    response = expect_error(client.put_item, "ConditionalCheckFailedException", "The conditional request failed",
                            TableName=table, Item={**key("k"), "v": {"N": "2"}}, ConditionExpression="v = :two",
                            ExpressionAttributeValues={":two": {"N": "2"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert response["Item"]["v"] == {"N": "1"}
    # Optimistic locking.
    client.update_item(TableName=table, Key=key("k"), UpdateExpression="SET v = v + :one", ConditionExpression="v = :one",
                       ExpressionAttributeValues={":one": {"N": "1"}})
    client.delete_item(TableName=table, Key=key("k"), ConditionExpression="attribute_exists(v) AND v BETWEEN :lo AND :hi",
                       ExpressionAttributeValues={":lo": {"N": "2"}, ":hi": {"N": "3"}})
    expect_error(client.delete_item, "ConditionalCheckFailedException", TableName=table, Key=key("k"), ConditionExpression="attribute_exists(v)")
    # Legacy Expected.
    client.put_item(TableName=table, Item=key("legacy"), Expected={"pk": {"Exists": False}})
    expect_error(client.put_item, "ConditionalCheckFailedException", TableName=table, Item=key("legacy"), Expected={"pk": {"Exists": False}})
    expect_error(client.put_item, "ValidationException", contains="Can not use both expression and non-expression parameters",
                 TableName=table, Item=key("legacy"), Expected={"pk": {"Exists": False}}, ConditionExpression="attribute_exists(pk)")


def test_expression_errors(client, table):
    expect_error(client.put_item, "ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
                 TableName=table, Item=key("e"), ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":unused": {"S": "x"}})
    expect_error(client.put_item, "ValidationException", "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v",
                 TableName=table, Item=key("e"), ConditionExpression="pk = :v")
    expect_error(client.put_item, "ValidationException", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name",
                 TableName=table, Item=key("e"), ConditionExpression="attribute_exists(name)")
    expect_error(client.put_item, "ValidationException", contains="Invalid ConditionExpression: Syntax error; token:",
                 TableName=table, Item=key("e"), ConditionExpression="pk = = pk")
    expect_error(client.update_item, "ValidationException", contains="Two document paths overlap with each other",
                 TableName=table, Key=key("e"), UpdateExpression="SET a = :v, a.b = :v", ExpressionAttributeValues={":v": {"S": "x"}})
    expect_error(client.update_item, "ValidationException", contains="Expression size has exceeded the maximum allowed size",
                 TableName=table, Key=key("e"), UpdateExpression="SET a = :v" + " " * 4100, ExpressionAttributeValues={":v": {"S": "x"}})
    expect_error(client.get_item, "ValidationException", "The provided key element does not match the schema",
                 TableName=table, Key={"pk": {"S": "x"}})
    expect_error(client.get_item, "ValidationException", "The provided key element does not match the schema",
                 TableName=table, Key={"pk": {"S": "x"}, "sk": {"N": "1"}})


def test_projection(client, table):
    client.put_item(TableName=table, Item={**key("p"), "a": {"M": {"b": {"S": "x"}, "c": {"S": "y"}}}, "#weird": {"S": "w"}})
    item = client.get_item(TableName=table, Key=key("p"), ProjectionExpression="a.b, #w", ExpressionAttributeNames={"#w": "#weird"})["Item"]
    assert item == {"a": {"M": {"b": {"S": "x"}}}, "#weird": {"S": "w"}}
    assert client.get_item(TableName=table, Key=key("p"), AttributesToGet=["pk"])["Item"] == {"pk": {"S": "p"}}


def test_limits(client, table, number_table):
    # Names pk, sk, data (8 bytes) and values "big", "s" (4 bytes): 409,602 bytes in all.
    big = "x" * (400 * 1024 - 10)
    expect_error(client.put_item, "ValidationException", "Item size has exceeded the maximum allowed size", TableName=table, Item={**key("big"), "data": {"S": big}})
    client.put_item(TableName=table, Item={**key("big"), "data": {"S": "x" * (400 * 1024 - 100)}})
    expect_error(client.put_item, "ValidationException", contains="Size of hashkey has exceeded the maximum size limit of2048 bytes",
                 TableName=table, Item={"pk": {"S": "k" * 2049}, "sk": {"S": "s"}})
    client.put_item(TableName=table, Item={"pk": {"S": "k" * 2048}, "sk": {"S": "s" * 1024}})
    expect_error(client.put_item, "ValidationException", contains="Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
                 TableName=table, Item={"pk": {"S": "k"}, "sk": {"S": "s" * 1025}})
    expect_error(client.put_item, "ValidationException", contains="cannot contain an empty string value",
                 TableName=table, Item={"pk": {"S": ""}, "sk": {"S": "s"}})
    expect_error(client.put_item, "ValidationException", "One or more parameter values were invalid: Missing the key sk in the item",
                 TableName=table, Item={"pk": {"S": "k"}})
    expect_error(client.put_item, "ValidationException", "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S",
                 TableName=number_table, Item={"pk": {"S": "k"}, "sk": {"S": "s"}})
    digits = "1234567890" * 3 + "12345678"
    client.put_item(TableName=number_table, Item={"pk": {"S": "n"}, "sk": {"N": digits}})
    assert client.get_item(TableName=number_table, Key={"pk": {"S": "n"}, "sk": {"N": digits}})["Item"]["sk"]["N"] == digits
    expect_error(client.put_item, "ValidationException", "Attempting to store more than 38 significant digits in a Number",
                 TableName=number_table, Item={"pk": {"S": "n"}, "sk": {"N": digits + "9"}})
    expect_error(client.put_item, "ValidationException", "Number overflow. Attempting to store a number with magnitude larger than supported range",
                 TableName=number_table, Item={"pk": {"S": "n"}, "sk": {"N": "1e126"}})
    expect_error(client.put_item, "ValidationException", "Number underflow. Attempting to store a number with magnitude smaller than supported range",
                 TableName=number_table, Item={"pk": {"S": "n"}, "sk": {"N": "1e-131"}})
    # The item counts as the first of the 32 levels: a value holds 31 (docs/compatibility.md).
    nested = {"S": "leaf"}
    for _ in range(31):
        nested = {"L": [nested]}
    client.put_item(TableName=table, Item={**key("deep"), "d": nested})
    expect_error(client.put_item, "ValidationException", contains="Nesting Levels have exceeded supported limits",
                 TableName=table, Item={**key("deep"), "d": {"L": [nested]}})
    expect_error(client.put_item, "ValidationException", contains="contains duplicates", TableName=table, Item={**key("d"), "s": {"SS": ["a", "a"]}})
    expect_error(client.put_item, "ValidationException", contains="may not be empty", TableName=table, Item={**key("d"), "s": {"SS": []}})


def test_resource_api(resource, table):
    t = resource.Table(table)
    t.put_item(Item={"pk": "r", "sk": "1", "price": Decimal("10.25"), "tags": {"a", "b"}, "doc": {"x": [1, 2]}})
    item = t.get_item(Key={"pk": "r", "sk": "1"})["Item"]
    assert item["price"] == Decimal("10.25")
    assert item["tags"] == {"a", "b"}
    assert item["doc"] == {"x": [1, 2]}
    t.update_item(Key={"pk": "r", "sk": "1"}, UpdateExpression="SET price = price - :d", ExpressionAttributeValues={":d": Decimal("0.25")})
    assert t.get_item(Key={"pk": "r", "sk": "1"})["Item"]["price"] == Decimal("10")
    with t.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"pk": "batch", "sk": f"{i:03d}"})
    from boto3.dynamodb.conditions import Key, Attr
    result = t.query(KeyConditionExpression=Key("pk").eq("batch") & Key("sk").begins_with("01"))
    assert [i["sk"] for i in result["Items"]] == [f"{i:03d}" for i in range(10, 20)]
    scanned = t.scan(FilterExpression=Attr("sk").between("050", "059"))
    assert scanned["Count"] == 10


def test_consumed_capacity(client, table):
    client.put_item(TableName=table, Item={**key("cap"), "d": {"S": "x" * 5000}})
    r = client.get_item(TableName=table, Key=key("cap"), ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0  # 5 KB eventually consistent: 2 × 0.5
    r = client.get_item(TableName=table, Key=key("cap"), ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 2.0
    r = client.put_item(TableName=table, Item=key("cap"), ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 5.0  # max(old 5 KB, new) in 1 KB units
    assert r["ConsumedCapacity"]["Table"]["CapacityUnits"] == 5.0
    r = client.delete_item(TableName=table, Key=key("missing"), ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0
