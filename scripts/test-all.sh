#!/usr/bin/env bash
# The whole test suite, simulator tests included. `.ci/run` calls exactly this.
#
#   1. style: cargo fmt --check, cargo clippy -D warnings
#   2. cargo test for the workspace (unit, property, snapshot, corpus-replay tests)
#   3. the simulator's tests: the workspace rebuilt with --cfg madsim; fails if none ran.
#      A report screenshot test uses headless Chromium (installed here with apt-get).
#      They run every scenario in scenarios/ci over its first seeds, twice each (the digests
#      must match), the teaching scenarios, and every deliberately broken engine variant
#   4. black-box tests through boto3 and the AWS CLI against a running `dynasim serve`, and
#      the hostile-client suite (tests/hostile: raw HTTP, malformed and abusive requests)
#
# Installs what it needs: a Python virtual environment in .venv with the pinned clients.
set -euo pipefail
cd "$(dirname "$0")/.."
# A RUSTFLAGS variable would silently override the simulator's --cfg madsim.
unset RUSTFLAGS

passed=0
failed=0
count_cargo() {
    # Sums "test result: ok. N passed; M failed" lines of a cargo test log.
    local log=$1
    local p f
    p=$( (grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" || true) | awk '{s+=$4} END {print s+0}')
    f=$( (grep -Eo '[0-9]+ failed;' "$log" || true) | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$p"
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

echo "== style"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The simulator's code (deploy.rs, tests/sim_*.rs) only compiles with --cfg madsim.
cargo clippy --workspace --all-targets --quiet --config "build.rustflags=['--cfg','madsim']" -- -D warnings

echo "== cargo test"
cargo test --workspace 2>&1 | tee "$logs/test.log"
count_cargo "$logs/test.log" > /dev/null

# The report screenshot test (sim/tests/sim_report_screenshot.rs) renders a report in headless
# Chromium; Debian's chromium-headless-shell is installed when missing (as root with apt-get).
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing chromium-headless-shell"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends chromium-headless-shell >/dev/null) ||
            echo "warning: could not install chromium-headless-shell" >&2
    fi
fi

echo "== simulator tests (--cfg madsim)"
cargo simtest --workspace 2>&1 | tee "$logs/sim.log"
count_cargo "$logs/sim.log" > /dev/null
# The simulator-only test files are tests/sim_*.rs (`#![cfg(madsim)]`): they must have run.
sim_only=$(awk '/Running tests\/sim_/ {inside=1} inside && /test result:/ {s+=$4; inside=0} END {print s+0}' "$logs/sim.log")
if [ "$sim_only" -eq 0 ]; then
    echo "error: the simulator's tests ran zero tests" >&2
    exit 1
fi
echo "simulator-only tests passed: $sim_only"

echo "== client tests (boto3, AWS CLI) and the hostile-client suite (raw HTTP)"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/clients/requirements.txt
cargo build --bin dynasim
# Wherever cargo puts its builds (CARGO_TARGET_DIR or a config file may move them).
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
# One pytest run per suite: each directory has its own conftest module.
for suite in clients hostile; do
    set +e
    DYNASIM_BIN="$target_dir/debug/dynasim" .venv/bin/python -m pytest -q "tests/$suite" 2>&1 | tee "$logs/$suite.log"
    status=${PIPESTATUS[0]}
    set -e
    suite_passed=$( (grep -Eo '[0-9]+ passed' "$logs/$suite.log" || true) | tail -1 | awk '{print $1+0}')
    suite_failed=$( (grep -Eo '[0-9]+ failed' "$logs/$suite.log" || true) | tail -1 | awk '{print $1+0}')
    passed=$((passed + ${suite_passed:-0}))
    failed=$((failed + ${suite_failed:-0}))
    if [ "$status" -ne 0 ] || [ "${suite_passed:-0}" -eq 0 ]; then
        echo "error: tests/$suite failed (pytest exit $status)" >&2
        failed=$((failed > 0 ? failed : 1))
    fi
done

echo
echo "all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
