"""DB_PROXY: no named prepared statements (RDS Proxy pins a session that has one). DB_READ_HOST: the
lag-tolerant reads (availability and counters from PostgreSQL) go to the reader's pool, nothing else."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from reservation.domain.models import NewSale
from reservation.shared.settings import Settings
from reservation.store.pg_pool import READER_APPLICATION_NAME

from .conftest import ADMIN, Harness, bearer, harness


async def _exercise(h: Harness) -> None:
    """Every endpoint that reads or writes PostgreSQL, and a reaper pass."""
    sale = (await h.create_sale(total_stock=5, per_user_limit=5, hold_seconds=1))["id"]
    for action in ("confirm", "release", None):
        won = await h.reserve(sale, "alice")
        assert won.status_code == 201, won.text
        rid = won.json()["id"]
        assert (await h.client.get(f"/reservations/{rid}", headers=bearer("alice"))).status_code == 200
        if action:
            assert (await h.client.post(f"/reservations/{rid}/{action}", headers=bearer("alice"))).status_code == 200
    assert (await h.client.get(f"/admin/sales/{sale}/counters", headers=ADMIN)).status_code == 200
    await asyncio.sleep(1.1)
    assert (await h.runtime.reaper.tick()).expired >= 1


async def _prepared_statements(pool: asyncpg.Pool) -> int:
    """Named prepared statements over every connection the pool holds (pg_prepared_statements is per session)."""
    conns = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        return sum([await c.fetchval("SELECT count(*) FROM pg_prepared_statements") for c in conns])
    finally:
        for c in conns:
            await pool.release(c)


@pytest.mark.parametrize("db_proxy", [True, False])
def test_behind_rds_proxy_no_statement_is_prepared_by_name(settings: Settings, redis_url: str, db_proxy: bool):
    async def main() -> int:
        async with harness(dataclasses.replace(settings, db_proxy=db_proxy), redis_url) as h:
            await _exercise(h)
            return await _prepared_statements(h.runtime.pool)

    named = asyncio.run(main())
    assert (named == 0) if db_proxy else (named > 0), named  # without the proxy, asyncpg's cache names them


async def _reader_queries(h: Harness) -> set[tuple[str, datetime]]:
    """The last statement of each reader session, and when it started."""
    rows = await h.runtime.pool.fetch(
        "SELECT query, query_start FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = $1 AND query_start IS NOT NULL",
        READER_APPLICATION_NAME,
    )
    return {(r["query"], r["query_start"]) for r in rows}


def _counted(queries: set[tuple[str, datetime]]) -> bool:
    return any("FILTER (WHERE status = 'held')" in q for q, _ in queries)


def test_availability_and_counters_read_the_reader_and_attempts_never_do(settings: Settings, redis_url: str):
    now = datetime.now(UTC)
    closed = NewSale("Closed", "SKU-R", 5, 2, now - timedelta(hours=6), now - timedelta(hours=5), 60)

    async def main() -> None:
        async with harness(dataclasses.replace(settings, db_read_host="127.0.0.1"), redis_url) as h:
            assert h.runtime.reader is not h.runtime.pool
            sale = (await h.runtime.service.create_sale(closed)).id  # answered by PostgreSQL alone
            counters = await h.client.get(f"/admin/sales/{sale}/counters", headers=ADMIN)
            assert counters.status_code == 200, counters.text
            after_counters = await _reader_queries(h)
            assert _counted(after_counters), after_counters
            ended = await h.reserve(sale, "alice", key="late")  # reads the sale and the key: on the writer
            assert ended.status_code == 403 and ended.json()["error"] == "sale_ended", ended.text
            assert await _reader_queries(h) == after_counters
            avail = await h.client.get(f"/sales/{sale}/availability", headers=bearer("alice"))
            assert avail.status_code == 200 and avail.json()["state"] == "ended", avail.text
            after_availability = await _reader_queries(h) - after_counters
            assert _counted(after_availability), after_availability

    asyncio.run(main())


def test_without_a_reader_host_one_pool_serves_everything(settings: Settings, redis_url: str):
    async def main() -> None:
        async with harness(settings, redis_url) as h:
            assert h.runtime.reader is h.runtime.pool

    asyncio.run(main())
