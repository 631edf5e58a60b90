"""A closed sale's Redis keys are deleted, and PostgreSQL then answers for the sale as the gate did."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from reservation.domain.keys import script_keys
from reservation.gate.rebuild import rebuild_sale

from .conftest import ADMIN, REDIS_MODES, Harness, bearer


async def _close(h: Harness, sale_id: int) -> None:
    """Move the sale and its holds hours into the past: over, every hold due, and past GATE_MARGIN."""
    await h.runtime.pool.execute(
        "UPDATE sales SET starts_at = now() - interval '5 hours', ends_at = now() - interval '4 hours' WHERE id = $1",
        sale_id,
    )
    await h.runtime.pool.execute(
        "UPDATE reservations SET expires_at = now() - interval '3 hours' WHERE sale_id = $1", sale_id
    )


async def _keys_left(h: Harness, sale_id: int) -> int:
    return sum([await h.runtime.redis.exists(key) for key in script_keys(sale_id)])


async def _retired_at(h: Harness, sale_id: int) -> object:
    return await h.runtime.pool.fetchval("SELECT gate_retired_at FROM sales WHERE id = $1", sale_id)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_a_closed_sale_leaves_redis_and_postgresql_answers_for_it(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=5, per_user_limit=2, hold_seconds=60))["id"]
        won = await h.reserve(sale, "alice", key="alice-1")
        assert won.status_code == 201
        confirmed = await h.client.post(f"/reservations/{won.json()['id']}/confirm", headers=bearer("alice"))
        assert confirmed.status_code == 200
        assert (await h.reserve(sale, "bob")).status_code == 201  # never confirmed: expires
        assert await _keys_left(h, sale) > 0
        assert "reservation_stock_remaining{sale_id=" + f'"{sale}"' in (await h.internal.get("/metrics")).text

        await _close(h, sale)
        report = await h.runtime.reaper.tick()

        assert report.retired >= 1  # other tests' closed sales may go in the same pass
        assert await _keys_left(h, sale) == 0
        assert await _retired_at(h, sale) is not None
        # bob's hold expired first, through the gate's books: 4 of 5 units back, alice's one sold
        avail = await h.client.get(f"/sales/{sale}/availability", headers=bearer("carol"))
        assert avail.status_code == 200, avail.text
        assert (avail.json()["state"], avail.json()["remaining"]) == ("ended", 4)
        # a retried winning attempt still gets its reservation; a new one finds the sale over
        again = await h.reserve(sale, "alice", key="alice-1")
        assert again.status_code == 201 and again.json()["id"] == won.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        late = await h.reserve(sale, "carol")
        assert (late.status_code, late.json()["error"]) == (403, "sale_ended")
        counters = await h.client.get(f"/admin/sales/{sale}/counters", headers=ADMIN)
        assert (counters.json()["gate"], counters.json()["confirmed"]) == (None, 1)
        # nothing loads it back: not those requests, not a rebuild, not the next pass
        assert not await rebuild_sale(h.runtime.pool, h.runtime.gate, sale)
        await asyncio.sleep(0.1)  # a rebuild kicked by a request would have run by now
        assert (await h.runtime.reaper.tick()).retired == 0
        assert await _keys_left(h, sale) == 0
        assert f'sale_id="{sale}"' not in (await h.internal.get("/metrics")).text

    with_app(body)


def test_a_sale_with_a_hold_still_open_in_postgresql_is_not_retired(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=3, hold_seconds=60))["id"]
        held = (await h.reserve(sale, "dave", key=uuid.uuid4().hex)).json()
        await _close(h, sale)
        # as if the reaper had been down: the window closed, but PostgreSQL still counts this hold
        await h.runtime.pool.execute(
            "UPDATE reservations SET expires_at = now() + interval '1 hour' WHERE id = $1::uuid", held["id"]
        )

        await h.runtime.reaper.tick()
        assert await _retired_at(h, sale) is None
        assert await _keys_left(h, sale) > 0

        await h.runtime.pool.execute(
            "UPDATE reservations SET expires_at = now() - interval '1 hour' WHERE id = $1::uuid", held["id"]
        )
        await h.runtime.reaper.tick()  # expires it, then retires the sale
        assert await _retired_at(h, sale) is not None
        assert await _keys_left(h, sale) == 0
        got = await h.client.get(f"/reservations/{held['id']}", headers=bearer("dave"))
        assert got.json()["status"] == "expired"

    with_app(body)


def test_a_sale_created_after_it_closed_is_never_loaded(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = (
            await h.create_sale(
                starts_at="2020-01-01T00:00:00+00:00", ends_at="2020-01-02T00:00:00+00:00", hold_seconds=60
            )
        )["id"]
        assert await _keys_left(h, sale) == 0
        late = await h.reserve(sale, "erin")
        assert (late.status_code, late.json()["error"]) == (403, "sale_ended")
        avail = await h.client.get(f"/sales/{sale}/availability", headers=bearer("erin"))
        assert (avail.json()["state"], avail.json()["remaining"]) == ("ended", 10)
        await asyncio.sleep(0.1)
        assert await _keys_left(h, sale) == 0

    with_app(body)
