#!/usr/bin/env python3
"""Growth series: back-to-back single-connection runs on fresh global tables in one server.

    python perf-global-growth.py --binary target/release/dynasim --runs 6 --duration 5

One `dynasim serve --profile P --seed 1` with [global_tables] replication_delay_ms = [100, 1000].
Each run creates a fresh global table (us-east-1 + us-west-2), puts for --duration seconds from
one keep-alive connection, waits until every acknowledged write is applied in us-west-2 and
reports server CPU (utime+stime, until the last delivery) per acknowledged write, while the
earlier tables keep their items. The us-west-2 Scan COUNT must equal the acknowledged count.
"""
import argparse, importlib.util, json, os, subprocess, sys, tempfile, time, urllib.request

spec = importlib.util.spec_from_file_location("bench", os.path.join(os.path.dirname(os.path.abspath(__file__)), "global-tables.py"))
b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/dynasim")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--delay", default="100:1000")
    ap.add_argument("--json", default=None)
    ap.add_argument("--kind", default="global", choices=["global", "regional+stream"],
                    help="regional+stream: the control, same load on fresh streamed regional tables")
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.delay.split(":"))
    port = b.free_port()
    prof = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    prof.write(f"[global_tables]\nreplication_delay_ms = [{lo}, {hi}]\n"); prof.close()
    cmd = [a.binary, "serve", "--listen", f"127.0.0.1:{port}", "--profile", prof.name, "--seed", "1"]
    print("$", " ".join(cmd), flush=True)
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/metrics").read(); break
        except OSError:
            time.sleep(0.1)
    east, west = b.client(url, b.EAST), b.client(url, b.WEST)
    rows, held = [], 0
    try:
        for i in range(a.runs):
            g = f"grow{i}"
            if a.kind == "global":
                b.make_global(east, west, g)
            else:
                b.make_table(east, g, stream=True)
            acked, errs, first, wall, cpu, cpu0, _, t0 = b.load(port, server.pid, g, 1, a.duration)
            deadline = time.time() + 60
            while a.kind == "global" and time.time() < deadline and b.latency_stats(port, g).get("count", 0) < acked:
                time.sleep(0.05)
            drained_at = time.time() - t0
            cpu_d = b.cpu_s(server.pid) - cpu0
            st = b.latency_stats(port, g)
            ec = b.scan_count(east, g)
            wc = b.scan_count(west, g) if a.kind == "global" else ec
            r = dict(run=i, items_before=held, acked=acked, errors=errs, first_error=first,
                     put_s=acked / wall, cpu_us_per_write=1e6 * cpu_d / max(acked, 1),
                     cpu_us_per_write_load_only=1e6 * cpu / max(acked, 1), drained_at=drained_at,
                     lat_avg=st.get("sum", 0) / max(st.get("count", 1), 1), lat_max=st.get("max"),
                     delivered=st.get("count", acked if a.kind != "global" else 0), west_count=wc, east_count=ec,
                     replicated_wcu=b.replicated_wcu(port, g) if a.kind == "global" else None)
            rows.append(r); held += acked
            print(json.dumps(r), flush=True)
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill(); _, err = server.communicate()
        if err:
            print("server stderr:", err.decode(errors="replace")[-2000:], file=sys.stderr)
        os.unlink(prof.name)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=1)
    print("\n| run | items in earlier global tables | puts/s | CPU µs/write | west = acked |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['items_before']:,} | {r['put_s']:,.0f} | {r['cpu_us_per_write']:.0f} | "
              f"{r['west_count']} = {r['acked']}: {r['west_count'] == r['acked'] == r['delivered']} |")


if __name__ == "__main__":
    main()
