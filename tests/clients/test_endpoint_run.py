"""`dynasim run SCENARIO --endpoint URL`: the simulator's workloads as real concurrent clients of
`dynasim serve --profile` with replica lag and throttling on, their histories checked by the
simulator's checkers. Every CI scenario must pass (strongly consistent reads linearizable,
counters and conditional writes exact, even though eventually consistent reads go to lagging
replicas), and every teaching scenario must show the anomaly it teaches: the lost update of an
unconditional read-modify-write is caught against the real server, stale reads and throttling
are observed.
"""
import os
import subprocess

import pytest

from conftest import ROOT, launch, stop

PROFILE = os.path.join(ROOT, "scenarios", "profiles", "ci-stale-and-throttled.toml")


def dynasim():
    return os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))


@pytest.fixture(scope="module")
def realistic_endpoint():
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("starts its own server with a profile")
    process, url = launch("--profile", PROFILE, "--seed", "11")
    yield url
    stop(process)


def run_against(url, target, duration_ms=1500, *extra):
    result = subprocess.run(
        [dynasim(), "run", target, "--endpoint", url, "--duration-ms", str(duration_ms), "--seed", "5",
         *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def test_ci_scenarios_pass_against_serve_with_lag_and_throttling(realistic_endpoint):
    # --settle-ms: the indexes scenario's final index is compared with its table, too.
    code, output = run_against(realistic_endpoint, "scenarios/ci", 1500, "--settle-ms", "500")
    assert code == 0, output
    verdicts = [line for line in output.splitlines() if line.startswith(("passed", "FAILED", "skipped"))]
    assert len(verdicts) == len(os.listdir(os.path.join(ROOT, "scenarios", "ci"))), output
    # Only the global-tables scenarios are skipped: they need the regions' stamped versions.
    skipped = sorted(l.split()[1] for l in verdicts if l.startswith("skipped"))
    assert skipped == ["global-tables", "global-tables-strong"], output
    # The lag is real: eventually consistent reads were seen stale, and that is no violation.
    assert "observation stale-read" in output, output
    assert "VIOLATION" not in output, output


def test_teaching_scenarios_show_their_anomaly_against_serve(realistic_endpoint):
    code, output = run_against(realistic_endpoint, "scenarios/teaching")
    assert code == 0, output
    assert "expected anomalies shown: lost-update" in output, output
    assert "expected anomalies shown: stale-read" in output, output
    assert "expected anomalies shown: throttled" in output, output
    # The profile's commit spread: a GetItem reads one item of a transaction committed and,
    # after it, another not yet (serializable, not strictly serializable).
    assert "expected anomalies shown: G-single-realtime" in output, output


def test_a_bad_endpoint_is_a_clear_error():
    code, output = run_against("http://127.0.0.1:1", "scenarios/ci/registers-under-faults.toml", 200)
    assert code == 2, output
    assert "CreateTable" in output, output
    code, output = run_against("https://example.com", "scenarios/ci/registers-under-faults.toml", 200)
    assert code == 2 and "only http:// endpoints" in output, output


def test_the_index_checker_sees_an_index_that_has_not_caught_up(tmp_path):
    """Against `serve` whose GSIs lag 5 s: read at once after the clients stop (well inside
    the lag of the last writes), the final index differs from the table (index-diverged); read
    after the lag, it is the table's."""
    if os.environ.get("DYNASIM_ENDPOINT"):
        pytest.skip("starts its own server with a profile")
    profile = tmp_path / "gsi-lag.toml"
    profile.write_text("[defaults]\ngsi_lag_ms = [5000, 5000]\n")
    process, url = launch("--profile", str(profile), "--seed", "3")
    try:
        code, output = run_against(url, "scenarios/ci/indexes.toml", 1000, "--settle-ms", "0")
        assert code == 1 and "VIOLATION index-diverged" in output, output
        code, output = run_against(url, "scenarios/ci/indexes.toml", 1000, "--settle-ms", "5500")
        assert code == 0, output
        assert "VIOLATION" not in output, output
    finally:
        stop(process)
