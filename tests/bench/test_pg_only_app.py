"""The PostgreSQL-only baseline decides correctly: it is only a fair comparison if it never oversells either."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from bench import pg_only_app
from tests.app.relay_support import pg_database

SECRET = "bench-test-secret-bench-test-secret-0123"


def _bearer(sub: str, admin: bool = False) -> dict[str, str]:
    claims = {"sub": sub, "exp": int(time.time()) + 3600, **({"role": "admin"} if admin else {})}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    # A private database, as the app tests make theirs; the baseline creates its own pg_only_* tables in it.
    with pg_database("flashsale_pgonly") as url:
        yield url


def _run(database_url: str, body) -> Any:
    async def main() -> Any:
        app = pg_only_app.create_app(database_url, SECRET)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app", timeout=30) as client:
                return await body(client)

    return asyncio.run(main())


async def _sale(client: httpx.AsyncClient, stock: int, limit: int = 1, starts_in: float = -60) -> int:
    now = datetime.now(UTC)
    body = {
        "name": "bench",
        "sku": "B-1",
        "total_stock": stock,
        "per_user_limit": limit,
        "hold_seconds": 600,
        "starts_at": (now + timedelta(seconds=starts_in)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
    }
    response = await client.post("/admin/sales", json=body, headers=_bearer("admin", admin=True))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _reserve(client: httpx.AsyncClient, sale: int, user: str, key: str, quantity: int = 1) -> httpx.Response:
    headers = {**_bearer(user), "Idempotency-Key": key}
    return await client.post(f"/sales/{sale}/reservations", json={"quantity": quantity}, headers=headers)


def test_concurrent_attempts_hold_exactly_the_stock(database_url: str) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sale = await _sale(client, stock=25)
        responses = await asyncio.gather(*(_reserve(client, sale, f"buyer-{i}", f"k-{i}") for i in range(120)))
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == 25
        assert statuses.count(409) == 95
        assert {r.json()["error"] for r in responses if r.status_code == 409} == {"sold_out"}
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval(pg_only_app.WINNERS, sale) == 25
            assert await conn.fetchval("SELECT remaining FROM pg_only_sales WHERE id = $1", sale) == 0
        finally:
            await conn.close()

    _run(database_url, body)


def test_per_user_limit_and_replay(database_url: str) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        sale = await _sale(client, stock=10, limit=2)
        first = await _reserve(client, sale, "alice", "a-1", quantity=2)
        assert first.status_code == 201
        assert set(first.json()) == {"id", "sale_id", "quantity", "status", "expires_at"}
        replay = await _reserve(client, sale, "alice", "a-1", quantity=2)
        assert (replay.status_code, replay.json()["id"]) == (201, first.json()["id"])
        assert replay.headers["idempotent-replayed"] == "true"
        over = await _reserve(client, sale, "alice", "a-2")
        assert (over.status_code, over.json()["error"]) == (409, "user_limit_exceeded")
        conn = await asyncpg.connect(database_url)
        try:  # the refused attempt's decrement was rolled back with its transaction
            assert await conn.fetchval("SELECT remaining FROM pg_only_sales WHERE id = $1", sale) == 8
        finally:
            await conn.close()

    _run(database_url, body)


def test_refusals_name_what_was_wrong(database_url: str) -> None:
    async def body(client: httpx.AsyncClient) -> None:
        later = await _sale(client, stock=5, starts_in=3600)
        assert (await _reserve(client, later, "bob", "b-1")).json()["error"] == "sale_not_started"
        assert (await _reserve(client, 999_999, "bob", "b-2")).status_code == 404
        sale = await _sale(client, stock=5)
        bad = await client.post(f"/sales/{sale}/reservations", json={"quantity": 0}, headers=_bearer("bob"))
        assert bad.status_code == 422
        assert (await client.post(f"/sales/{sale}/reservations", json={"quantity": 1})).status_code == 401

    _run(database_url, body)
