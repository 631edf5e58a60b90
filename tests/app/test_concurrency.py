"""Thousands of concurrent attempts through the real ASGI app: no oversell, no user above the limit,
and initial = remaining + held + confirmed at every sampled moment of a mixed run."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from reservation.store import store

from .conftest import REDIS_MODES, Harness, bearer, check_invariant


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_never_oversell_nor_exceed_user_limit(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=150, per_user_limit=3)
        rng = random.Random(7)
        attempts = [(f"user-{rng.randrange(200)}", rng.choice((1, 1, 2, 3))) for _ in range(3000)]
        responses = await asyncio.gather(*(h.reserve(sale["id"], user, qty) for user, qty in attempts))
        codes = Counter(r.status_code for r in responses)
        assert set(codes) <= {201, 409}, codes
        per_user: Counter[str] = Counter()
        for (user, qty), r in zip(attempts, responses, strict=True):
            if r.status_code == 201:
                per_user[user] += qty
            else:
                assert r.json()["error"] in ("sold_out", "user_limit_exceeded")
        assert sum(per_user.values()) == 150  # sold out exactly, never beyond
        assert max(per_user.values()) <= 3
        rows = await h.runtime.pool.fetch(
            "SELECT user_id, sum(quantity) AS units FROM reservations WHERE sale_id = $1 GROUP BY user_id", sale["id"]
        )
        assert {r["user_id"]: r["units"] for r in rows} == dict(per_user)
        c = await h.counters(sale["id"])
        assert (c["remaining"], c["held"]) == (0, 150)
        check_invariant(c)

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_invariant_holds_through_reserves_confirms_releases_and_expiries(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=60, per_user_limit=4, hold_seconds=2)
        sale_id = sale["id"]
        stop = asyncio.Event()
        violations: list[object] = []
        settled: Counter[str] = Counter()

        async def buyer(n: int) -> None:
            rng = random.Random(n)
            user = f"buyer-{n}"
            while not stop.is_set():
                r = await h.reserve(sale_id, user, rng.choice((1, 2)))
                if r.status_code == 201:
                    rid = r.json()["id"]
                    action = rng.choice(("confirm", "release", "expire"))
                    if action != "expire":
                        await asyncio.sleep(rng.random() * 0.3)
                        done = await h.client.post(f"/reservations/{rid}/{action}", headers=bearer(user))
                        settled[action] += done.status_code == 200
                await asyncio.sleep(rng.random() * 0.05)

        async def sampler() -> None:
            while not stop.is_set():
                snap = await h.runtime.gate.snapshot(sale_id)
                assert snap is not None
                if snap.initial != snap.remaining + snap.held + snap.confirmed or min(snap.remaining, snap.held) < 0:
                    violations.append(snap)
                await asyncio.sleep(0.01)

        async def reaper() -> None:
            while not stop.is_set():
                await h.runtime.reaper.tick()
                await asyncio.sleep(0.2)

        async def until_every_kind_of_end_happened() -> None:
            # Ends on what happened, not on a fixed time: a loaded CI machine is slower, never wrong.
            loop = asyncio.get_running_loop()
            started = loop.time()
            while loop.time() - started < 60:
                await asyncio.sleep(0.25)
                expired = await h.runtime.pool.fetchval(
                    "SELECT count(*) FROM reservations WHERE sale_id = $1 AND status = 'expired'", sale_id
                )
                if settled["confirm"] and settled["release"] and expired and loop.time() - started >= 4:
                    break
            stop.set()

        tasks = [asyncio.create_task(buyer(n)) for n in range(200)]
        tasks += [asyncio.create_task(sampler()), asyncio.create_task(reaper()), asyncio.create_task(reaper())]
        await until_every_kind_of_end_happened()
        await asyncio.gather(*tasks)
        assert not violations, violations[:3]

        await asyncio.sleep(2.1)  # every remaining hold is now past its expiry
        await h.runtime.reaper.tick()
        c = await h.counters(sale_id)
        check_invariant(c)
        assert c["held"] == 0 and c["confirmed"] > 0, (c, settled)
        # the database's own count of units out (migration 004) followed every kind of change
        units_out = await h.runtime.pool.fetchval("SELECT units_out FROM sales WHERE id = $1", sale_id)
        assert units_out == c["held"] + c["confirmed"], (units_out, c)
        statuses = Counter(
            r["status"]
            for r in await h.runtime.pool.fetch("SELECT status FROM reservations WHERE sale_id = $1", sale_id)
        )
        assert statuses["expired"] > 0 and statuses["released"] > 0 and statuses["confirmed"] > 0, statuses
        sale_row = await store.get_sale(h.runtime.pool, sale_id)
        assert sale_row is not None and sale_row.redis_epoch == 1  # no rebuild was needed

    with_app(body)
