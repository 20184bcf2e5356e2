from __future__ import annotations

import pytest

from mcpsite.liveserver import LiveServer


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> LiveServer:
    """The product on the embedded default, read-only, as `make run` serves it."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def writable(tmp_path_factory) -> LiveServer:
    """A second server with READ_ONLY_MODE=false."""
    server = LiveServer(tmp_path_factory.mktemp("writable"), env={"READ_ONLY_MODE": "false"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token(live) -> str:
    return live.token()
