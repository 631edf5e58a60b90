"""PostgreSQL stopped (fast shutdown) and started again in the middle of a sale: buyers see 503s with
Retry-After while it is down and never a 500, and once the reaper has settled the holds no unit is lost."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Iterator

import pytest
from reservation.shared.settings import Settings
from reservation.store.migrate import migrate

from .conftest import ADMIN, Harness, bearer, check_invariant, harness
from .private_postgres import PrivatePostgres, private_postgres


@pytest.fixture
def restartable_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        asyncio.run(migrate(pg.url))
        yield pg


def test_a_postgresql_restart_mid_sale_gives_no_500_and_loses_no_unit(
    settings: Settings, redis_url: str, restartable_pg: PrivatePostgres
) -> None:
    pg_settings = dataclasses.replace(settings, database_url=restartable_pg.url)
    statuses: Counter[int] = Counter()

    async def buyer(h: Harness, sale: int, n: int, stop: asyncio.Event) -> None:
        rng, user = random.Random(n), f"buyer-{n}"
        while not stop.is_set():
            r = await h.reserve(sale, user)
            statuses[r.status_code] += 1
            if r.status_code == 503:
                assert r.headers["Retry-After"] == "1" and r.json()["error"] in ("unavailable", "sale_loading")
            if r.status_code == 201:
                rid = r.json()["id"]
                action = rng.choice(("confirm", "release", "keep"))
                if action != "keep":
                    done = await h.client.post(f"/reservations/{rid}/{action}", headers=bearer(user))
                    statuses[done.status_code] += 1
                read = await h.client.get(f"/reservations/{rid}", headers=bearer(user))
                statuses[read.status_code] += 1
            counters = await h.client.get(f"/admin/sales/{sale}/counters", headers=ADMIN)
            statuses[counters.status_code] += 1
            await asyncio.sleep(rng.random() * 0.02)

    async def main() -> None:
        async with harness(pg_settings, redis_url) as h:
            sale = (await h.create_sale(total_stock=10_000, per_user_limit=1000, hold_seconds=2))["id"]
            stop = asyncio.Event()
            buyers = [asyncio.create_task(buyer(h, sale, n, stop)) for n in range(20)]
            await asyncio.sleep(1)
            await asyncio.to_thread(restartable_pg.stop, "fast")
            await asyncio.sleep(1.5)
            await asyncio.to_thread(restartable_pg.start)
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*buyers)  # a 500 raises out of the in-process client and fails here

            h.runtime.reaper._grace_ms = 0  # production waits 30 s past expiry for a slow insert
            await asyncio.sleep(2.2)  # every hold is past its expiry
            await h.runtime.reaper.tick()
            c = await h.counters(sale)
            check_invariant(c)  # PostgreSQL and the gate agree on every unit
            assert c["held"] == 0 and c["confirmed"] > 0, c

    asyncio.run(main())
    assert statuses[503] > 0 and statuses[201] > 0, statuses  # the outage was seen, and sales went on
    assert 500 not in statuses, statuses
