"""An open-loop phase of `make bench` measures the service, not the load generator's connection count.

With one request in flight per connection, C connections answered in L seconds carry at most C / L
requests/s: past that, requests due wait in the generator and a probe fails on the generator's queue.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator

import pytest

from bench.loadgen import OPEN_LOOP_WINDOW, open_loop_connections
from bench.run import Config, _load
from tests.bench.http_stub import SLOW, answer, post


@pytest.fixture
def stub_port() -> Iterator[int]:
    """The stub serving from its own thread: `_load` runs its own event loop."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(answer, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def _config(connections: int) -> Config:
    return Config("uvicorn", True, "single", units=10, buyers=10, attempts=100, connections=connections,
                  phase_timeout=10, admin_url="")  # fmt: skip


def test_connections_cover_the_window_at_the_offered_rate() -> None:
    assert open_loop_connections(10_000, 128) == 1_000  # 10,000/s x 100 ms in flight
    assert open_loop_connections(1_000, 128) == 128  # never fewer than the closed loop's
    assert open_loop_connections(10_001, 128) == 1_001  # rounded up


def test_an_open_loop_phase_is_not_throttled_by_the_closed_loop_connections(stub_port: int) -> None:
    # 4 connections answered in 20 ms carry 200/s: 200 requests offered at 1,000/s would queue in the
    # generator, the last ones for ~0.8 s. The stub answers every request in 20 ms, so the phase must too
    # (give or take the scheduling of a busy machine: the stub shares this process).
    rate = 1_000.0
    assert rate * SLOW < open_loop_connections(rate, 4) and rate > 4 / SLOW
    result, _ = _load(stub_port, os.getpid(), [post("/win")] * 200, _config(4), rate)

    assert result.statuses == {201: 200}
    assert result.percentile(99) < 3 * OPEN_LOOP_WINDOW  # 0.3 s: far below the generator's own queue


def test_a_closed_loop_phase_keeps_its_connections(stub_port: int) -> None:
    result, _ = _load(stub_port, os.getpid(), [post("/win")] * 40, _config(4), None)

    assert result.statuses == {201: 40}
    assert result.percentile(50) >= SLOW
    assert result.rate <= 4 / SLOW  # four in flight at a time, each held for SLOW
