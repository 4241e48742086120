"""The exactness corpus (tests/exactness/*.json) over HTTP: every case is sent as a raw, signed
JSON 1.0 request (no SDK-side validation or reshaping), and the status, the short `__type` and
the message must be exactly the corpus's. `server/tests/exactness.rs` runs the same cases
against the service without sockets, so the engine and the wire agree.
"""
import glob
import json
import os
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import CREDENTIALS, ROOT

CORPUS = os.path.join(ROOT, "tests", "exactness")


def _files():
    return sorted(p for p in glob.glob(os.path.join(CORPUS, "*.json")) if not p.endswith("setup.json"))


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _cases():
    for path in _files():
        name = os.path.basename(path)
        for case in _load(path)["cases"]:
            yield pytest.param(case, id=f"{name}:{case['name']}")


def _body(step):
    if "raw_body" in step:
        return step["raw_body"].encode()
    return json.dumps(step.get("request", {})).encode()


def send(endpoint, step):
    """Returns (status, short error type or None, message or None, parsed body or None)."""
    request = AWSRequest(method="POST", url=endpoint + "/", data=_body(step), headers={
        "Content-Type": "application/x-amz-json-1.0",
        # A full target (DynamoDBStreams_20120810.ListStreams) or a DynamoDB operation.
        "X-Amz-Target": step["operation"] if "." in step["operation"] else "DynamoDB_20120810." + step["operation"],
    })
    credentials = Credentials(CREDENTIALS["aws_access_key_id"], CREDENTIALS["aws_secret_access_key"])
    SigV4Auth(credentials, "dynamodb", CREDENTIALS["region_name"]).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw, timeout=30) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    try:
        body = json.loads(data) if data else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return status, None, None, body
    error_type = body.get("__type")
    if error_type is not None:
        error_type = error_type.rsplit("#", 1)[-1]
    return status, error_type, body.get("message", body.get("Message")), body


@pytest.fixture(scope="module")
def corpus_endpoint(endpoint):
    setup = _load(os.path.join(CORPUS, "setup.json"))
    for step in setup["steps"]:
        status, error_type, _, body = send(endpoint, step)
        assert status == 200 or error_type == "ResourceInUseException", (step, body)
        if step["operation"] == "CreateTable":
            table = step["request"]["TableName"]
            for _ in range(60):
                _, _, _, described = send(endpoint, {"operation": "DescribeTable", "request": {"TableName": table}})
                if described and described.get("Table", {}).get("TableStatus") == "ACTIVE":
                    break
                time.sleep(1)
    return endpoint


@pytest.mark.parametrize("case", list(_cases()))
def test_case(corpus_endpoint, case):
    assert case.get("source"), "every case names its source"
    for step in case.get("setup", []):
        status, error_type, _, body = send(corpus_endpoint, step)
        assert status == 200 or error_type == "ResourceInUseException", (step, body)
    status, error_type, message, body = send(corpus_endpoint, case)
    expected = (case["status"], case.get("type"), case.get("message"))
    if case["status"] == 200:
        assert status == 200, body
    else:
        assert (status, error_type, message) == expected, body
    if "response" in case:
        assert body == case["response"]
