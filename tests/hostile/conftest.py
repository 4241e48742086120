"""The endpoint against hostile and careless clients (issue 12): raw HTTP over loopback.

Each test starts from a server holding a table with one known item, sends what a hostile or
careless client sends, asserts the exact answer, and then (the autouse fixture `intact`) that
the server still answers a normal request with the item unchanged. Tests that need a server
started with particular options or limits start their own; with DYNASIM_ENDPOINT set, only the
tests that need no such server run.
"""
import os

import pytest

import wire


@pytest.fixture(scope="session")
def port():
    given = os.environ.get("DYNASIM_ENDPOINT")
    if given:
        yield int(given.rsplit(":", 1)[1].strip("/"))
        return
    process, port = wire.launch()
    wire.seed(port)
    yield port
    wire.stop(process)


@pytest.fixture(autouse=True)
def intact(port):
    """After every test: a normal request is served, and the seeded item is unchanged."""
    yield
    wire.assert_intact(port)
