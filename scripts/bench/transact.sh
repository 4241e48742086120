#!/usr/bin/env bash
# TransactWriteItems in the shared bench kit (docs/performance.md, "TransactWriteItems in the
# bench kit"): copies the kit ($KIT, default ../shared/bench beside the repository, else
# /work/shared/bench) to a temporary folder, adds transact.lua, and runs the kit's peers.sh on
# that copy with OPS="transact update" (update: the single-item UpdateItem for comparison), for
# each server named (default: dynasim dynoxide), then summarize.py over all of them. The kit
# itself is not modified.
#
#   scripts/bench/transact.sh [dynasim] [dynoxide]
#
# dynasim runs as the kit's `custom` peer: START_CMD="$BIN serve --listen 127.0.0.1:$PORT",
# BIN default $CARGO_TARGET_DIR/release/dynasim (else target/release/dynasim), PORT 18010.
# dynoxide is the kit's own peer ($PEERS_DIR/dynoxide/bin/dynoxide, installed by the kit's
# install-peers.sh). CHECK=1 (default) first runs txncheck.py against a fresh server of each
# kind (a missing-key ConditionCheck must cancel; the counters must rise by 9 per 200 answer).
# Everything else (DURATION, CONCS, REPEATS, PARTITIONS, PER_PART, OUTROOT, ...) goes through
# to the kit's run-peers.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${KIT:-}" ]; then
  KIT=$root/../shared/bench
  [ -f "$KIT/run-peers.sh" ] || KIT=/work/shared/bench
fi
KIT=$(cd "$KIT" && pwd) || exit 2
BIN=${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/dynasim}
PEERS_DIR=${PEERS_DIR:-$HOME/.cache/dynasim-peers}
export OPS=${OPS:-"transact update"}
export OUTROOT=${OUTROOT:-$PWD/bench-results}
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(dynasim dynoxide)

tmp=$(mktemp -d /tmp/bench-kit-txn.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp -r "$KIT"/. "$tmp"/
cp "$here/transact.lua" "$tmp/transact.lua"
echo "kit $KIT copied to $tmp (+ transact.lua); OPS=[$OPS] out=$OUTROOT"

start_cmd() { # name port -> the command line that serves on 127.0.0.1:port
  case $1 in
    dynasim) echo "$BIN serve --listen 127.0.0.1:$2" ;;
    dynoxide) echo "$PEERS_DIR/dynoxide/bin/dynoxide serve --host 127.0.0.1 --port $2 --log quiet" ;;
  esac
}

check() { # name: txncheck.py against a fresh server on port 18019
  local cmd pid rc
  cmd=$(start_cmd "$1" 18019)
  bash -c "exec $cmd" > "$tmp/check-$1.log" 2>&1 &
  pid=$!
  "${PYTHON:-python3}" "$tmp/ddbkit.py" wait --endpoint http://127.0.0.1:18019 --timeout 60 >/dev/null
  "${PYTHON:-python3}" "$here/txncheck.py" "$tmp" http://127.0.0.1:18019 | sed "s/^/[check $1] /"
  rc=${PIPESTATUS[0]}
  kill "$pid"; wait "$pid" 2>/dev/null
  return "$rc"
}

dirs=()
stamp=$(date +%Y%m%d-%H%M%S)
for s in "${servers[@]}"; do
  case $s in
    dynasim) [ -x "$BIN" ] || { echo "no dynasim binary at $BIN (cargo build --release -p dynasim)"; continue; } ;;
    dynoxide) [ -x "$PEERS_DIR/dynoxide/bin/dynoxide" ] || { echo "dynoxide not installed under $PEERS_DIR (the kit's install-peers.sh)"; continue; } ;;
    *) echo "unknown server $s (dynasim, dynoxide)"; continue ;;
  esac
  if [ "${CHECK:-1}" = 1 ]; then check "$s" || echo "[check $s] FAILED"; fi
  out=$OUTROOT/$s-txn-$stamp
  if [ "$s" = dynasim ]; then
    OUTDIR=$out LABEL=dynasim PORT=${PORT:-18010} START_CMD="$(start_cmd dynasim "${PORT:-18010}")" \
      "$tmp/peers.sh" custom
  else
    OUTDIR=$out LABEL=dynoxide "$tmp/peers.sh" dynoxide
  fi
  dirs+=("$out")
done
[ ${#dirs[@]} -gt 0 ] && "${PYTHON:-python3}" "$tmp/summarize.py" "${dirs[@]}" | tee "$OUTROOT/txn-summary-$stamp.md"
