"""Coalesces the PostgreSQL commits of holds admitted in the same event-loop tick into one transaction.

One hot sale's winners arrive together; a transaction each would cap them near the database's
single-row commit rate, while one multi-row insert per tick commits them all at once.

The committer owns each admission until it is committed or compensated (its units handed back to the
gate). The request that made it only waits for the outcome, so a client that goes away (its request is
cancelled) can neither strand units in Redis nor cut a commit short, and no task per winner is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from ..domain.models import Reservation
from . import store

log = logging.getLogger(__name__)

MAX_BATCH = 500
MAX_INFLIGHT = 2
# Pauses before each read of an unanswered commit's outcome: a restarting PostgreSQL gets a moment.
_RESOLVE_WAIT = (0.0, 0.2, 1.0)

_Pending = tuple[Reservation, int, asyncio.Future[bool]]
Compensate = Callable[[Reservation], Awaitable[None]]
Oversold = Callable[[int, int], Awaitable[None]]  # sale id, epoch of the gate that admitted the hold


class HoldCommitter:
    def __init__(self, pool: asyncpg.Pool, compensate: Compensate, oversold: Oversold) -> None:
        self._pool = pool
        self._compensate = compensate
        self._oversold = oversold
        self._queue: list[_Pending] = []
        self._scheduled = False
        self._inflight: set[asyncio.Task[None]] = set()

    def commit(self, held: Reservation, gate_epoch: int) -> asyncio.Future[bool]:
        """Resolves to True when committed; to False once the units were given back (the database failed,
        or the admission is void because Redis was rebuilt); raises store.CommitOutcomeUnknown while
        nobody can tell (the units stay held in Redis)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._queue.append((held, gate_epoch, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        # Group commit: with MAX_INFLIGHT transactions running, later winners wait in the queue and go
        # together in the next one, so a burst costs a few transactions instead of one per tick.
        while self._queue and len(self._inflight) < MAX_INFLIGHT:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            task = asyncio.create_task(self._execute(batch))
            self._inflight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._queue and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _execute(self, batch: list[_Pending]) -> None:
        try:
            committed = await store.insert_held(self._pool, [(r, epoch) for r, epoch, _ in batch])
        except store.CommitOutcomeUnknown as exc:
            log.warning("the commit of %s holds went unanswered (%s); asking PostgreSQL", len(batch), exc)
            found = await self._resolve(batch)
            if found is None:
                # Nobody can tell yet. The holds stay in Redis, so the units stay counted and a retry with the
                # same key replays whatever PostgreSQL has; once long past expiry the reaper settles each
                # from PostgreSQL (its units come back if its row never committed).
                log.error("the outcome of %s holds is unknown; the reaper settles them", len(batch))
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            committed = found
        except Exception as exc:
            if len(batch) > 1:
                # One bad row must not fail its neighbours: retry each on its own.
                log.warning("batched commit of %s holds failed; retrying one by one", len(batch), exc_info=True)
                await asyncio.gather(*(self._execute([one]) for one in batch))
                return
            held, epoch, _ = batch[0]
            if store.is_oversell(exc):
                # The gate admitted units PostgreSQL has already given out: that Redis lost writes
                log.error("PostgreSQL refused to oversell sale %s; reservation %s is void", held.sale_id, held.id)
                await self._oversold(held.sale_id, epoch)
            else:
                log.exception("committing reservation %s failed; returning its units", held.id)
            committed = set()
        void = [r for r, _, _ in batch if r.id not in committed]
        if void:
            await asyncio.gather(*(self._compensate(r) for r in void))
        for r, _, fut in batch:
            if not fut.done():  # done: its request was cancelled and no longer waits
                fut.set_result(r.id in committed)

    async def _resolve(self, batch: list[_Pending]) -> set[str] | None:
        """The ids among the batch that PostgreSQL has committed; None while it cannot be read."""
        ids, sale_ids = [r.id for r, _, _ in batch], [r.sale_id for r, _, _ in batch]
        for delay in _RESOLVE_WAIT:
            await asyncio.sleep(delay)
            try:
                return await store.committed_among(self._pool, sale_ids, ids)
            except Exception as exc:
                log.warning("reading the outcome of %s holds failed: %s: %s", len(batch), type(exc).__name__, exc)
        return None
