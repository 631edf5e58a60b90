"""A lean HTTP/1.1 keep-alive load generator on asyncio protocols (uvloop): one request in flight per
connection, pre-built request bytes, minimal response parsing. Closed loop (as fast as answers come) or
open loop at a fixed rate, where latency counts from the intended send time (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

# An open loop must not be throttled by its own connections (one request in flight on each): requests due
# while every connection is busy wait in the generator, not in the service. R requests/s answered in L
# seconds keep R x L in flight, so connections for R x this window keep the generator out of the way
# until latency passes the window: twice the capacity search's 50 ms target, where a probe fails anyway.
OPEN_LOOP_WINDOW = 0.100  # seconds

_HEADER_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"content-length:"


@dataclass(frozen=True, slots=True)
class LoadResult:
    sent: int
    completed: int
    seconds: float
    # seconds, per completed request, by HTTP status: a sale's few winners (201) wait for a commit that its
    # many refusals (409) never make, so one percentile over both hides which of them is slow
    latencies: dict[int, list[float]]
    cpu_seconds: float  # this process's CPU time during the run: shows whether the generator was the limit
    timed_out: bool

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    @property
    def statuses(self) -> Counter[int]:
        return Counter({status: len(values) for status, values in self.latencies.items()})

    def percentile(self, p: float, status: int | None = None) -> float:
        """Over every completed request, or only those answered with `status`; NaN when there are none."""
        if status is None:
            ordered = sorted(x for values in self.latencies.values() for x in values)
        else:
            ordered = sorted(self.latencies.get(status, ()))
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def open_loop_connections(rate: float, floor: int) -> int:
    """Connections for an open loop at `rate` requests/s: `floor`, or enough for OPEN_LOOP_WINDOW in flight."""
    return max(floor, math.ceil(rate * OPEN_LOOP_WINDOW))


class _Conn(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.started = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports do not subclass asyncio's

    def send(self, request: bytes, started: float) -> None:
        assert self.transport is not None
        self.started = started
        self.busy = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(_HEADER_END)
        if end < 0:
            return
        head = self.buf[:end].lower()
        at = head.find(_CONTENT_LENGTH)
        length = 0
        if at >= 0:
            line_end = head.find(b"\r\n", at)
            length = int(head[at + len(_CONTENT_LENGTH) : line_end if line_end >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(self.buf[9:12])
        self.buf = self.buf[total:]
        self.busy = False
        self.run.done(self, status, time.perf_counter() - self.started)

    def connection_lost(self, exc: Exception | None) -> None:
        self.run.lost(self)


class _Run:
    def __init__(self, requests: Sequence[bytes], rate: float | None) -> None:
        self.requests = requests
        self.rate = rate
        self.next = 0
        self.completed = 0
        self.latencies: dict[int, list[float]] = {}
        self.idle: list[_Conn] = []
        self.backlog: deque[float] = deque()  # intended send times not yet sent (open loop)
        self.finished = asyncio.get_running_loop().create_future()
        self.t0 = 0.0

    def dispatch(self, conn: _Conn, started: float) -> None:
        request = self.requests[self.next]
        self.next += 1
        conn.send(request, started)

    def done(self, conn: _Conn, status: int, latency: float) -> None:
        self.completed += 1
        self.latencies.setdefault(status, []).append(latency)
        if self.completed == len(self.requests):
            if not self.finished.done():
                self.finished.set_result(None)
            return
        if self.rate is None:
            if self.next < len(self.requests):
                self.dispatch(conn, time.perf_counter())
        elif self.backlog:
            self.dispatch(conn, self.backlog.popleft())
        else:
            self.idle.append(conn)

    def lost(self, conn: _Conn) -> None:
        if conn in self.idle:
            self.idle.remove(conn)  # an idle keep-alive connection timed out: fine, there are others
        elif conn.busy and not self.finished.done():
            self.finished.set_exception(ConnectionError("server closed a connection with a request in flight"))

    def pace(self) -> None:
        """Open loop: release every request whose intended time has come."""
        assert self.rate is not None
        loop = asyncio.get_running_loop()
        now = time.perf_counter()
        due = min(len(self.requests), int((now - self.t0) * self.rate) + 1)
        while self.next + len(self.backlog) < due:
            intended = self.t0 + (self.next + len(self.backlog)) / self.rate
            if self.idle and not self.backlog:
                self.dispatch(self.idle.pop(), intended)
            else:
                self.backlog.append(intended)
        if self.next + len(self.backlog) < len(self.requests):
            loop.call_later(0.001, self.pace)  # uvloop timers have 1 ms resolution; less would spin


async def run_load(
    host: str, port: int, requests: Sequence[bytes], connections: int, rate: float | None, timeout: float
) -> LoadResult:
    """Send every request once over `connections` keep-alive connections; rate None = closed loop."""
    loop = asyncio.get_running_loop()
    run = _Run(requests, rate)
    conns = []
    for _ in range(connections):
        transport, conn = await loop.create_connection(lambda: _Conn(run), host, port)
        conn.transport = transport  # uvloop may call connection_made only on the next tick
        conns.append(conn)
    cpu0, t0 = time.process_time(), time.perf_counter()
    run.t0 = t0
    if rate is None:
        for conn in conns[: len(requests)]:
            run.dispatch(conn, time.perf_counter())
    else:
        run.idle = list(conns)
        run.pace()
    timed_out = False
    try:
        await asyncio.wait_for(asyncio.shield(run.finished), timeout)
    except TimeoutError:
        timed_out = True
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    for conn in conns:
        if conn.transport:
            conn.transport.close()
    return LoadResult(run.next, run.completed, seconds, run.latencies, cpu, timed_out)
