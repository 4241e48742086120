"""Global and local secondary indexes through boto3."""
import uuid

import pytest

from helpers import expect_error


@pytest.fixture
def indexed(client):
    name = "idx_" + uuid.uuid4().hex[:8]
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "status", "AttributeType": "S"}, {"AttributeName": "created", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_status", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                                                         {"AttributeName": "created", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}}],
        LocalSecondaryIndexes=[{"IndexName": "by_created", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                         {"AttributeName": "created", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name)
    yield name
    client.delete_table(TableName=name)


def put(client, table, pk, sk, status=None, created=None, title="t", body="b"):
    item = {"pk": {"S": pk}, "sk": {"S": sk}, "title": {"S": title}, "body": {"S": body}}
    if status is not None:
        item["status"] = {"S": status}
    if created is not None:
        item["created"] = {"N": str(created)}
    return client.put_item(TableName=table, Item=item, ReturnConsumedCapacity="INDEXES")


def test_describe_shows_indexes(client, indexed):
    table = client.describe_table(TableName=indexed)["Table"]
    gsi = table["GlobalSecondaryIndexes"][0]
    assert gsi["IndexName"] == "by_status" and gsi["IndexStatus"] == "ACTIVE"
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}
    assert gsi["IndexArn"].endswith(f"table/{indexed}/index/by_status")
    assert table["LocalSecondaryIndexes"][0]["IndexName"] == "by_created"


def test_gsi_query_projection_and_sparseness(client, indexed):
    for i in range(6):
        put(client, indexed, f"u{i}", "profile", status="open" if i % 2 == 0 else "closed", created=100 - i)
    put(client, indexed, "u9", "profile")  # no index keys: in neither index
    result = client.query(TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s",
                          ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "open"}})
    assert [int(i["created"]["N"]) for i in result["Items"]] == [96, 98, 100]
    # INCLUDE projects keys and `title`, not `body`.
    assert set(result["Items"][0]) == {"pk", "sk", "status", "created", "title"}
    page = client.query(TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s AND created > :c",
                        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "open"}, ":c": {"N": "96"}},
                        Limit=1, ScanIndexForward=False)
    assert page["Items"][0]["created"] == {"N": "100"}
    assert page["LastEvaluatedKey"] == {"pk": {"S": "u0"}, "sk": {"S": "profile"}, "status": {"S": "open"}, "created": {"N": "100"}}
    rest = client.query(TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s AND created > :c",
                        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": "open"}, ":c": {"N": "96"}},
                        ScanIndexForward=False, ExclusiveStartKey=page["LastEvaluatedKey"])
    assert [i["created"]["N"] for i in rest["Items"]] == ["98"]
    assert client.scan(TableName=indexed, IndexName="by_status")["Count"] == 6


def test_index_follows_updates_and_deletes(client, indexed):
    put(client, indexed, "a", "1", status="open", created=1)
    client.update_item(TableName=indexed, Key={"pk": {"S": "a"}, "sk": {"S": "1"}}, UpdateExpression="SET #s = :c",
                       ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":c": {"S": "closed"}})
    def count(status):
        return client.query(TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s",
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": status}})["Count"]
    assert count("open") == 0 and count("closed") == 1
    client.delete_item(TableName=indexed, Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert count("closed") == 0


def test_lsi_query_and_capacity(client, indexed):
    for i, created in enumerate([30, 10, 20]):
        response = put(client, indexed, "p", f"s{i}", created=created)
    assert response["ConsumedCapacity"]["LocalSecondaryIndexes"]["by_created"]["CapacityUnits"] == 1.0
    assert response["ConsumedCapacity"]["CapacityUnits"] == 2.0
    result = client.query(TableName=indexed, IndexName="by_created", KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "p"}}, ConsistentRead=True)
    assert [i["created"]["N"] for i in result["Items"]] == ["10", "20", "30"]
    assert set(result["Items"][0]) == {"pk", "sk", "created"}
    # An LSI fetches what it does not project from the table.
    everything = client.query(TableName=indexed, IndexName="by_created", KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "p"}}, Select="ALL_ATTRIBUTES")
    assert everything["Items"][0]["body"] == {"S": "b"}
    some = client.query(TableName=indexed, IndexName="by_created", KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "p"}}, ProjectionExpression="title, created")
    assert some["Items"][0] == {"title": {"S": "t"}, "created": {"N": "10"}}


def test_index_errors(client, indexed):
    expect_error(client.query, "ValidationException", "Consistent reads are not supported on global secondary indexes",
                 TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                 ExpressionAttributeValues={":s": {"S": "x"}}, ConsistentRead=True)
    expect_error(client.put_item, "ValidationException",
                 "One or more parameter values were invalid: Type mismatch for Index Key created Expected: N Actual: S IndexName: by_status",
                 TableName=indexed, Item={"pk": {"S": "x"}, "sk": {"S": "y"}, "created": {"S": "oops"}})
    expect_error(client.put_item, "ValidationException", contains="A value specified for a secondary index key is not supported",
                 TableName=indexed, Item={"pk": {"S": "x"}, "sk": {"S": "y"}, "status": {"S": ""}})
    expect_error(client.query, "ValidationException", contains="does not project attribute body",
                 TableName=indexed, IndexName="by_status", KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                 ExpressionAttributeValues={":s": {"S": "x"}}, ProjectionExpression="body")
    expect_error(client.create_table, "ValidationException", contains="Table KeySchema does not have a range key",
                 TableName="lsi_no_range", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
                 LocalSecondaryIndexes=[{"IndexName": "lsi1", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "x", "KeyType": "RANGE"}],
                                         "Projection": {"ProjectionType": "ALL"}}], BillingMode="PAY_PER_REQUEST")
    expect_error(client.create_table, "ValidationException", contains="ProvisionedThroughput should not be specified for index: gsi1",
                 TableName="gsi_ppr", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
                 GlobalSecondaryIndexes=[{"IndexName": "gsi1", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                                          "Projection": {"ProjectionType": "ALL"}, "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}],
                 BillingMode="PAY_PER_REQUEST")


def test_item_collection_metrics(client, indexed, table):
    r = client.put_item(TableName=indexed, Item={"pk": {"S": "c"}, "sk": {"S": "1"}, "created": {"N": "1"}}, ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == {"ItemCollectionKey": {"pk": {"S": "c"}}, "SizeEstimateRangeGB": [0.0, 1.0]}
    r = client.delete_item(TableName=indexed, Key={"pk": {"S": "c"}, "sk": {"S": "1"}}, ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": {"S": "c"}}
    r = client.batch_write_item(RequestItems={indexed: [{"PutRequest": {"Item": {"pk": {"S": "d"}, "sk": {"S": "1"}}}}]},
                                ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"][indexed][0]["ItemCollectionKey"] == {"pk": {"S": "d"}}
    # Tables without local secondary indexes keep no item collections.
    r = client.put_item(TableName=table, Item={"pk": {"S": "c"}, "sk": {"S": "1"}}, ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in r


def test_add_and_remove_a_gsi_on_a_table_with_items(client, table):
    for i in range(5):
        client.put_item(TableName=table, Item={"pk": {"S": f"p{i}"}, "sk": {"S": "x"}, "team": {"S": "a" if i < 3 else "b"}})
    # A value the new index key cannot hold is skipped by the backfill.
    client.put_item(TableName=table, Item={"pk": {"S": "odd"}, "sk": {"S": "x"}, "team": {"N": "7"}})
    create = {"Create": {"IndexName": "by_team", "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "KEYS_ONLY"}}}
    expect_error(client.update_table, "ValidationException", contains="Some index key attributes are not defined in AttributeDefinitions",
                 TableName=table, GlobalSecondaryIndexUpdates=[create])
    expect_error(client.update_table, "LimitExceededException", contains="Only 1 online index can be created or deleted",
                 TableName=table, AttributeDefinitions=[{"AttributeName": "team", "AttributeType": "S"}],
                 GlobalSecondaryIndexUpdates=[create, {"Create": {**create["Create"], "IndexName": "by_team2"}}])
    client.update_table(TableName=table, AttributeDefinitions=[{"AttributeName": "team", "AttributeType": "S"}],
                        GlobalSecondaryIndexUpdates=[create])
    client.get_waiter("table_exists").wait(TableName=table)
    described = client.describe_table(TableName=table)["Table"]
    assert described["GlobalSecondaryIndexes"][0]["IndexName"] == "by_team"
    assert described["GlobalSecondaryIndexes"][0]["ItemCount"] == 5
    assert {"AttributeName": "team", "AttributeType": "S"} in described["AttributeDefinitions"]
    result = client.query(TableName=table, IndexName="by_team", KeyConditionExpression="team = :t", ExpressionAttributeValues={":t": {"S": "a"}})
    assert result["Count"] == 3
    # After the index exists, writes must respect its key type.
    expect_error(client.put_item, "ValidationException", contains="Type mismatch for Index Key team",
                 TableName=table, Item={"pk": {"S": "new"}, "sk": {"S": "x"}, "team": {"N": "1"}})
    client.update_table(TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_team"}}])
    described = client.describe_table(TableName=table)["Table"]
    assert "GlobalSecondaryIndexes" not in described
    assert all(d["AttributeName"] != "team" for d in described["AttributeDefinitions"])
    expect_error(client.query, "ValidationException", "The table does not have the specified index: by_team",
                 TableName=table, IndexName="by_team", KeyConditionExpression="team = :t", ExpressionAttributeValues={":t": {"S": "a"}})
    expect_error(client.update_table, "ResourceNotFoundException", TableName=table,
                 GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_team"}}])
