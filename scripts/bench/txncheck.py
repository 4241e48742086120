#!/usr/bin/env python3
"""txncheck.py KITDIR ENDPOINT: checks that transact.lua does what it says, against a fresh server.

Creates a small table (bench_txncheck, 20 x 10 items) with the kit's ddbkit.py, sends one
TransactWriteItems whose ConditionCheck names a missing key (must be a 400
TransactionCanceledException that changes nothing), runs transact.lua from KITDIR for a few
seconds (wrk -t1 -c4), then scans the table: the sum of `cnt` must be 9 x the 200 answers wrk
counted, plus at most 9 x 4 for the requests still in flight when wrk stopped, and the non-200
count must equal the cancel count (contention only). Prints CHECK OK / CHECK FAILED; exit 0/1.
"""
import os
import re
import subprocess
import sys

kit, endpoint = sys.argv[1], sys.argv[2]
sys.path.insert(0, kit)
import ddbkit  # noqa: E402

TABLE, P, S, CONC, ITEMS = "bench_txncheck", 20, 10, 4, 10
py = sys.executable


def run(*args):
    subprocess.run([py, os.path.join(kit, "ddbkit.py")] + list(args) +
                   ["--endpoint", endpoint, "--table", TABLE, "--partitions", str(P),
                    "--per-part", str(S)], check=True, stdout=subprocess.DEVNULL)


def total_cnt(c):
    total, n, start = 0, 0, None
    while True:
        req = {"TableName": TABLE}
        if start:
            req["ExclusiveStartKey"] = start
        st, doc = c.call("Scan", req)
        assert st == 200, (st, doc)
        for it in doc["Items"]:
            n += 1
            total += int(it.get("cnt", {}).get("N", "0"))
        start = doc.get("LastEvaluatedKey")
        if not start:
            return total, n


def main():
    run("create")
    run("preload")
    c = ddbkit.Client(endpoint)
    upd = [{"Update": {"TableName": TABLE, "Key": {"pk": {"S": "p%06d" % i}, "sk": {"S": "s00000"}},
                       "UpdateExpression": "ADD cnt :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}} for i in range(ITEMS - 1)]
    missing = {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "absent"}, "sk": {"S": "x"}},
                                  "ConditionExpression": "attribute_exists(pk)"}}
    st, doc = c.call("TransactWriteItems", {"TransactItems": upd + [missing]})
    cancelled = st == 400 and "TransactionCanceledException" in str(doc.get("__type", ""))
    print("missing-key ConditionCheck ->", st, doc.get("__type"), doc.get("CancellationReasons"))
    before, n = total_cnt(c)
    print("items %d, sum(cnt) before the load %d" % (n, before))
    env = dict(os.environ, BENCH_TABLE=TABLE, BENCH_PARTITIONS=str(P), BENCH_PER_PART=str(S))
    out = subprocess.run(["wrk", "-t1", "-c%d" % CONC, "-d3s", "-s", os.path.join(kit, "transact.lua"),
                          endpoint + "/"], env=env, capture_output=True, text=True, timeout=60).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    print(line)
    for l in out.splitlines():
        if l.startswith("ERRSAMPLE"):
            print(l)
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    ok = int(kv["requests"]) - int(kv["non200"])
    after, _ = total_cnt(c)
    lo, hi = (ITEMS - 1) * ok, (ITEMS - 1) * (ok + CONC)
    print("sum(cnt) after %d; 200 answers %d -> expected %d..%d" % (after, ok, lo, hi))
    good = (cancelled and before == 0 and lo <= after <= hi
            and int(kv["non200"]) == int(kv["cancels"]) and ok > 0)
    print("CHECK OK" if good else "CHECK FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
