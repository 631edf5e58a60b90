"""Rebuilding a sale's Redis gate from PostgreSQL (after a flush, restart or failover).

While a sale's keys are missing, the gate refuses every attempt (not_loaded), so nothing is admitted
from a half-empty Redis. The rebuild runs under the sale's exclusive advisory lock and re-checks the
epoch once it holds it, so concurrent triggers (requests, the periodic check, other replicas) rebuild
at most once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import asyncpg

from ..domain.models import Sale, Status
from ..shared.logs import RateLimitedLog
from ..shared.metrics import Metrics
from ..store import store
from .gate import Gate, Hold, SaleState

log = logging.getLogger(__name__)


async def rebuild_sale(pool: asyncpg.Pool, gate: Gate, sale_id: int) -> bool:
    """Load the sale into Redis unless it is already current or closed. True when this call rebuilt it."""
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_sale_exclusive(conn, sale_id)
        sale = await store.get_sale(conn, sale_id)
        if sale is None or sale.gate_closed():
            return False  # a closed sale is answered from PostgreSQL: loading it would only leak its keys
        current = await gate.snapshot(sale_id)
        if current is not None and current.epoch == sale.redis_epoch:
            return False
        reservations = await store.sale_reservations(conn, sale_id)
        epoch = sale.redis_epoch + 1
        await conn.execute("UPDATE sales SET redis_epoch = $2 WHERE id = $1", sale_id, epoch)
        user_units: dict[str, int] = defaultdict(int)
        holds, confirmed = [], 0
        for r in reservations:
            if r.status is Status.HELD:
                holds.append(Hold(r.id, r.user_id, r.idempotency_key, r.quantity, store.epoch_ms(r.expires_at)))
            elif r.status is Status.CONFIRMED:
                confirmed += r.quantity
            if r.status in (Status.HELD, Status.CONFIRMED):
                user_units[r.user_id] += r.quantity
        state = SaleState(
            epoch=epoch,
            starts_ms=store.epoch_ms(sale.starts_at),
            ends_ms=store.epoch_ms(sale.ends_at),
            per_user_limit=sale.per_user_limit,
            hold_ms=sale.hold_seconds * 1000,
            initial=sale.total_stock,
            confirmed=confirmed,
            attempts_per_second=sale.attempts_per_second,
            attempt_burst=sale.attempt_burst,
            user_units=dict(user_units),
            holds=holds,
            idempotency=[(r.user_id, r.idempotency_key, r.id) for r in reservations],
        )
        # Written before COMMIT: if the commit then fails, Redis is one epoch ahead of PostgreSQL, every
        # admission fails its epoch check, and the next check rebuilds again.
        await gate.load(sale_id, state)
    log.info("rebuilt sale %s in Redis at epoch %s (%s holds)", sale_id, epoch, len(holds), extra={"sale_id": sale_id})
    return True


class Rebuilder:
    """At most one rebuild task per sale in this process; callers do not wait for it."""

    def __init__(self, pool: asyncpg.Pool, gate: Gate, metrics: Metrics | None = None) -> None:
        self._pool = pool
        self._gate = gate
        self._metrics = metrics
        self._tasks: dict[int, asyncio.Task[bool]] = {}
        # Attempts on an unloaded sale kick a rebuild each: during an outage, one failure line per sale per 10 s.
        self._log = RateLimitedLog(log, 10.0)

    def kick(self, sale_id: int) -> None:
        if sale_id in self._tasks:
            return
        task = asyncio.create_task(self._run(sale_id))
        self._tasks[sale_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(sale_id, None))

    async def _run(self, sale_id: int) -> bool:
        try:
            return await rebuild_sale(self._pool, self._gate, sale_id)
        except Exception:
            self._log.error(
                f"sale {sale_id}",
                "rebuilding sale %s failed; the next attempt or check retries",
                sale_id,
                exc_info=True,
                extra={"sale_id": sale_id},
            )
            if self._metrics is not None:
                self._metrics.background_failure("rebuild")
            return False

    async def check(self, sale: Sale) -> bool:
        """Rebuild now when Redis lacks the sale or holds another epoch than PostgreSQL."""
        current = await self._gate.snapshot(sale.id)
        if current is not None and current.epoch == sale.redis_epoch:
            return False
        return await rebuild_sale(self._pool, self._gate, sale.id)
