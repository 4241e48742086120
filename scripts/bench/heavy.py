#!/usr/bin/env python3
"""Large requests in a loop, beside a latency measurement (docs/performance.md, issue 12).

    heavy.py ENDPOINT MODE SECONDS [CLIENTS]

MODE is `body` (PutItem with a 15 MiB body: decoded, then refused as too large an item),
`gzip` (the same body gzip-compressed: decompressed and decoded), or `scan` (Scan of the
table `bench` in 1 MB pages, from the start again after the last). Stdlib only; prints the
number of requests each client completed.
"""
import gzip
import http.client
import json
import sys
import threading
import time

AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDBENCHEXAMPLE0000/20261124/us-east-1/dynamodb/"
        "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00")


def headers(operation, extra=()):
    h = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Date": "20261124T120000Z",
         "X-Amz-Target": f"DynamoDB_20120810.{operation}", "Authorization": AUTH}
    h.update(extra)
    return h


def client(host, port, mode, deadline, counts, index):
    connection = http.client.HTTPConnection(host, port, timeout=120)
    big = json.dumps({"TableName": "bench", "Item": {"pk": {"S": "big"}, "sk": {"S": "s"},
                                                     "data": {"S": "x" * (15 << 20)}}}).encode()
    packed = gzip.compress(big, 1)
    start_key = None
    while time.time() < deadline:
        if mode == "scan":
            body = {"TableName": "bench"}
            if start_key:
                body["ExclusiveStartKey"] = start_key
            connection.request("POST", "/", json.dumps(body), headers("Scan"))
            answer = connection.getresponse()
            start_key = json.loads(answer.read()).get("LastEvaluatedKey")
        else:
            extra = {"Content-Encoding": "gzip"} if mode == "gzip" else {}
            connection.request("POST", "/", packed if mode == "gzip" else big,
                               headers("PutItem", extra))
            answer = connection.getresponse()
            answer.read()
        counts[index] += 1


def main():
    endpoint, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    clients = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    host, port = endpoint.removeprefix("http://").split(":")
    deadline = time.time() + seconds
    counts = [0] * clients
    threads = [threading.Thread(target=client, args=(host, int(port), mode, deadline, counts, i))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"heavy {mode}: {counts} requests in {seconds:.0f} s")


if __name__ == "__main__":
    main()
