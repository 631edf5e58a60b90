"""Reservation use cases: the Redis gate first, PostgreSQL as the truth, compensation in between."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg

from ..domain.errors import ApiError
from ..domain.models import Counters, NewSale, Reservation, Sale, Status
from ..gate.gate import Gate, GateResult, Outcome, Settle
from ..gate.rebuild import Rebuilder, rebuild_sale
from ..shared import cloudwatch_metrics as cw
from ..shared.metrics import Metrics
from ..store import store
from ..store.committer import HoldCommitter

log = logging.getLogger(__name__)

RETRY_SOON = {"Retry-After": "1"}
_OUTCOME_UNKNOWN = "the database did not confirm the reservation; retry with the same Idempotency-Key"
_REPLAY_WAIT = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)  # a duplicate may arrive while the first is committing

_REFUSALS: dict[Outcome, tuple[int, str, str]] = {
    Outcome.OVER_LIMIT: (422, "invalid_quantity", "quantity exceeds the per-user limit of this sale"),
    Outcome.NOT_STARTED: (403, "sale_not_started", "the sale has not started yet"),
    Outcome.ENDED: (403, "sale_ended", "the sale is over"),
    Outcome.SOLD_OUT: (409, "sold_out", "no units left"),
    Outcome.USER_LIMIT: (409, "user_limit_exceeded", "this would exceed your per-user limit for the sale"),
}
_TOO_MANY = "too many attempts on this sale; retry after the seconds in Retry-After"


def too_many_attempts(retry_ms: int) -> ApiError:
    """429 with Retry-After: whole seconds until the buyer's bucket lets an attempt through, at least 1."""
    return ApiError(429, "too_many_attempts", _TOO_MANY, {"Retry-After": str(max(1, math.ceil(retry_ms / 1000)))})


@dataclass(frozen=True, slots=True)
class Reserved:
    reservation: Reservation
    replayed: bool


@dataclass(frozen=True, slots=True)
class Availability:
    sale_id: int
    remaining: int
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime
    state: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sale_id": self.sale_id,
            "remaining": self.remaining,
            "per_user_limit": self.per_user_limit,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "state": self.state,
        }


class ReservationService:
    def __init__(
        self, pool: asyncpg.Pool, gate: Gate, rebuilder: Rebuilder, metrics: Metrics, reader: asyncpg.Pool | None = None
    ) -> None:
        self._pool = pool
        # Reads that tolerate a replica's lag and decide nothing (availability, counters) may use a reader.
        self._reader = reader or pool
        self._gate = gate
        self._rebuilder = rebuilder
        self._metrics = metrics
        self._committer = HoldCommitter(pool, self._compensate, self._oversold)

    async def create_sale(self, new: NewSale) -> Sale:
        sale = await store.create_sale(self._pool, new)
        await rebuild_sale(self._pool, self._gate, sale.id)  # loads it into the gate
        self._metrics.remaining(sale.id, sale.total_stock)
        return sale

    async def _closed_sale(self, sale_id: int, db: asyncpg.Pool) -> Sale:
        """The sale the gate does not know because it closed (its keys were retired). Otherwise raises:
        404 for no such sale, or 503 while a rebuild from PostgreSQL, started here, loads it."""
        sale = await store.get_sale(db, sale_id)
        if sale is None:
            raise ApiError(404, "sale_not_found", f"no sale {sale_id}")
        if sale.gate_closed():
            return sale
        self._rebuilder.kick(sale_id)
        raise ApiError(503, "sale_loading", "the sale is being reloaded; retry shortly", RETRY_SOON)

    async def reserve(self, sale_id: int, user: str, key: str, quantity: int) -> Reserved:
        result = await self._gate.reserve(sale_id, user, key, quantity, str(uuid4()))
        if result.remaining is not None:
            self._metrics.remaining(sale_id, result.remaining)
        if result.outcome is Outcome.OK:
            reserved = await self._commit(sale_id, user, key, quantity, result)
            self._metrics.reservation(cw.RESERVED)
            return reserved
        self._metrics.reservation(result.outcome.value)
        if result.outcome is Outcome.DUPLICATE:
            return await self._replay(result.reservation_id)
        if result.outcome is Outcome.NOT_LOADED:
            await self._closed_sale(sale_id, self._pool)
            # PostgreSQL answers as the gate would have: a retry of an attempt that won gets its reservation
            # back; any other attempt finds the sale over.
            found = await store.find_by_idempotency(self._pool, sale_id, user, key)
            if found is not None:
                return Reserved(found, replayed=True)
            raise ApiError(*_REFUSALS[Outcome.ENDED])
        if result.outcome is Outcome.TOO_MANY_ATTEMPTS:
            assert result.retry_ms is not None
            raise too_many_attempts(result.retry_ms)
        raise ApiError(*_REFUSALS[result.outcome])

    async def _commit(self, sale_id: int, user: str, key: str, quantity: int, gate: GateResult) -> Reserved:
        assert gate.expires_ms is not None
        expires = store.from_epoch_ms(gate.expires_ms)
        held = Reservation(gate.reservation_id, sale_id, user, quantity, Status.HELD, key, expires)
        # From here the committer owns the admission: committed, or its units given back, even if this
        # request is cancelled while it waits.
        try:
            committed = await self._committer.commit(held, gate.epoch)
        except store.CommitOutcomeUnknown:
            raise ApiError(503, "unavailable", _OUTCOME_UNKNOWN, RETRY_SOON) from None
        if committed:
            return Reserved(held, replayed=False)
        raise ApiError(503, "unavailable", "the reservation could not be stored; nothing was reserved", RETRY_SOON)

    async def _compensate(self, held: Reservation) -> None:
        try:
            await self._gate.settle(held.sale_id, held.id, Settle.COMPENSATE)
        except Exception:
            # The reaper reconciles this hold with PostgreSQL (where it does not exist) after expiry.
            log.exception("compensating reservation %s failed; the reaper will return its units", held.id)
        self._metrics.reservation(cw.COMPENSATED)

    async def _oversold(self, sale_id: int, epoch: int) -> None:
        """PostgreSQL refused to oversell what this gate admitted: the gate is stale (a Redis failover lost
        its last writes). Void everything it admits and rebuild it from PostgreSQL."""
        self._metrics.reservation(cw.GUARD_REFUSED)  # Redis and PostgreSQL disagree: the sale alarms page
        try:
            await store.invalidate_gate(self._pool, sale_id, epoch)
        except Exception:
            log.exception("invalidating the gate of sale %s failed; its next refused commit retries", sale_id)
            return
        self._rebuilder.kick(sale_id)

    async def _replay(self, reservation_id: str) -> Reserved:
        for delay in (0.0, *_REPLAY_WAIT):
            await asyncio.sleep(delay)
            found = await store.get_reservation(self._pool, reservation_id)
            if found is not None:
                return Reserved(found, replayed=True)
        raise ApiError(
            409, "request_in_progress", "a request with this Idempotency-Key is still being processed", RETRY_SOON
        )

    async def get(self, user: str, reservation_id: str) -> Reservation:
        found = await store.get_reservation(self._pool, reservation_id)
        if found is None or found.user_id != user:  # someone else's reservation does not exist for you
            raise ApiError(404, "reservation_not_found", f"no reservation {reservation_id}")
        return found

    async def confirm(self, user: str, reservation_id: str) -> Reservation:
        return await self._end_hold(user, reservation_id, Status.CONFIRMED, Settle.CONFIRM)

    async def release(self, user: str, reservation_id: str) -> Reservation:
        return await self._end_hold(user, reservation_id, Status.RELEASED, Settle.RELEASE)

    async def _end_hold(self, user: str, reservation_id: str, to: Status, how: Settle) -> Reservation:
        current = await self.get(user, reservation_id)
        if current.status is to:
            return current  # repeating a confirm or release is harmless
        changed = None
        if current.status is Status.HELD:
            changed = await store.end_hold(self._pool, current, to)
        if changed is None:
            latest = await self.get(user, reservation_id)
            if latest.status is to:
                return latest
            if latest.status is Status.HELD or latest.status is Status.EXPIRED:
                raise ApiError(409, "hold_expired", "the hold has expired; its units went back on sale")
            raise ApiError(409, "reservation_not_held", f"the reservation is already {latest.status.value}")
        try:
            await self._gate.settle(changed.sale_id, changed.id, how)
        except Exception:
            log.exception("settling %s in Redis failed; the reaper reconciles it", changed.id)
        self._metrics.reservation(to.value)
        return changed

    async def availability(self, sale_id: int) -> Availability:
        snap = await self._gate.snapshot(sale_id)
        if snap is None:
            sale = await self._closed_sale(sale_id, self._reader)
            counted = await store.counters(self._reader, sale)
            return Availability(sale_id, counted.remaining, sale.per_user_limit, sale.starts_at, sale.ends_at, "ended")
        now_ms = datetime.now(UTC).timestamp() * 1000
        if now_ms < snap.starts_ms:
            state = "upcoming"
        elif now_ms >= snap.ends_ms:
            state = "ended"
        else:
            state = "active" if snap.remaining > 0 else "sold_out"
        self._metrics.remaining(sale_id, snap.remaining)
        starts, ends = store.from_epoch_ms(snap.starts_ms), store.from_epoch_ms(snap.ends_ms)
        return Availability(sale_id, snap.remaining, snap.per_user_limit, starts, ends, state)

    async def counters(self, sale_id: int) -> tuple[Sale, Counters | None, Counters]:
        """(sale, the gate's counters or None while it is not loaded or once the sale closed, PostgreSQL's)."""
        sale = await store.get_sale(self._reader, sale_id)
        if sale is None:
            raise ApiError(404, "sale_not_found", f"no sale {sale_id}")
        snap = await self._gate.snapshot(sale_id)
        if snap is None and not sale.gate_closed():
            self._rebuilder.kick(sale_id)
        gate = Counters(snap.initial, snap.remaining, snap.held, snap.confirmed) if snap else None
        return sale, gate, await store.counters(self._reader, sale)
