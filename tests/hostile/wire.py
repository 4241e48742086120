"""Raw HTTP/1.1 for the hostile suite: requests written byte by byte, answers parsed by hand;
and the servers it runs against. (Not in conftest.py: tests/clients has a conftest module too,
and a test importing `conftest` could get the other one.)"""
import json
import os
import socket
import subprocess
import time
import zlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args, preexec_fn=None):
    """Starts `dynasim serve` with extra arguments on a free port; returns (process, port)."""
    binary = os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))
    port = _free_port()
    process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=preexec_fn)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("dynasim serve exited at start")
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("dynasim serve did not start within 30 s")


def stop(process):
    process.terminate()
    process.wait(timeout=10)


def own_server():
    """Skips the test when it runs against a given endpoint (it needs its own server)."""
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("needs a dynasim serve started with its own options")

TABLE = "hostile"
ITEM = {"pk": {"S": "kept"}, "n": {"N": "42"}, "s": {"SS": ["a", "b"]}}
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDHOSTILE/20261124/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host;x-amz-date;x-amz-target, Signature=00")


def headers_for(operation, body, extra=()):
    """The headers an SDK sends, as (name, value) pairs."""
    headers = [
        ("Host", "127.0.0.1"),
        ("Content-Type", "application/x-amz-json-1.0"),
        ("X-Amz-Target", f"DynamoDB_20120810.{operation}"),
        ("X-Amz-Date", "20261124T120000Z"),
        ("Authorization", AUTH),
        ("Content-Length", str(len(body))),
    ]
    return headers + list(extra)


def head(headers, target="/"):
    lines = [f"POST {target} HTTP/1.1"] + [f"{n}: {v}" for n, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Answer({self.status}, {self.headers}, {self.body[:300]!r})"


def read_answer(s):
    """Reads one response (Content-Length framed) from socket `s`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    head_bytes, rest = data.split(b"\r\n\r\n", 1)
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(status, headers, rest[:length])


def send(port, raw, timeout=10):
    """Sends raw request bytes on a new connection and reads one answer."""
    with connect(port, timeout) as s:
        s.sendall(raw)
        return read_answer(s)


def call(port, operation, body, extra=(), target="/"):
    """An SDK-shaped request with `body` (bytes or a JSON-able value)."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return send(port, head(headers_for(operation, body, extra), target) + body)


def assert_error(answer, status, kind, message):
    """The exact error answer, with DynamoDB's headers: request id and body checksum."""
    assert answer.status == status, answer
    assert answer.json() == ({"__type": kind, "message": message} if message is not None
                             else {"__type": kind}), answer
    assert len(answer.headers["x-amzn-requestid"]) == 52, answer
    assert int(answer.headers["x-amz-crc32"]) == zlib.crc32(answer.body), answer
    assert answer.headers["content-type"] == "application/x-amz-json-1.0", answer


SERIALIZATION = "com.amazon.coral.service#SerializationException"
VALIDATION = "com.amazon.coral.validate#ValidationException"
UNKNOWN_OPERATION = "com.amazon.coral.service#UnknownOperationException"
INCOMPLETE_SIGNATURE = "com.amazon.coral.service#IncompleteSignatureException"
SERVICE_UNAVAILABLE = "com.amazon.coral.availability#ServiceUnavailableException"
INTERNAL = "com.amazonaws.dynamodb.v20120810#InternalServerError"
INTERNAL_MESSAGE = "The server encountered an internal error trying to fulfill the request."


def seed(port):
    """The table and the item every test must leave intact."""
    created = call(port, "CreateTable", {
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    })
    assert created.status == 200, created
    put = call(port, "PutItem", {"TableName": TABLE, "Item": ITEM})
    assert put.status == 200, put


def assert_intact(port):
    got = call(port, "GetItem", {"TableName": TABLE, "Key": {"pk": ITEM["pk"]},
                                 "ConsistentRead": True})
    assert got.status == 200, got
    assert got.json() == {"Item": ITEM}, got
    tables = call(port, "ListTables", {})
    assert TABLE in tables.json()["TableNames"], tables
