"""The benchmark's load generator: latency by status, and open-loop latency counted from the intended send time."""

from __future__ import annotations

import asyncio
import math

from bench.loadgen import LoadResult, run_load

SLOW = 0.02  # seconds the stub takes to answer POST /win


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1 keep-alive stub: /win answers 201 after SLOW seconds, anything else 409 at once."""
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            if b" /win " in head.split(b"\r\n", 1)[0]:
                await asyncio.sleep(SLOW)
                status, body = b"201 Created", b'{"id":"r"}'
            else:
                status, body = b"409 Conflict", b'{"error":"sold_out"}'
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _against_stub(requests: list[bytes], connections: int, rate: float | None) -> LoadResult:
    async def main() -> LoadResult:
        server = await asyncio.start_server(_answer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await run_load("127.0.0.1", port, requests, connections, rate, timeout=10)

    return asyncio.run(main())


def _post(path: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode()


def test_latency_is_kept_per_status() -> None:
    result = _against_stub([_post("/win")] * 5 + [_post("/lose")] * 45, connections=4, rate=None)

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
    result = _against_stub([_post("/win")] * count, connections=1, rate=rate)

    assert result.statuses == {201: count}
    assert result.percentile(100) >= count * SLOW - (count - 1) / rate  # the last one waited behind the others
    assert result.percentile(0) < 2 * SLOW  # the first went out on time
