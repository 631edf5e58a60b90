"""Every request and response body, declared once: msgspec decodes and checks requests with these Structs
(validation.py), and http/openapi.py publishes their JSON Schema.

The bounds are those of the stores and of the arithmetic done on the values: text PostgreSQL can store, int4
columns, and dates whose sums with a hold and the gate's margin stay far inside what datetime can hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import Meta, Struct

MAX_QUANTITY = 1_000
MAX_STOCK = 10_000_000
MAX_HOLD_SECONDS = 86_400
# A buyer's attempts on one sale (the gate's token bucket): `attempt_burst` at once, then attempts_per_second.
# The defaults leave a person clicking room to retry and stop a script polling by POST; the bounds keep a
# bucket's Redis key alive at most burst / rate = 100,000 s after the buyer's last attempt.
DEFAULT_ATTEMPTS_PER_SECOND = 1.0
DEFAULT_ATTEMPT_BURST = 5
ATTEMPTS_PER_SECOND = (0.01, 1_000.0)
MAX_ATTEMPT_BURST = 1_000
# Sale dates are in these years, as written (with their own offset). A year is plenty for a flash sale's
# window, and a date this far from datetime's limits keeps ends_at + hold + margin from overflowing.
YEARS = range(2000, 2100)
YEAR_PATTERN = "^20[0-9]{2}-"

# No control characters (PostgreSQL refuses NUL in text; the others have no place in a name) and at least one
# character that is not a space. Lone surrogates never get this far: msgspec refuses them as invalid JSON.
_CHAR = r"[^\x00-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_CHAR}*[^\s\x00-\x1f\x7f-\x9f]{_CHAR}*$"


def _text(max_length: int, description: str) -> Meta:
    return Meta(min_length=1, max_length=max_length, pattern=TEXT_PATTERN, description=description)


def _count(maximum: int, description: str) -> Meta:
    return Meta(ge=1, le=maximum, description=description)


Instant = Annotated[datetime, Meta(tz=True)]  # RFC 3339, with an offset


def _timestamp(description: str, example: str) -> Meta:
    return Meta(
        description=f"{description}; RFC 3339 with an offset, in the years {YEARS[0]} to {YEARS[-1]}",
        examples=[example],
        extra_json_schema={"pattern": YEAR_PATTERN},  # what __post_init__ checks, as a pattern on the string
    )


class ReservationRequest(Struct):
    """Body of a reservation attempt."""

    quantity: Annotated[int, _count(MAX_QUANTITY, "units to hold; at most the sale's per_user_limit")]


class NewSale(Struct):
    """Body of a sale's creation; also what the service stores. Surrounding spaces of name and sku are dropped."""

    name: Annotated[str, _text(200, "shown to buyers")]
    sku: Annotated[str, _text(100, "the product's stock keeping unit")]
    total_stock: Annotated[int, _count(MAX_STOCK, "units on sale")]
    per_user_limit: Annotated[int, _count(MAX_QUANTITY, "units one buyer may hold or buy in this sale")]
    starts_at: Annotated[Instant, _timestamp("attempts are refused before", "2026-11-21T15:00:00Z")]
    ends_at: Annotated[Instant, _timestamp("attempts are refused from; after starts_at", "2026-11-21T16:00:00Z")]
    hold_seconds: Annotated[int, _count(MAX_HOLD_SECONDS, "how long a hold lasts before it expires")]
    attempts_per_second: Annotated[
        float,
        Meta(
            ge=ATTEMPTS_PER_SECOND[0],
            le=ATTEMPTS_PER_SECOND[1],
            description="one buyer's sustained reservation attempts per second on this sale (429 beyond)",
        ),
    ] = DEFAULT_ATTEMPTS_PER_SECOND
    attempt_burst: Annotated[
        int, _count(MAX_ATTEMPT_BURST, "attempts one buyer may make at once before attempts_per_second applies")
    ] = DEFAULT_ATTEMPT_BURST

    def __post_init__(self) -> None:
        # Raised here, msgspec reports it as a ValidationError naming the body (validation.py turns it into a 422).
        for name, value in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if value.year not in YEARS:  # the local year: applying the offset of a far date could overflow
                raise ValueError(f"{name} must be in the years {YEARS[0]} to {YEARS[-1]}")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        self.name = self.name.strip()
        self.sku = self.sku.strip()


class Error(Struct):
    """Every error response."""

    error: Annotated[str, Meta(description="a stable code, e.g. sold_out")]
    detail: Annotated[str, Meta(description="what was wrong, for people")]


class Sale(Struct):
    id: int
    name: str
    sku: str
    total_stock: int
    per_user_limit: int
    starts_at: Instant
    ends_at: Instant
    hold_seconds: int
    attempts_per_second: float
    attempt_burst: int


class Counters(Struct):
    """initial = remaining + held + confirmed."""

    initial: int
    remaining: int
    held: int
    confirmed: int


class SaleCounters(Struct):
    sale: Sale
    initial: int
    remaining: int
    held: int
    confirmed: int
    gate: Annotated[
        Counters | None,
        Meta(description="the same counters in Redis; null while it is rebuilt or once the sale closed"),
    ]


class Availability(Struct):
    sale_id: int
    remaining: int
    per_user_limit: int
    starts_at: Instant
    ends_at: Instant
    state: Literal["upcoming", "active", "sold_out", "ended"]


class Reservation(Struct):
    id: UUID
    sale_id: int
    quantity: int
    status: Literal["held", "confirmed", "released", "expired"]
    expires_at: Annotated[Instant, Meta(description="end of the hold")]


class Live(Struct):
    status: Literal["ok"]
