"""Only the API on the public port: /metrics, readiness detail and /openapi.json answer on INTERNAL_PORT
alone (issue 16 item 2). In-process for the routes, and `reservation serve` as a real process for the
ports it binds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from reservation.http.openapi import OPENAPI

from bench.run import Config
from bench.run import server as bench_server

from .conftest import JWT_SECRET, Harness

INTERNAL_ONLY = ("/metrics", "/health/ready", "/openapi.json")
RESERVATION = str(Path(sys.executable).parent / "reservation")


def test_public_port_serves_no_internal_route(with_app) -> None:
    async def body(h: Harness) -> None:
        for path in INTERNAL_ONLY:
            r = await h.client.get(path)
            assert r.status_code == 404, (path, r.text)
        assert (await h.client.get("/health/live")).json() == {"status": "ok"}

    with_app(body)


def test_internal_port_serves_them(with_app) -> None:
    async def body(h: Harness) -> None:
        await h.reserve(1, "u")  # any request, so /metrics has a request to count
        metrics = await h.internal.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        assert "http_server_requests_seconds_count" in metrics.text
        assert (await h.internal.get("/openapi.json")).json() == OPENAPI
        ready = await h.internal.get("/health/ready")
        assert ready.json() == {"status": "ok", "checks": {"postgresql": "ok", "redis": "ok"}}
        assert (await h.internal.get("/health/live")).json() == {"status": "ok"}
        assert (await h.internal.get("/sales/1/availability")).status_code == 404  # the API is public only

    with_app(body)


def test_failed_readiness_detail_stays_internal(with_app) -> None:
    async def body(h: Harness) -> None:
        async def broken() -> None:
            raise ConnectionError("redis-secret-host:6379 refused")

        h.client._transport.app.state.readiness.add("cache", broken)
        internal = await h.internal.get("/health/ready")
        assert internal.status_code == 503 and "redis-secret-host" in internal.json()["checks"]["cache"]
        public = await h.client.get("/health/ready")
        assert public.status_code == 404 and "redis-secret-host" not in public.text

    with_app(body)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check: Callable[[], bool], what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited ({proc.returncode}) before {what}: {proc.communicate()[1].decode()[-2000:]}")
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_serve_binds_the_internal_port_in_every_worker(migrated: str, redis_url: str) -> None:
    """Two uvicorn workers share PORT and INTERNAL_PORT (SO_REUSEPORT); neither serves the other's routes."""
    port, internal = _free_port(), _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": migrated,
        "REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
        "PORT": str(port),
        "INTERNAL_PORT": str(internal),
    }
    proc = subprocess.Popen([RESERVATION, "serve", "--workers", "2"], env=env, stderr=subprocess.PIPE)
    public_url, internal_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal}"
    try:
        _wait_for(lambda: httpx.get(f"{public_url}/health/live").status_code == 200, "the public port", proc)
        _wait_for(lambda: httpx.get(f"{internal_url}/health/ready").status_code == 200, "the internal port", proc)
        for path in INTERNAL_ONLY:
            assert httpx.get(f"{public_url}{path}").status_code == 404, path
            assert httpx.get(f"{internal_url}{path}").status_code == 200, path
    finally:
        proc.terminate()
        stderr = proc.communicate(timeout=30)[1].decode()
    # A worker that could not bind INTERNAL_PORT fails its startup (uvicorn starts another, which fails too).
    assert "startup failed" not in stderr.lower(), stderr[-2000:]


def test_the_benchmark_starts_the_server_and_finds_it_ready(migrated: str, redis_url: str, tmp_path) -> None:
    """`make bench` waits for readiness, which only the internal port serves."""
    config = Config("uvicorn", True, "single", 10, 10, 10, 1, 5.0, "postgresql://unused")
    with (
        bench_server(config, migrated, redis_url, str(tmp_path)) as (port, _pid),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=5) as live,
    ):
        assert live.status == 200
