"""Typed records passed between the HTTP layer, the service and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from .bodies import NewSale as NewSale  # the admin's request body, already checked, is the service's input

# How long after a sale's last possible hold expiry its Redis gate stays loaded: time for the reaper to
# expire and reconcile every hold before the keys are deleted.
GATE_MARGIN = timedelta(hours=1)


class Status(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Sale:
    id: int
    name: str
    sku: str
    total_stock: int
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime
    hold_seconds: int
    redis_epoch: int
    attempts_per_second: float
    attempt_burst: int

    def gate_closed(self) -> bool:
        """True once nothing can change in the sale's Redis gate (the sale is over and its last hold expired
        GATE_MARGIN ago): the reaper deletes its keys and PostgreSQL alone answers for it."""
        # Moved to the side of now: ends_at + hold + margin overflows datetime for a sale ending in year 9999.
        return datetime.now(UTC) - timedelta(seconds=self.hold_seconds) - GATE_MARGIN >= self.ends_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "sku": self.sku,
            "total_stock": self.total_stock,
            "per_user_limit": self.per_user_limit,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "hold_seconds": self.hold_seconds,
            "attempts_per_second": self.attempts_per_second,
            "attempt_burst": self.attempt_burst,
        }


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    sale_id: int
    user_id: str
    quantity: int
    status: Status
    idempotency_key: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sale_id": self.sale_id,
            "quantity": self.quantity,
            "status": self.status.value,
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Counters:
    initial: int
    remaining: int
    held: int
    confirmed: int

    def to_json(self) -> dict[str, int]:
        return {"initial": self.initial, "remaining": self.remaining, "held": self.held, "confirmed": self.confirmed}
