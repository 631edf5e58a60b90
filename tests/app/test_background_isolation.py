"""The reaper's pass isolates failures per sale: one sale that cannot be handled (absurd dates already in
the database, broken Redis keys) never stops the expiry, reconciliation or retirement of the others."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from reservation.domain.keys import sale_keys, script_keys
from reservation.domain.models import NewSale
from reservation.gate.gate import Outcome

from .conftest import Harness, bearer, check_invariant


async def _far_future(h: Harness, ends_at: str, hold_seconds: int = 86_400) -> int:
    """A sale row ending at `ends_at`: request validation now bounds dates (bodies.py), so the row is
    written as one from before that may still be in the database."""
    now = datetime.now(UTC)
    sale = await h.runtime.service.create_sale(
        NewSale("Forever", "SKU-F", 5, 2, now - timedelta(minutes=1), now + timedelta(days=1), hold_seconds)
    )
    await h.runtime.pool.execute(f"UPDATE sales SET ends_at = '{ends_at}' WHERE id = $1", sale.id)
    return sale.id


async def _close(h: Harness, sale_id: int) -> None:
    await h.runtime.pool.execute(
        "UPDATE sales SET starts_at = now() - interval '5 hours', ends_at = now() - interval '4 hours' WHERE id = $1",
        sale_id,
    )


def _failures(h: Harness, task: str) -> float:
    value = h.runtime.service._metrics.registry.get_sample_value(
        "reservation_background_failures_total", {"task": task}
    )
    return value or 0.0


def test_a_sale_ending_in_year_9999_works_and_the_reaper_serves_every_other_sale(with_app) -> None:
    """Rows as they may already be in the database, whatever the request validation now allows."""

    async def body(h: Harness) -> None:
        forever = await _far_future(h, "9999-12-31 23:00:00+00")  # overflowed ends_at + hold + margin
        infinite = await _far_future(h, "infinity", hold_seconds=60)
        await h.flush_redis()  # both are rebuilt from those rows
        short = (await h.create_sale(total_stock=2, per_user_limit=2, hold_seconds=1))["id"]
        assert (await h.reserve(short, "bob", 2)).status_code == 201
        closed = (await h.create_sale())["id"]
        await _close(h, closed)
        await asyncio.sleep(1.1)  # bob's hold is due

        report = await h.runtime.reaper.tick()

        assert report.expired >= 1 and report.retired >= 1  # other tests' sales may go in the same pass
        assert (await h.counters(short))["remaining"] == 2
        assert await h.runtime.gate.snapshot(closed) is None  # retired
        for sale_id in (forever, infinite):
            won = await h.reserve(sale_id, "alice", 1)
            assert won.status_code == 201, won.text
            avail = await h.client.get(f"/sales/{sale_id}/availability", headers=bearer("alice"))
            assert avail.status_code == 200 and avail.json()["state"] == "active", avail.text
            check_invariant(await h.counters(sale_id))

    with_app(body)


def test_one_poisoned_sale_does_not_stop_the_others(with_app, caplog: pytest.LogCaptureFixture) -> None:
    async def body(h: Harness) -> None:
        poisoned = (await h.create_sale())["id"]
        await h.runtime.redis.set(sale_keys(poisoned).holds, "not a sorted set")  # WRONGTYPE for its scripts
        orphaned = (await h.create_sale(total_stock=1, per_user_limit=1, hold_seconds=1))["id"]
        gate = await h.runtime.gate.reserve(orphaned, "ghost", "k", 1, str(uuid.uuid4()))
        assert gate.outcome is Outcome.OK  # admitted, but its row never committed
        closed = (await h.create_sale())["id"]
        await _close(h, closed)
        await asyncio.sleep(1.1)
        h.runtime.reaper._grace_ms = 0  # production waits 30 s past expiry for a slow insert
        before = _failures(h, "reconcile")

        with caplog.at_level(logging.ERROR, logger="reservation.gate.reaper"):
            report = await h.runtime.reaper.tick()

        assert report.reconciled >= 1 and report.retired >= 1
        snap = await h.runtime.gate.snapshot(orphaned)
        assert snap is not None and (snap.remaining, snap.held) == (1, 0)  # the orphan's unit came back
        assert sum([await h.runtime.redis.exists(k) for k in script_keys(closed)]) == 0  # retired
        assert _failures(h, "reconcile") == before + 1
        assert any(f"sale {poisoned}" in r.getMessage() for r in caplog.records), caplog.text
        metrics = (await h.internal.get("/metrics")).text
        assert 'reservation_background_failures_total{task="reconcile"}' in metrics
        await h.runtime.redis.delete(sale_keys(poisoned).holds)  # the app tests share one Redis
        await _close(h, poisoned)

    with_app(body)
