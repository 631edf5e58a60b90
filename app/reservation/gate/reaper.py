"""Returns the units of holds nobody confirmed or released, reconciles Redis with PostgreSQL, and deletes
the Redis keys of sales that have closed.

Safe with any number of replicas: PostgreSQL rows are claimed with SKIP LOCKED, every Redis step is
idempotent (a hold is settled only while it is still recorded as held), and a sale is retired once, under
its exclusive lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass

import asyncpg

from ..domain.models import Status
from ..shared.logs import RateLimitedLog
from ..shared.metrics import Metrics
from ..store import store
from .gate import Gate, Settle
from .rebuild import Rebuilder

log = logging.getLogger(__name__)
# Its failures repeat every pass while Redis or PostgreSQL is down: one line per kind (task and sale) per
# interval, with a count of the rest; reservation_background_failures counts every one.
LOG_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ReapReport:
    expired: int
    reconciled: int
    rebuilt: int
    retired: int


class Reaper:
    def __init__(
        self,
        pool: asyncpg.Pool,
        gate: Gate,
        rebuilder: Rebuilder,
        metrics: Metrics,
        interval: float = 1.0,
        grace_ms: int = 30_000,
        batch: int = 500,
    ) -> None:
        self._pool = pool
        self._gate = gate
        self._rebuilder = rebuilder
        self._metrics = metrics
        self._interval = interval
        # How long past expiry a hold may sit in Redis without a PostgreSQL row before it is treated as
        # an admission whose database write never happened (must exceed any plausible insert time).
        self._grace_ms = grace_ms
        self._batch = batch
        self._log = RateLimitedLog(log, LOG_INTERVAL_SECONDS)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                self._log.error("tick", "reaper tick failed; retrying", exc_info=True)
                self._metrics.background_failure("tick")
            await asyncio.sleep(self._interval)

    async def tick(self) -> ReapReport:
        """One pass. A failure is isolated to its batch or sale: logged with the sale id, counted in
        reservation_background_failures, and the pass carries on with the rest."""
        expired = await self._isolated("expire", None, self._expire())
        reconciled = rebuilt = retired = 0
        live = set()
        for sale in await store.unretired_sales(self._pool):
            if sale.gate_closed():
                retired += await self._isolated("retire", sale.id, self._retire(sale.id))
                continue
            live.add(sale.id)
            rebuilt += await self._isolated("rebuild", sale.id, self._rebuilder.check(sale))
            reconciled += await self._isolated("reconcile", sale.id, self._reconcile(sale.id))
        self._metrics.keep_sales(live)  # also forgets sales another replica retired
        return ReapReport(expired, reconciled, rebuilt, retired)

    async def _isolated(self, task: str, sale_id: int | None, step: Awaitable[int | bool]) -> int:
        try:
            return int(await step)
        except Exception:
            which = "due holds" if sale_id is None else f"sale {sale_id}"
            fields = {"task": task} if sale_id is None else {"task": task, "sale_id": sale_id}
            msg = "reaper: %s of %s failed; carrying on with the rest"
            self._log.error(f"{task} {which}", msg, task, which, exc_info=True, extra=fields)
            self._metrics.background_failure(task)
            return 0

    async def _expire(self) -> int:
        """Expire overdue holds in PostgreSQL, then return their units in Redis. A sale whose Redis step
        fails keeps its hold there until _reconcile settles it from the expired row."""
        expired = 0
        while True:
            rows = await store.expire_due(self._pool, self._batch)
            settled = await asyncio.gather(
                *(self._gate.settle(r.sale_id, r.id, Settle.RELEASE) for r in rows), return_exceptions=True
            )
            for r, outcome in zip(rows, settled, strict=True):
                if isinstance(outcome, Exception):
                    self._log.error(
                        f"expire sale {r.sale_id}",
                        "reaper: returning expired hold %s of sale %s failed: %s",
                        r.id,
                        r.sale_id,
                        outcome,
                        extra={"sale_id": r.sale_id, "reservation_id": r.id},
                    )
                    self._metrics.background_failure("expire")
                self._metrics.reservation("expired")
            expired += len(rows)
            if len(rows) < self._batch:
                return expired

    async def _retire(self, sale_id: int) -> int:
        """Delete a closed sale's Redis keys; under its exclusive lock, so no rebuild or commit interleaves."""
        async with self._pool.acquire() as conn, conn.transaction():
            await store.lock_sale_exclusive(conn, sale_id)
            if not await store.mark_gate_retired(conn, sale_id):
                return 0
            # Inside the transaction: if Redis fails, the mark rolls back and the next pass retries.
            await self._gate.retire(sale_id)
        log.info(
            "sale %s has closed: its Redis keys are deleted; PostgreSQL answers for it",
            sale_id,
            extra={"sale_id": sale_id},
        )
        return 1

    async def _reconcile(self, sale_id: int) -> int:
        """Settle Redis holds long past expiry from what PostgreSQL says happened to them; then report the
        sale's remaining stock."""
        fixed = 0
        overdue = await self._gate.overdue(sale_id, self._grace_ms, self._batch)
        known = await store.statuses(self._pool, overdue) if overdue else {}
        for rid in overdue:
            status = known.get(rid)
            if status is Status.HELD:
                continue  # PostgreSQL expires it first, on the next pass
            if status is None:
                how = Settle.COMPENSATE  # admitted, but its row never committed
            else:
                how = Settle.CONFIRM if status is Status.CONFIRMED else Settle.RELEASE
            fixed += await self._gate.settle(sale_id, rid, how) == "ok"
        if fixed:
            log.warning(
                "reconciled %s Redis holds of sale %s with PostgreSQL", fixed, sale_id, extra={"sale_id": sale_id}
            )
        snap = await self._gate.snapshot(sale_id)
        if snap is not None:
            self._metrics.remaining(sale_id, snap.remaining)
        return fixed
