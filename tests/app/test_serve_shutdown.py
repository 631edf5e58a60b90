"""`reservation serve` as a real process: SIGTERM lets the request in flight finish, then exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from reservation.store.store import SALE_LOCK_NS

from .conftest import ADMIN, JWT_SECRET, bearer, sale_body

RESERVATION = str(Path(sys.executable).parent / "reservation")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _live(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/live", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


async def _lock_waiters(conn: asyncpg.Connection) -> int:
    # Only this test's database: other sessions on the shared server may wait on advisory locks of their own.
    query = """SELECT count(*) FROM pg_locks
               WHERE locktype = 'advisory' AND NOT granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
    return await conn.fetchval(query)


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_sigterm_drains_the_request_in_flight_and_exits_0(server: str, migrated: str, redis_url: str):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": migrated,
        "REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
        "PORT": str(port),
        "INTERNAL_PORT": str(_free_port()),
    }
    proc = subprocess.Popen([RESERVATION, "serve", "--server", server], env=env, stderr=subprocess.PIPE)
    try:
        _wait_until(lambda: _live(base), 20, "the server to answer /health/live")
        sale = httpx.post(f"{base}/admin/sales", headers=ADMIN, json=sale_body(total_stock=5, per_user_limit=1)).json()

        async def drain() -> tuple[int, int]:
            # Hold the sale's exclusive lock (as a Redis rebuild does) so the reservation's commit waits.
            conn = await asyncpg.connect(migrated)
            try:
                tx = conn.transaction()
                await tx.start()
                await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", SALE_LOCK_NS, sale["id"])
                response: list[httpx.Response] = []
                headers = {**bearer("drain-user"), "Idempotency-Key": "drain-1"}
                request = threading.Thread(
                    target=lambda: response.append(
                        httpx.post(f"{base}/sales/{sale['id']}/reservations", json={"quantity": 1}, headers=headers)
                    )
                )
                request.start()
                while not await _lock_waiters(conn):  # the request is now in flight, waiting on the lock
                    await asyncio.sleep(0.02)
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(1.0)
                assert proc.poll() is None, "the server exited with a request still in flight"
                await tx.rollback()  # let the request finish
                await asyncio.to_thread(request.join, 15)
                return response[0].status_code, await asyncio.to_thread(proc.wait, 20)
            finally:
                await conn.close()

        status, returncode = asyncio.run(drain())
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.communicate()[1].decode()

    assert status == 201, stderr[-2000:]
    assert returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
