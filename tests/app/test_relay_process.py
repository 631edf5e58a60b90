"""`reservation relay` as a real process: health endpoints, SIGTERM shutdown, restart after a kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.relay_support import (
    assert_in_id_order_per_key,
    insert_outbox,
    mock_kafka,
    pg_database,
    read_topic,
    unpublished_ids,
)

RESERVATION = str(Path(sys.executable).parent / "reservation")
TOPIC = "proc.orders"


@pytest.fixture
def db() -> Iterator[str]:
    with pg_database("relayproc") as url:
        yield url


@pytest.fixture
def kafka() -> Iterator[str]:
    with mock_kafka() as bootstrap:
        yield bootstrap


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_relay(db: str, kafka: str, health_port: int, batch_size: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": db,
        "REDIS_URL": "redis://127.0.0.1:1/0",  # required by the shared settings; the relay never uses it
        "JWT_SECRET": "relay-test-secret-relay-test-secret-0123",
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_TOPIC_PREFIX": "proc.",
        "RELAY_BATCH_SIZE": str(batch_size),
        "RELAY_POLL_INTERVAL_MS": "20",
        "RELAY_HEALTH_PORT": str(health_port),
    }
    return subprocess.Popen([RESERVATION, "relay"], env=env, stderr=subprocess.PIPE)


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _published(db: str, total: int) -> int:
    return total - len(asyncio.run(unpublished_ids(db)))


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float = 15) -> tuple[int, str]:
    proc.send_signal(sig)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        pytest.fail(f"relay did not exit within {timeout}s of {sig.name}:\n{stderr.decode()[-2000:]}")
    return proc.returncode, stderr.decode()


def _orders(n: int, sales: int) -> list[tuple[str, str, str]]:
    return [("orders", f"sale-{i % sales}", json.dumps({"seq": i})) for i in range(n)]


def test_sigterm_finishes_the_batch_marks_acknowledged_rows_and_exits_0(db, kafka):
    ids = asyncio.run(insert_outbox(db, _orders(1500, sales=7)))
    port = _free_port()
    # Batches of one row: the relay is still busy when the signal arrives.
    relay = _start_relay(db, kafka, port, batch_size=1)
    try:
        _wait_until(lambda: _ready(port), 20, "/health/ready")
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").json() == {"status": "ok"}
        checks = httpx.get(f"http://127.0.0.1:{port}/health/ready").json()["checks"]
        assert checks == {"postgres": "ok", "kafka": "ok"}
        probe = {"PATH": os.environ["PATH"], "PORT": str(_free_port()), "RELAY_HEALTH_PORT": str(port)}
        healthcheck = subprocess.run([sys.executable, "-m", "reservation.healthcheck"], env=probe, check=False)
        assert healthcheck.returncode == 0, "the image's HEALTHCHECK passes against the relay"
        _wait_until(lambda: _published(db, len(ids)) >= 20, 20, "the first rows to be published")
    finally:
        returncode, stderr = _stop(relay, signal.SIGTERM)

    assert returncode == 0, stderr[-2000:]
    assert "relay stopped" in stderr
    marked = len(ids) - len(asyncio.run(unpublished_ids(db)))
    assert 0 < marked < len(ids), "the signal should have arrived mid-run"
    in_kafka = [m.outbox_id for m in read_topic(kafka, TOPIC)]
    # Clean shutdown: everything Kafka acknowledged was marked, nothing was sent twice or left unmarked.
    assert sorted(in_kafka) == ids[:marked]

    # A new relay picks up exactly where the old one stopped.
    relay = _start_relay(db, kafka, _free_port(), batch_size=200)
    try:
        _wait_until(lambda: not asyncio.run(unpublished_ids(db)), 30, "the rest of the outbox")
    finally:
        returncode, stderr = _stop(relay, signal.SIGTERM)
    assert returncode == 0, stderr[-2000:]
    messages = read_topic(kafka, TOPIC)
    assert sorted(m.outbox_id for m in messages) == ids, "every row exactly once across the restart"
    assert_in_id_order_per_key(messages)


def test_a_relay_killed_mid_run_loses_nothing_and_repeats_at_most_one_batch(db, kafka):
    batch_size = 10
    ids = asyncio.run(insert_outbox(db, _orders(2000, sales=5)))
    relay = _start_relay(db, kafka, _free_port(), batch_size=batch_size)
    try:
        _wait_until(lambda: _published(db, len(ids)) >= 200, 30, "rows to be published")
    finally:
        _stop(relay, signal.SIGKILL)
    assert asyncio.run(unpublished_ids(db)), "the kill should have arrived mid-run"

    relay = _start_relay(db, kafka, _free_port(), batch_size=500)
    try:
        _wait_until(lambda: not asyncio.run(unpublished_ids(db)), 30, "the rest of the outbox")
    finally:
        _stop(relay, signal.SIGTERM)

    messages = read_topic(kafka, TOPIC)
    counts = Counter(m.outbox_id for m in messages)
    assert sorted(counts) == ids, "no row lost"
    repeated = [i for i, n in counts.items() if n > 1]
    # At least once: only the batch in flight at the kill (acknowledged, not yet committed) can repeat.
    assert len(repeated) <= batch_size and all(counts[i] == 2 for i in repeated), repeated
    assert_in_id_order_per_key(messages)
