"""Query, Scan, batches, pagination."""
from helpers import expect_error


def fill(client, table, partition, count, pad=0):
    for start in range(0, count, 25):
        requests = [{"PutRequest": {"Item": {"pk": {"S": partition}, "sk": {"N": str(i)}, "n": {"N": str(i)}, "pad": {"S": "x" * pad}}}}
                    for i in range(start, min(count, start + 25))]
        result = client.batch_write_item(RequestItems={table: requests})
        assert result["UnprocessedItems"] == {}


def test_query_order_limit_and_pagination(client, number_table):
    fill(client, number_table, "q", 30)
    fill(client, number_table, "other", 5)
    page = client.query(TableName=number_table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                        ExpressionAttributeValues={":p": {"S": "q"}, ":a": {"N": "5"}, ":b": {"N": "9"}})
    assert [i["sk"]["N"] for i in page["Items"]] == ["5", "6", "7", "8", "9"]
    assert "LastEvaluatedKey" not in page
    backwards = client.query(TableName=number_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "q"}},
                             ScanIndexForward=False, Limit=3)
    assert [i["sk"]["N"] for i in backwards["Items"]] == ["29", "28", "27"]
    assert backwards["LastEvaluatedKey"] == {"pk": {"S": "q"}, "sk": {"N": "27"}}
    pages = list(client.get_paginator("query").paginate(TableName=number_table, KeyConditionExpression="pk = :p",
                                                        ExpressionAttributeValues={":p": {"S": "q"}}, PaginationConfig={"PageSize": 7}))
    assert [int(i["sk"]["N"]) for p in pages for i in p["Items"]] == list(range(30))
    count = client.query(TableName=number_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "q"}}, Select="COUNT")
    assert count["Count"] == 30 and "Items" not in count


def test_query_filter_counts_and_page_limit_before_filter(client, number_table):
    fill(client, number_table, "f", 10)
    page = client.query(TableName=number_table, KeyConditionExpression="pk = :p", FilterExpression="n > :five",
                        ExpressionAttributeValues={":p": {"S": "f"}, ":five": {"N": "5"}}, Limit=4)
    # Limit counts evaluated items; the filter removes them afterwards.
    assert page["ScannedCount"] == 4 and page["Count"] == 0 and "LastEvaluatedKey" in page
    expect_error(client.query, "ValidationException", "Filter Expression can only contain non-primary key attributes: Primary key attribute: pk",
                 TableName=number_table, KeyConditionExpression="pk = :p", FilterExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "f"}})


def test_one_megabyte_pages(client, number_table):
    fill(client, number_table, "mb", 30, pad=100 * 1024)
    first = client.query(TableName=number_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "mb"}},
                         ReturnConsumedCapacity="TOTAL")
    # About 100 KB per item: a page stops once 1 MB has been read.
    assert 9 <= first["Count"] <= 11
    assert "LastEvaluatedKey" in first
    assert first["ConsumedCapacity"]["CapacityUnits"] >= 120
    total = sum(p["Count"] for p in client.get_paginator("query").paginate(
        TableName=number_table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "mb"}}))
    assert total == 30


def test_key_condition_errors(client, number_table):
    expect_error(client.query, "ValidationException", "Query condition missed key schema element: pk",
                 TableName=number_table, KeyConditionExpression="sk = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    expect_error(client.query, "ValidationException", "Invalid operator used in KeyConditionExpression: OR",
                 TableName=number_table, KeyConditionExpression="pk = :v OR pk = :v", ExpressionAttributeValues={":v": {"S": "1"}})
    expect_error(client.query, "ValidationException", contains="Condition parameter type does not match schema type",
                 TableName=number_table, KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    expect_error(client.query, "ValidationException", "The table does not have the specified index: nope",
                 TableName=number_table, IndexName="nope", KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"S": "1"}})
    expect_error(client.query, "ValidationException", "The provided starting key is outside query boundaries based on provided conditions",
                 TableName=number_table, KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"S": "1"}},
                 ExclusiveStartKey={"pk": {"S": "2"}, "sk": {"N": "1"}})


def test_legacy_query_and_scan(client, number_table):
    fill(client, number_table, "legacy", 10)
    page = client.query(TableName=number_table, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "legacy"}]},
        "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "7"}]}})
    assert [i["sk"]["N"] for i in page["Items"]] == ["7", "8", "9"]
    scan = client.scan(TableName=number_table, ScanFilter={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "legacy"}]},
                                                             "sk": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "2"}]}})
    assert scan["Count"] == 2


def test_parallel_scan_covers_every_item_once(client, number_table):
    fill(client, number_table, "par", 50)
    seen = []
    for segment in range(4):
        for page in client.get_paginator("scan").paginate(TableName=number_table, Segment=segment, TotalSegments=4, PaginationConfig={"PageSize": 7}):
            seen.extend((i["pk"]["S"], i["sk"]["N"]) for i in page["Items"])
    assert len(seen) == len(set(seen))
    assert sum(1 for p, _ in seen if p == "par") == 50
    expect_error(client.scan, "ValidationException",
                 "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is out of bounds of TotalSegments: 4",
                 TableName=number_table, Segment=4, TotalSegments=4)


def test_batch_get(client, number_table):
    fill(client, number_table, "bg", 10)
    keys = [{"pk": {"S": "bg"}, "sk": {"N": str(i)}} for i in range(12)]
    result = client.batch_get_item(RequestItems={number_table: {"Keys": keys, "ProjectionExpression": "sk"}}, ReturnConsumedCapacity="TOTAL")
    assert sorted(int(i["sk"]["N"]) for i in result["Responses"][number_table]) == list(range(10))
    assert result["UnprocessedKeys"] == {}
    assert result["ConsumedCapacity"][0]["CapacityUnits"] == 6.0
    expect_error(client.batch_get_item, "ValidationException", "Provided list of item keys contains duplicates",
                 RequestItems={number_table: {"Keys": [keys[0], keys[0]]}})
    many = [{"pk": {"S": "bg"}, "sk": {"N": str(i)}} for i in range(101)]
    expect_error(client.batch_get_item, "ValidationException", "Too many items requested for the BatchGetItem call",
                 RequestItems={number_table: {"Keys": many}})
    expect_error(client.batch_get_item, "ResourceNotFoundException", RequestItems={"no_such_table": {"Keys": keys[:1]}})


def test_batch_write_limits(client, number_table):
    requests = [{"PutRequest": {"Item": {"pk": {"S": "bw"}, "sk": {"N": str(i)}}}} for i in range(26)]
    expect_error(client.batch_write_item, "ValidationException", contains="Member must have length less than or equal to 25",
                 RequestItems={number_table: requests})
    duplicate = [requests[0], {"DeleteRequest": {"Key": {"pk": {"S": "bw"}, "sk": {"N": "0"}}}}]
    expect_error(client.batch_write_item, "ValidationException", "Provided list of item keys contains duplicates",
                 RequestItems={number_table: duplicate})
    # Nothing of a rejected batch was written.
    assert "Item" not in client.get_item(TableName=number_table, Key={"pk": {"S": "bw"}, "sk": {"N": "0"}})
    result = client.batch_write_item(RequestItems={number_table: requests[:25]}, ReturnConsumedCapacity="TOTAL")
    assert result["ConsumedCapacity"][0]["CapacityUnits"] == 25.0
