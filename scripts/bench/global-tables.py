#!/usr/bin/env python3
"""Replication throughput of global tables between two regions of one `dynasim serve`.

Run with boto3 available (e.g. /work/main/.venv/bin/python):
    python perf-global-bench.py --binary target/release/dynasim [--duration 10] [--conns 1,16]

For each delay profile ([0,0] and [100,1000]) one server is started
(`dynasim serve --listen 127.0.0.1:PORT --profile P --seed 1`). In it, for each connection
count N: a fresh global table (us-east-1 + replica us-west-2) gets PutItems of ~200-byte items
with unique keys from N keep-alive connections (one process each) in us-east-1 for the
duration; /metrics?region=us-east-1 is polled for the replication latency count during and
after the run; at the end a paginated Scan Select=COUNT in us-west-2 must equal the
acknowledged count. The same load then goes to a regional table (no stream) and to a regional
table with a NEW_AND_OLD_IMAGES stream (what a replica has) for comparison. Server CPU
(utime+stime from /proc/PID/stat) is read around each run.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

EAST, WEST = "us-east-1", "us-west-2"
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/{region}/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64)
PAD = "x" * 170  # pk ~20 bytes + "data" 4 + 170 -> ~200-byte item
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def client(url, region):
    return boto3.client("dynamodb", endpoint_url=url, region_name=region,
                        aws_access_key_id="AKIDBENCH", aws_secret_access_key="secret",
                        config=Config(retries={"max_attempts": 1}))


def writer(port, table, prefix, start_at, duration, out):
    """One keep-alive connection writing unique keys from start_at for duration seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": AUTH.format(region=EAST), "X-Amz-Date": "20260101T000000Z",
               "X-Amz-Target": "DynamoDB_20120810.PutItem",
               "Content-Type": "application/x-amz-json-1.0"}
    ok = errors = 0
    first_error = None
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + duration
    i = 0
    while time.time() < end:
        body = json.dumps({"TableName": table, "Item": {
            "pk": {"S": f"{prefix}-{i:08d}"}, "data": {"S": PAD}}})
        i += 1
        try:
            conn.request("POST", "/", body, headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            errors += 1
            first_error = first_error or repr(e)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port)
            continue
        if resp.status == 200:
            ok += 1
        else:
            errors += 1
            first_error = first_error or f"HTTP {resp.status}: {data[:300]!r}"
    out.put((ok, errors, first_error, time.time()))


def latency_stats(port, table):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics?region={EAST}").read().decode()
    stats = {}
    pat = re.compile(r'dynasim_replication_latency_ms\{table="([^"]+)",destination="([^"]+)",'
                     r'stat="(\w+)"\} (\S+)')
    for m in pat.finditer(text):
        if m.group(1) == table and m.group(2) == WEST:
            stats[m.group(3)] = float(m.group(4))
    return stats


def replicated_wcu(port, table):
    data = json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/metrics/series?region={WEST}").read())
    return data.get("Tables", {}).get(table, {}).get("Totals", {}).get(
        "ReplicatedWriteCapacityUnits")


def scan_count(c, table):
    total, kwargs = 0, {"TableName": table, "Select": "COUNT", "ConsistentRead": True}
    while True:
        page = c.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def make_table(c, name, stream=False):
    extra = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}
    c.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], **extra)
    c.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def make_global(east, west, name):
    make_table(east, name)
    east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": WEST}}])
    for _ in range(200):
        t = east.describe_table(TableName=name)["Table"]
        reps = [(r["RegionName"], r.get("ReplicaStatus")) for r in t.get("Replicas", [])]
        try:
            w = west.describe_table(TableName=name)["Table"]["TableStatus"]
        except west.exceptions.ResourceNotFoundException:
            w = None
        if t["TableStatus"] == "ACTIVE" and reps == [(WEST, "ACTIVE")] and w == "ACTIVE":
            return
        time.sleep(0.1)
    raise RuntimeError(f"replica never ACTIVE: {t['TableStatus']} {reps} {w}")


def load(port, pid, table, conns, duration, poll=None):
    """Runs the writers; returns acked, errors, first error, wall s, cpu s, poll samples."""
    out = mp.Queue()
    start_at = time.time() + 1.0
    procs = [mp.Process(target=writer, args=(port, table, f"{table}-c{k:02d}", start_at, duration, out))
             for k in range(conns)]
    for p in procs:
        p.start()
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = cpu_s(pid)
    samples = []
    while any(p.is_alive() for p in procs) and out.qsize() < conns:
        if poll:
            samples.append((time.time() - start_at, poll()))
        time.sleep(0.5)
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ended = max(r[3] for r in results)
    cpu1 = cpu_s(pid)
    acked = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    first = next((r[2] for r in results if r[2]), None)
    return acked, errors, first, ended - start_at, cpu1 - cpu0, cpu0, samples, start_at


def session(binary, delay, conns_list, duration, seed=1):
    port = free_port()
    prof = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    prof.write(f"[global_tables]\nreplication_delay_ms = [{delay[0]}, {delay[1]}]\n")
    prof.close()
    cmd = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--profile", prof.name, "--seed", str(seed)]
    print("$", " ".join(cmd), flush=True)
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/metrics").read()
            break
        except OSError:
            time.sleep(0.1)
    east, west = client(url, EAST), client(url, WEST)
    rows = []
    try:
        for idx, n in enumerate(conns_list):
            tag = f"d{delay[1]}n{n}i{idx}"
            g = f"g_{tag}"
            make_global(east, west, g)
            base = latency_stats(port, g)
            acked, errs, first, wall, cpu, cpu0, samples, t0 = load(
                port, server.pid, g, n, duration, poll=lambda: latency_stats(port, g).get("count", 0))
            # Drain: wait until every acknowledged write has been applied in us-west-2.
            drain_deadline = time.time() + 30
            while time.time() < drain_deadline:
                st = latency_stats(port, g)
                if st.get("count", 0) >= acked:
                    break
                time.sleep(0.05)
            drained_at = time.time() - t0
            cpu_drained = cpu_s(server.pid) - cpu0
            st = latency_stats(port, g)
            in_window = max([c for (t, c) in samples if t <= duration] or [0])
            # Steady replicated rate: slope of the applied count between the samples in
            # [min(2 s, duration/2), duration] (after the first delays have elapsed).
            win = [(t, c) for (t, c) in samples if min(2.0, duration / 2) <= t <= duration]
            steady = (win[-1][1] - win[0][1]) / (win[-1][0] - win[0][0]) if len(win) > 1 else float("nan")
            west_count = scan_count(west, g)
            east_count = scan_count(east, g)
            rwcu = replicated_wcu(port, g)
            rows.append(dict(kind="global", delay=delay, conns=n, acked=acked, errors=errs, first_error=first,
                             wall=wall, put_s=acked / wall, cpu=cpu, cpu_drained=cpu_drained,
                             cpu_per_1k=1e6 * cpu_drained / max(acked, 1),
                             repl_in_window=in_window, repl_rate_window=in_window / duration, repl_steady=steady,
                             repl_rate_to_drain=st.get("count", 0) / drained_at, drained_at=drained_at,
                             lat_count=st.get("count"), lat_avg=st.get("sum", 0) / max(st.get("count", 1), 1),
                             lat_max=st.get("max"), lat_last=st.get("last"), base=base,
                             west_count=west_count, east_count=east_count, replicated_wcu=rwcu,
                             samples=[(round(t, 2), c) for t, c in samples]))
            print(json.dumps(rows[-1]), flush=True)
            for kind, stream in (("regional", False), ("regional+stream", True)):
                t = f"{'s' if stream else 'r'}_{tag}"
                make_table(east, t, stream=stream)
                acked, errs, first, wall, cpu, _, _, _ = load(port, server.pid, t, n, duration)
                cnt = scan_count(east, t)
                rows.append(dict(kind=kind, delay=delay, conns=n, acked=acked, errors=errs, first_error=first,
                                 wall=wall, put_s=acked / wall, cpu=cpu, cpu_per_1k=1e6 * cpu / max(acked, 1),
                                 east_count=cnt))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
        if err:
            print("server stderr:", err.decode(errors="replace")[-2000:], file=sys.stderr)
        os.unlink(prof.name)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/dynasim")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--conns", default="1,16")
    ap.add_argument("--delays", default="0:0,100:1000")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    conns = [int(x) for x in a.conns.split(",")]
    rows = []
    for d in a.delays.split(","):
        lo, hi = (int(x) for x in d.split(":"))
        rows += session(a.binary, (lo, hi), conns, a.duration)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("\n| table | delay ms | conns | acked puts/s | errors | replicated /s (steady) | "
          "all applied at s | lat avg / max ms | west = acked | server CPU ms / 1k writes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] == "global":
            print(f"| global | {r['delay'][0]}-{r['delay'][1]} | {r['conns']} | {r['put_s']:,.0f} | {r['errors']} | "
                  f"{r['repl_steady']:,.0f} | {r['drained_at']:.2f} | {r['lat_avg']:.1f} / {r['lat_max']:.0f} | "
                  f"{r['west_count']} = {r['acked']}: {r['west_count'] == r['acked']} | {r['cpu_per_1k']:.0f} |")
        else:
            print(f"| {r['kind']} | - | {r['conns']} | {r['put_s']:,.0f} | {r['errors']} | - | - | - | "
                  f"east {r['east_count']} = {r['acked']}: {r['east_count'] == r['acked']} | {r['cpu_per_1k']:.0f} |")


if __name__ == "__main__":
    main()
