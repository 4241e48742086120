"""The `dynasim serve` process itself: startup line, graceful shutdown, bind errors."""
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, _free_port

BINARY = os.environ.get("DYNASIM_BIN", os.path.join(ROOT, "target", "debug", "dynasim"))
pytestmark = pytest.mark.skipif(bool(os.environ.get("DYNASIM_ENDPOINT")), reason="tests the dynasim binary itself")


def start(port):
    process = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_graceful_shutdown(stop):
    port = _free_port()
    process = start(port)
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/").status == 200
    process.send_signal(stop)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert output.startswith("dynasim ") and f"http://127.0.0.1:{port}" in output.splitlines()[0]
    assert "shutting down" in output


def test_address_in_use_is_a_clean_error():
    port = _free_port()
    first = start(port)
    try:
        second = subprocess.run([BINARY, "serve", "--listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=20)
        assert second.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=20)
