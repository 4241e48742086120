"""The AWS CLI against the endpoint."""
import json
import os
import subprocess
import sys
import uuid


def aws(endpoint, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret", AWS_DEFAULT_REGION="us-east-1")
    command = [sys.executable, "-m", "awscli", "dynamodb", "--endpoint-url", endpoint, "--output", "json", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    return result


def test_cli_round_trip(endpoint):
    name = "cli_" + uuid.uuid4().hex[:8]
    created = aws(endpoint, "create-table", "--table-name", name, "--attribute-definitions", "AttributeName=id,AttributeType=S",
                  "--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
    assert created.returncode == 0, created.stderr
    assert aws(endpoint, "wait", "table-exists", "--table-name", name).returncode == 0
    put = aws(endpoint, "put-item", "--table-name", name, "--item", json.dumps({"id": {"S": "1"}, "n": {"N": "42"}}))
    assert put.returncode == 0, put.stderr
    got = aws(endpoint, "get-item", "--table-name", name, "--key", json.dumps({"id": {"S": "1"}}))
    assert json.loads(got.stdout)["Item"]["n"] == {"N": "42"}
    scan = aws(endpoint, "scan", "--table-name", name)
    assert json.loads(scan.stdout)["Count"] == 1
    failed = aws(endpoint, "put-item", "--table-name", name, "--item", json.dumps({"id": {"S": "1"}}),
                 "--condition-expression", "attribute_not_exists(id)")
    assert failed.returncode != 0
    assert "ConditionalCheckFailedException" in failed.stderr
    assert aws(endpoint, "delete-table", "--table-name", name).returncode == 0
