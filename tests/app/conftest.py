"""Isolated services for the app tests: a fresh PostgreSQL database and a private redis-server per session.

Teammates run tests on this machine at the same time, so nothing here touches the shared Redis on :6379
or another session's database. Missing services fail the tests with a clear message; they never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from reservation.http.app import Runtime, create_app
from reservation.shared.settings import Command, Settings, load_settings
from reservation.store.migrate import migrate

from devservers.redis_servers import RedisServerError, redis_cluster, single_redis
from tests.app.relay_support import mock_kafka

ADMIN_URL = os.environ.get("FLASHSALE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
JWT_SECRET = "test-secret-test-secret-test-secret-0123456789"


def _fail(message: str) -> None:
    pytest.fail(f"{message}\nStart local services with `make services` (see scripts/ensure-services.sh).", False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"flashsale_t_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        _fail(f"PostgreSQL at {ADMIN_URL} is not usable: {exc}")
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    asyncio.run(migrate(database_url))
    return database_url


@pytest.fixture
def db(database_url: str) -> str:
    """The module's database (the relay tests make their own `database_url`) with an empty outbox."""

    async def truncate() -> None:
        conn = await asyncpg.connect(database_url)
        await conn.execute("TRUNCATE outbox RESTART IDENTITY")
        await conn.close()

    asyncio.run(truncate())
    return database_url


@pytest.fixture
def kafka() -> Iterator[str]:
    """librdkafka's mock cluster: its bootstrap servers."""
    with mock_kafka() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        with single_redis() as url:
            yield url
    except RedisServerError as exc:
        _fail(str(exc))


@pytest.fixture(scope="session")
def settings(migrated: str, redis_url: str) -> Settings:
    env = {"DATABASE_URL": migrated, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET}
    # Port 0: each app's internal server binds a free port (app.state.internal_port), so tests never collide.
    return dataclasses.replace(load_settings(env, command=Command.SERVE), internal_port=0)


def token(sub: str, *, admin: bool = False, ttl: int = 3600) -> str:
    claims: dict[str, Any] = {"sub": sub, "exp": int(time.time()) + ttl}
    if admin:
        claims["role"] = "admin"
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def bearer(sub: str, *, admin: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, admin=admin)}"}


ADMIN = bearer("admin-1", admin=True)
# Tests drive one buyer far faster than a person could: their sales lift the per-buyer attempt bucket unless
# the test is about it (test_attempt_bucket.py), so what they measure is the gate's stock and limits.
LIFTED_BUCKET = {"attempts_per_second": 1000, "attempt_burst": 1000}


def sale_body(**overrides: Any) -> dict[str, Any]:
    """A POST /admin/sales body for a sale open now; without a bucket unless `overrides` gives one (the
    default applies)."""
    now = datetime.now(UTC)
    return {
        "name": "Test sale",
        "sku": "SKU-1",
        "total_stock": 10,
        "per_user_limit": 2,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "hold_seconds": 300,
        **overrides,
    }


@dataclass
class Harness:
    """The real app in-process (ASGI) with its lifespan running; the reaper is driven by the test.
    `client` is the public port (what the ALB forwards to), `internal` the real INTERNAL_PORT server."""

    client: httpx.AsyncClient
    internal: httpx.AsyncClient
    runtime: Runtime
    redis_url: str

    async def create_sale(self, **overrides: Any) -> dict[str, Any]:
        r = await self.client.post("/admin/sales", json=sale_body(**{**LIFTED_BUCKET, **overrides}), headers=ADMIN)
        assert r.status_code == 201, r.text
        return r.json()

    async def reserve(self, sale_id: int, user: str, quantity: int = 1, key: str | None = None) -> httpx.Response:
        headers = {**bearer(user), "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.client.post(f"/sales/{sale_id}/reservations", json={"quantity": quantity}, headers=headers)

    async def counters(self, sale_id: int) -> dict[str, Any]:
        r = await self.client.get(f"/admin/sales/{sale_id}/counters", headers=ADMIN)
        assert r.status_code == 200, r.text
        return r.json()

    async def flush_redis(self) -> None:
        await self.runtime.redis.flushall()  # our private redis-server, never the shared one


@contextlib.asynccontextmanager
async def harness(settings: Settings, redis_url: str, **options: Any) -> AsyncIterator[Harness]:
    app = create_app(settings, **{"background": False, **options})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        internal_url = f"http://127.0.0.1:{app.state.internal_port}"
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://app", timeout=30) as client,
            httpx.AsyncClient(base_url=internal_url, timeout=30) as internal,
        ):
            yield Harness(client, internal, app.state.runtime, redis_url)


def check_invariant(c: dict[str, Any]) -> None:
    """initial = remaining + held + confirmed, in PostgreSQL and in the Redis gate, and they agree."""
    assert c["initial"] == c["remaining"] + c["held"] + c["confirmed"], c
    gate = c["gate"]
    assert gate is not None, c
    assert gate["initial"] == gate["remaining"] + gate["held"] + gate["confirmed"], c
    assert {k: gate[k] for k in ("remaining", "held", "confirmed")} == {
        k: c[k] for k in ("remaining", "held", "confirmed")
    }, c


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private 3-node Redis Cluster, started only if a test asks for cluster mode."""
    try:
        with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
            yield url
    except RedisServerError as exc:
        _fail(str(exc))


@pytest.fixture
def redis_mode() -> str:
    """Override with @pytest.mark.parametrize("redis_mode", REDIS_MODES) to run a test on both."""
    return "single"


REDIS_MODES = ["single", "cluster"]


@pytest.fixture
def with_app(settings: Settings, redis_url: str, redis_mode: str, request: pytest.FixtureRequest):
    """Run `async def body(h: Harness)` against a fresh app instance in its own event loop."""
    if redis_mode == "cluster":
        redis_url = request.getfixturevalue("redis_cluster_url")
        settings = dataclasses.replace(settings, redis_url=redis_url, redis_cluster=True)

    def run(body, **options: Any) -> Any:
        async def main() -> Any:
            async with harness(settings, redis_url, **options) as h:
                return await body(h)

        return asyncio.run(main())

    return run
