"""The benchmark's load generator: latency by status, and open-loop latency counted from the intended send time."""

from __future__ import annotations

import asyncio
import math

from bench.loadgen import LoadResult, run_load
from tests.bench.http_stub import SLOW, answer, post


def _against_stub(requests: list[bytes], connections: int, rate: float | None) -> LoadResult:
    async def main() -> LoadResult:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await run_load("127.0.0.1", port, requests, connections, rate, timeout=10)

    return asyncio.run(main())


def test_latency_is_kept_per_status() -> None:
    result = _against_stub([post("/win")] * 5 + [post("/lose")] * 45, connections=4, rate=None)

    assert not result.timed_out
    assert result.completed == result.sent == 50
    assert result.statuses == {201: 5, 409: 45}
    assert result.percentile(50, 201) >= SLOW
    assert result.percentile(99, 409) < SLOW  # the slow winners do not leak into the refusals' figure
    assert result.percentile(100) == result.percentile(100, 201)  # the overall figure includes both
    assert math.isnan(result.percentile(99, 500))


def test_open_loop_counts_from_the_intended_send_time() -> None:
    # One connection, a request due every 5 ms, each answered in 20 ms: the backlog grows by 15 ms per
    # request. A generator that timed from the actual send would report ~20 ms for every request.
    rate, count = 200.0, 10
    result = _against_stub([post("/win")] * count, connections=1, rate=rate)

    assert result.statuses == {201: count}
    assert result.percentile(100) >= count * SLOW - (count - 1) / rate  # the last one waited behind the others
    assert result.percentile(0) < 2 * SLOW  # the first went out on time
