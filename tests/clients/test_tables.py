"""Control plane: tables, tags, limits, endpoints."""
import uuid

from conftest import new_table
from helpers import expect_error


def test_create_describe_list_delete(client):
    name = "tables_" + uuid.uuid4().hex[:8]
    created = client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    assert created["TableArn"].endswith(":table/" + name)
    client.get_waiter("table_exists").wait(TableName=name)
    table = client.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    assert table["KeySchema"][1] == {"AttributeName": "sk", "KeyType": "RANGE"}
    assert table["ItemCount"] == 0
    assert name in client.list_tables()["TableNames"]
    # Describing by ARN works too.
    assert client.describe_table(TableName=table["TableArn"])["Table"]["TableName"] == name
    deleted = client.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    # The service's reduced description (dynamodb-facts.md §12.4, observed).
    assert "CreationDateTime" not in deleted and "KeySchema" not in deleted, deleted
    assert deleted["TableName"] == name and deleted["ItemCount"] == 0
    client.get_waiter("table_not_exists").wait(TableName=name)
    expect_error(client.describe_table, "ResourceNotFoundException", TableName=name)


def test_list_tables_pagination(client):
    names = sorted(new_table(client) for _ in range(5))
    seen = []
    for page in client.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["TableNames"]) <= 2
        seen.extend(page["TableNames"])
    assert seen == sorted(seen)
    assert set(names) <= set(seen)
    expect_error(client.list_tables, "ValidationException", contains="Member must have value less than or equal to 100", Limit=101)
    for name in names:
        client.delete_table(TableName=name)


def test_create_table_validation(client):
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    expect_error(client.create_table, "ValidationException",
                 "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
                 TableName="abc", KeySchema=schema, AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    expect_error(client.create_table, "ValidationException",
                 "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
                 TableName="abc", KeySchema=schema,
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    expect_error(client.create_table, "ValidationException",
                 "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
                 TableName="abc", KeySchema=schema, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    expect_error(client.create_table, "ValidationException",
                 "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                 TableName="abc", KeySchema=[{"AttributeName": "pk", "KeyType": "RANGE"}],
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    expect_error(client.create_table, "ValidationException", contains="Member must satisfy regular expression pattern",
                 TableName="bad name!", KeySchema=schema, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def test_duplicate_table_is_in_use(client, table):
    expect_error(client.create_table, "ResourceInUseException", f"Table already exists: {table}",
                 TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def test_update_table_billing_and_throughput(client):
    name = new_table(client, billing="PROVISIONED")
    updated = client.update_table(TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5})
    assert updated["TableDescription"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    expect_error(client.update_table, "ValidationException", contains="The provisioned throughput for the table will not change",
                 TableName=name, ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5})
    client.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    table = client.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    client.delete_table(TableName=name)


def test_deletion_protection(client):
    name = new_table(client)
    client.update_table(TableName=name, DeletionProtectionEnabled=True)
    expect_error(client.delete_table, "ResourceInUseException", contains="protected against deletion", TableName=name)
    client.update_table(TableName=name, DeletionProtectionEnabled=False)
    client.delete_table(TableName=name)


def test_tags(client, table):
    arn = client.describe_table(TableName=table)["Table"]["TableArn"]
    client.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "ci"}])
    tags = client.list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "ci"), ("team", "data")]
    client.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert client.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}]
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    # A ValidationException, as Alternator's test_tag.py observed the service answering.
    expect_error(client.tag_resource, "ValidationException", ResourceArn=arn, Tags=too_many)
    missing = arn.rsplit("/", 1)[0] + "/nope_table"
    # Refused rather than not found (issue 11; docs/compatibility.md).
    expect_error(client.list_tags_of_resource, "AccessDeniedException", ResourceArn=missing)


def test_describe_limits_and_endpoints(client, endpoint):
    limits = client.describe_limits()
    assert limits["TableMaxReadCapacityUnits"] == 40000
    assert limits["AccountMaxWriteCapacityUnits"] == 80000
    endpoints = client.describe_endpoints()["Endpoints"]
    assert len(endpoints) == 1
    assert endpoints[0]["CachePeriodInMinutes"] > 0


def test_unimplemented_operation_is_a_clear_error(client, table):
    expect_error(client.describe_continuous_backups, "UnknownOperationException", contains="does not implement DescribeContinuousBackups", TableName=table)
