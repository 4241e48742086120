#!/usr/bin/env bash
# The bounded soak (docs/performance.md, issue 12): 64 connections of mixed operations
# (mixed.lua) for DURATION seconds against a fresh `dynasim serve`, after the shared kit's
# 100,000-item preload; the server's RSS sampled every 10 s.
#
#   scripts/bench/soak.sh BINARY [DURATION_S] [PORT]
#
# Prints the wrk RESULT line and the RSS samples (seconds since the start, MiB).
set -euo pipefail
binary=$1
duration=${2:-600}
port=${3:-18030}
kit=${BENCH_KIT:-$(cd "$(dirname "$0")/../../../shared/bench" && pwd)}
here=$(cd "$(dirname "$0")" && pwd)
endpoint=http://127.0.0.1:$port

"$binary" serve --listen "127.0.0.1:$port" >/dev/null &
server=$!
trap 'kill $server' EXIT
python3 "$kit/ddbkit.py" wait --endpoint "$endpoint" >/dev/null
python3 "$kit/ddbkit.py" create --endpoint "$endpoint" >/dev/null
python3 "$kit/ddbkit.py" preload --endpoint "$endpoint" >/dev/null
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server/status"; }
echo "after preload: $(rss) MiB"
(
    for ((t = 10; t <= duration; t += 10)); do
        sleep 10
        echo "rss t=${t}s $(rss) MiB"
    done
) &
sampler=$!
timeout $((duration + 60)) wrk -t2 -c64 -d"${duration}s" --timeout 10s -s "$here/mixed.lua" "$endpoint" | grep '^RESULT'
wait $sampler || true
