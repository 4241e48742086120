#!/usr/bin/env bash
# One client's small GetItems beside large requests (docs/performance.md, issue 12): p50 and
# p99 of `wrk -t1 -c4` GetItem (the shared kit's get.lua) alone, beside one client sending
# 15 MiB bodies, beside one sending them gzip-compressed, and beside two scanning in 1 MB pages.
#
#   scripts/bench/stall.sh BINARY [PORT]
#
# Needs wrk and the shared load kit (BENCH_KIT, default ../shared/bench).
set -euo pipefail
binary=$1
port=${2:-18020}
kit=${BENCH_KIT:-$(cd "$(dirname "$0")/../../../shared/bench" && pwd)}
here=$(cd "$(dirname "$0")" && pwd)
endpoint=http://127.0.0.1:$port
seconds=${SECONDS_PER_CELL:-10}

"$binary" serve --listen "127.0.0.1:$port" >/dev/null &
server=$!
trap 'kill $server' EXIT
python3 "$kit/ddbkit.py" wait --endpoint "$endpoint" >/dev/null
python3 "$kit/ddbkit.py" create --endpoint "$endpoint" >/dev/null
python3 "$kit/ddbkit.py" preload --endpoint "$endpoint" --partitions 200 >/dev/null

cell() {
    local label=$1 mode=$2 clients=$3
    if [ "$mode" != none ]; then
        python3 "$here/heavy.py" "$endpoint" "$mode" "$((seconds + 2))" "$clients" &
        local heavy=$!
        sleep 1
    fi
    local result
    result=$(BENCH_PARTITIONS=200 wrk -t1 -c4 -d"${seconds}s" --latency -s "$kit/get.lua" "$endpoint" | grep '^RESULT')
    echo "$label: $(echo "$result" | grep -Eo 'rps=[0-9.]+|p50_ms=[0-9.]+|p99_ms=[0-9.]+|max_ms=[0-9.]+|non200=[0-9]+' | tr '\n' ' ')"
    if [ "$mode" != none ]; then
        wait "$heavy"
    fi
}

cell "get alone" none 0
cell "get beside 15 MiB bodies" body 1
cell "get beside 15 MiB gzip bodies" gzip 1
cell "get beside two 1 MB Scan loops" scan 2
echo "RSS: $(python3 "$kit/ddbkit.py" rss $server)"
