"""The wire as DynamoDB answers it (issue 11): compressed bodies, Accept-Encoding, the Server
and CORS headers, the preflight, the health check, the Streams target. Raw HTTP over loopback,
exact assertions; each test names its source.
"""
import gzip
import json
import zlib

import pytest

import wire
from wire import (INTERNAL, INTERNAL_MESSAGE, TABLE, UNKNOWN_OPERATION, assert_error, call,
                  connect, read_answer, send)

COMPRESSION_SOURCE = ("obs: https://github.com/scylladb/scylladb/blob/master/test/alternator/"
                      "test_compressed_request.py (run against DynamoDB)")
EXPOSED = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-crc32,Date"


def put(key, encoding, body_of):
    """A PutItem of item `key`, its body encoded by `body_of`, sent with `encoding`."""
    body = json.dumps({"TableName": TABLE, "Item": {"pk": {"S": key}}}).encode()
    return body_of(body), [("Content-Encoding", encoding)]


def absent(port, key):
    got = call(port, "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": key}},
                                 "ConsistentRead": True})
    assert got.status == 200, got
    return got.json() == {}


@pytest.mark.parametrize("name, encoding, body_of", [
    # source: COMPRESSION_SOURCE, test_broken_gzip_content
    ("plain body declared gzip", "gzip", lambda b: b),
    ("plain body declared x-gzip", "x-gzip", lambda b: b),
    ("plain body declared deflate", "deflate", lambda b: b),
    # source: COMPRESSION_SOURCE, test_gzip_request_with_missing_character
    ("gzip missing its last byte", "gzip", lambda b: gzip.compress(b)[:-1]),
    # source: COMPRESSION_SOURCE, test_gzip_request_empty
    ("empty body declared gzip", "gzip", lambda b: b""),
    ("empty body declared deflate", "deflate", lambda b: b""),
    # source: COMPRESSION_SOURCE, test_garbage_content_encoding
    ("unknown encoding", "garbage", lambda b: b),
    ("brotli", "br", lambda b: b),
])
def test_undecodable_bodies_are_500_and_write_nothing(port, name, encoding, body_of):
    key = "undecodable " + name
    body, extra = put(key, encoding, body_of)
    answer = call(port, "PutItem", body, extra=extra)
    assert_error(answer, 500, INTERNAL, INTERNAL_MESSAGE)
    assert absent(port, key)


@pytest.mark.parametrize("name, encoding, body_of", [
    # source: COMPRESSION_SOURCE, test_gzip_request_valid
    ("gzip", "gzip", gzip.compress),
    ("x-gzip", "x-gzip", gzip.compress),
    ("upper-case GZIP", "GZIP", gzip.compress),
    # source: COMPRESSION_SOURCE, test_gzip_request_two_gzips (members concatenated are one body)
    ("two gzip members", "gzip", lambda b: gzip.compress(b[:10]) + gzip.compress(b[10:])),
    ("three gzip members", "gzip",
     lambda b: gzip.compress(b[:5]) + gzip.compress(b[5:9]) + gzip.compress(b[9:])),
    # ours (docs/compatibility.md: deflate): zlib-wrapped deflate is accepted
    ("deflate", "deflate", zlib.compress),
    ("identity", "identity", lambda b: b),
])
def test_compressed_bodies_are_read(port, name, encoding, body_of):
    key = "compressed " + name
    body, extra = put(key, encoding, body_of)
    answer = call(port, "PutItem", body, extra=extra)
    assert answer.status == 200, answer
    assert answer.json() == {}
    assert not absent(port, key)
    assert call(port, "DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": key}}}).status == 200


def large_answer(port, accept_headers):
    """A GetItem of the 6 KB item, with one Accept-Encoding header per value."""
    return call(port, "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "large"}}},
                extra=[("Accept-Encoding", v) for v in accept_headers])


@pytest.fixture
def large_item(port):
    item = {"pk": {"S": "large"}, "v": {"S": "x" * 6000}}
    assert call(port, "PutItem", {"TableName": TABLE, "Item": item}).status == 200
    yield item
    call(port, "DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": "large"}}})


@pytest.mark.parametrize("accept, encoding", [
    # obs (dynamodb-facts.md §2.1): answers over 4 KB are compressed when the client accepts it;
    # the header's forms are HTTP's (RFC 9110 §12.5.3; x-gzip is gzip, §8.4.1.3)
    (["gzip"], "gzip"),
    (["x-gzip"], "gzip"),
    (["identity, x-gzip;q=0.5"], "gzip"),
    (["deflate"], "deflate"),
    (["br", "gzip"], "gzip"),
    (["identity", "deflate"], "deflate"),
    (["gzip;q=0, deflate"], "deflate"),
    (["gzip;q=0"], None),
    (["identity"], None),
])
def test_accept_encoding_variants(port, large_item, accept, encoding):
    answer = large_answer(port, accept)
    assert answer.status == 200, answer
    assert answer.headers.get("content-encoding") == encoding, answer
    body = answer.body
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    assert json.loads(body) == {"Item": large_item}
    assert int(answer.headers["x-amz-crc32"]) == zlib.crc32(answer.body)


def assert_common_headers(answer):
    # Server: "Server" as the service sends it (ours, docs/compatibility.md: Server header);
    # CORS: ours (docs/compatibility.md: CORS)
    assert answer.headers["server"] == "Server", answer
    assert answer.headers["access-control-allow-origin"] == "*", answer
    assert answer.headers["access-control-expose-headers"] == EXPOSED, answer


def test_every_answer_has_the_server_and_cors_headers(port):
    ok = call(port, "ListTables", {})
    assert ok.status == 200
    assert_common_headers(ok)
    error = call(port, "DescribeTable", {"TableName": "missing_table"})
    assert error.status == 400
    assert_common_headers(error)
    undecodable = call(port, "ListTables", b"{}", extra=[("Content-Encoding", "gzip")])
    assert undecodable.status == 500
    assert_common_headers(undecodable)
    health = send(port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert_common_headers(health)


def test_preflight(port):
    # emu, run against DynamoDB: https://github.com/architect/dynalite/blob/main/index.js
    # (OPTIONS: the requested headers and method allowed, Access-Control-Max-Age 172800)
    raw = (b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://example.com\r\n"
           b"Access-Control-Request-Method: POST\r\n"
           b"Access-Control-Request-Headers: content-type,x-amz-target\r\n\r\n")
    answer = send(port, raw)
    assert answer.status == 200, answer
    assert answer.body == b""
    assert_common_headers(answer)
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert answer.headers["access-control-allow-headers"] == "content-type,x-amz-target"
    assert answer.headers["access-control-max-age"] == "172800"
    assert len(answer.headers["x-amzn-requestid"]) == 52


def test_preflight_without_requested_headers(port):
    answer = send(port, b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.status == 200, answer
    assert answer.headers["access-control-max-age"] == "172800"
    assert "access-control-allow-methods" not in answer.headers
    assert "access-control-allow-headers" not in answer.headers


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "dynamodb.local:443"])
def test_health_check_names_the_host_the_client_addressed(port, host):
    # obs: https://github.com/scylladb/scylladb/blob/master/test/alternator/test_health.py
    # (run against DynamoDB: "healthy: " and the URL's host, whitespace around it stripped)
    answer = send(port, f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert answer.status == 200, answer
    assert answer.body.decode().strip() == f"healthy: {host}"
    assert answer.headers["content-type"] == "text/plain"


def test_health_check_over_a_real_client_names_its_port(port):
    with connect(port) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = read_answer(s)
    assert answer.body.decode().strip() == f"healthy: 127.0.0.1:{port}"


def streams_headers(operation, body):
    return [(n, f"DynamoDBStreams_20120810.{operation}" if n == "X-Amz-Target" else v)
            for n, v in wire.headers_for("ListStreams", body)]


def test_streams_target_reaches_the_streams_api(port):
    # doc (Streams API reference): ListStreams with no members lists every stream
    answer = send(port, wire.head(streams_headers("ListStreams", b"{}")) + b"{}")
    assert answer.status == 200, answer
    assert "Streams" in answer.json(), answer
    assert int(answer.headers["x-amz-crc32"]) == zlib.crc32(answer.body), answer


@pytest.mark.parametrize("operation", ["Nonsense", "PutItem", "ListTables"])
def test_streams_target_knows_only_streams_operations(port, operation):
    # obs (as for an unknown DynamoDB_20120810 operation): a bare UnknownOperationException
    answer = send(port, wire.head(streams_headers(operation, b"{}")) + b"{}")
    assert_error(answer, 400, UNKNOWN_OPERATION, None)
