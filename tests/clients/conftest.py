"""Black-box tests through real DynamoDB clients.

By default they start `dynasim serve` (the binary in DYNASIM_BIN, or target/debug/dynasim) on a
free loopback port. Set DYNASIM_ENDPOINT=http://host:port to run the same tests against any
other DynamoDB-compatible endpoint.
"""
import os
import socket
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args):
    """Starts `dynasim serve` with extra arguments on a free port; returns (process, url)."""
    binary = os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))
    port = _free_port()
    process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stdout.read().decode())
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("dynasim serve did not start within 30 s")
    return process, f"http://127.0.0.1:{port}"


def stop(process):
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def endpoint():
    given = os.environ.get("DYNASIM_ENDPOINT")
    if given:
        yield given
        return
    process, url = launch()
    yield url
    stop(process)


CREDENTIALS = dict(region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")


@pytest.fixture(scope="session")
def client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}), **CREDENTIALS)


@pytest.fixture(scope="session")
def resource(endpoint):
    return boto3.resource("dynamodb", endpoint_url=endpoint, **CREDENTIALS)


def new_table(client, range_type="S", hash_type="S", billing="PAY_PER_REQUEST"):
    name = "t_" + uuid.uuid4().hex[:12]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    definitions = [{"AttributeName": "pk", "AttributeType": hash_type}]
    if range_type:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        definitions.append({"AttributeName": "sk", "AttributeType": range_type})
    extra = {"BillingMode": billing}
    if billing == "PROVISIONED":
        extra["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    client.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=definitions, **extra)
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


@pytest.fixture
def table(client):
    name = new_table(client)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def hash_table(client):
    name = new_table(client, range_type=None)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def number_table(client):
    name = new_table(client, range_type="N")
    yield name
    client.delete_table(TableName=name)
