"""Log lines are one JSON object each with the request's trace id, on stderr; dependency failures are rate-limited."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.exceptions
from pythonjsonlogger.json import JsonFormatter
from reservation.domain.keys import sale_keys
from reservation.http import errors
from reservation.shared.logs import RateLimitedLog, configure_logging
from reservation.store import store

from .conftest import Harness, bearer

TRACE = "Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678"
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lines]:
    """The service's logging configuration, its stderr handler's stream swapped for a buffer; the lines
    written since the last call, parsed (a line that is not one JSON object fails the test)."""
    monkeypatch.setattr(errors, "_dependency_log", RateLimitedLog(errors.log))  # no state from other tests
    root = logging.getLogger()
    level = root.level
    configure_logging()
    [handler] = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    buffer = io.StringIO()
    handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        written = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        parsed = [json.loads(line) for line in written.splitlines()]
        return [line for line in parsed if line["logger"] != "httpx"]  # the test's client

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def _fail_redis(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*_: object) -> None:
        raise redis.exceptions.ConnectionError("Connection reset by peer")

    monkeypatch.setattr(h.runtime.gate, "reserve", fail)


def test_a_hot_path_503_logs_json_with_the_albs_trace_id_and_the_sale(with_app, json_lines: Lines, monkeypatch):
    async def body(h: Harness) -> None:
        sale = (await h.create_sale())["id"]
        json_lines()  # the sale's creation
        _fail_redis(h, monkeypatch)
        headers = {**bearer("alice"), "Idempotency-Key": "k1", "X-Amzn-Trace-Id": TRACE}
        r = await h.client.post(f"/sales/{sale}/reservations", json={"quantity": 1}, headers=headers)
        assert r.status_code == 503 and r.headers["X-Request-Id"] == TRACE
        [line] = json_lines()
        assert line["level"] == "WARNING" and line["logger"] == "reservation.http.errors"
        assert line["message"] == "dependency unavailable: ConnectionError: Connection reset by peer"
        assert line["trace_id"] == TRACE and line["sale_id"] == sale
        stamp = datetime.fromisoformat(line["timestamp"])
        assert stamp.utcoffset() == UTC.utcoffset(None)
        assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60

    with_app(body)


def test_without_the_header_a_generated_id_is_logged_and_echoed(with_app, json_lines: Lines, monkeypatch) -> None:
    """Through Starlette's stack (a read) and on the hot path alike; each request has its own id."""

    async def body(h: Harness) -> None:
        sale = (await h.create_sale())["id"]
        json_lines()

        async def fail(*_: object) -> None:
            raise redis.exceptions.TimeoutError("Timeout reading from socket")

        monkeypatch.setattr(store, "get_reservation", fail)
        _fail_redis(h, monkeypatch)
        read = await h.client.get(f"/reservations/{uuid.uuid4()}", headers=bearer("alice"))
        attempt = await h.reserve(sale, "alice")
        assert read.status_code == attempt.status_code == 503
        ids = [read.headers["X-Request-Id"], attempt.headers["X-Request-Id"]]
        assert len(set(ids)) == 2 and all(len(i) >= 16 for i in ids), ids
        assert [line["trace_id"] for line in json_lines()] == ids

    with_app(body)


def test_an_unexpected_error_is_one_json_line_with_the_traceback_as_a_field(with_app, json_lines: Lines) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale())["id"]
        json_lines()

        async def broken(*_: Any) -> None:
            raise RuntimeError("boom")

        h.runtime.service.reserve = broken  # type: ignore[method-assign]
        headers = {**bearer("alice"), "Idempotency-Key": "k1", "X-Amzn-Trace-Id": TRACE}
        with pytest.raises(RuntimeError):  # the hot path re-raises for the server, as Starlette does
            await h.client.post(f"/sales/{sale}/reservations", json={"quantity": 1}, headers=headers)
        [line] = json_lines()  # the traceback's lines are inside the one JSON line
        assert line["level"] == "ERROR" and line["trace_id"] == TRACE
        assert line["message"] == f"unhandled error on POST /sales/{sale}/reservations"
        assert "Traceback" in line["exc_info"] and "RuntimeError: boom" in line["exc_info"]

    with_app(body)


def test_an_outage_logs_one_line_per_kind_per_interval(with_app, json_lines: Lines, monkeypatch) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=1000, per_user_limit=1000))["id"]
        json_lines()
        _fail_redis(h, monkeypatch)
        statuses = {(await h.reserve(sale, "alice")).status_code for _ in range(50)}
        assert statuses == {503}
        [line] = json_lines()
        assert line["kind"] == "ConnectionError" and line["suppressed"] == 0

    with_app(body)


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limiter_counts_what_it_left_out(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    limited = RateLimitedLog(logging.getLogger("test.limited"), interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.limited"):
        written = [limited.warning("redis", "down %s", n) for n in range(5)]
        assert limited.warning("postgresql", "down")  # another kind has its own interval
        clock.now += 9.9
        assert not limited.warning("redis", "still down")
        clock.now += 0.1
        assert limited.warning("redis", "down again")
        clock.now += 10
        assert limited.warning("redis", "and again")
    assert written == [True, False, False, False, False]
    got = [(r.getMessage(), r.kind, r.suppressed) for r in caplog.records]
    assert got == [
        ("down 0", "redis", 0),
        ("down", "postgresql", 0),
        ("down again", "redis", 5),  # 4 from the burst and the one at +9.9 s
        ("and again", "redis", 0),
    ]


def test_a_level_that_is_off_costs_no_slot(caplog: pytest.LogCaptureFixture) -> None:
    limited = RateLimitedLog(logging.getLogger("test.quiet"), interval=10.0, clock=_Clock())
    with caplog.at_level(logging.ERROR, logger="test.quiet"):
        assert not limited.warning("redis", "hidden")
        assert limited.error("redis", "shown")
    assert [r.suppressed for r in caplog.records] == [0]


def test_the_reapers_failure_for_a_sale_names_it_as_a_field_once_per_interval(with_app, json_lines: Lines) -> None:
    async def body(h: Harness) -> None:
        poisoned = (await h.create_sale())["id"]
        holds = sale_keys(poisoned).holds
        await h.runtime.redis.set(holds, "not a sorted set")  # WRONGTYPE for its scripts
        try:
            json_lines()
            await h.runtime.reaper.tick()
            await h.runtime.reaper.tick()  # the same failure again, within the interval
        finally:
            await h.runtime.redis.delete(holds)  # the app tests share one Redis
        failures = [line for line in json_lines() if line.get("sale_id") == poisoned and line["level"] == "ERROR"]
        assert len(failures) == 1, failures
        [line] = failures
        assert line["logger"] == "reservation.gate.reaper" and line["task"] == "reconcile"
        assert "WRONGTYPE" in line["exc_info"]

    with_app(body)
