"""The one place Redis key names are built.

Every key of a sale carries the hash tag `{sale-<id>}`, so all of them live in one Redis Cluster slot and
each Lua script (which receives all of them through KEYS) stays single-slot. That includes each buyer's
attempt bucket, a key of its own so that it can expire alone once the buyer is idle.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class SaleKeys:
    meta: str  # hash: epoch, window, limit, hold length; its presence means "loaded from PostgreSQL"
    stock: str  # units still available
    held: str  # units in unexpired holds
    confirmed: str  # units sold
    users: str  # hash user -> units held or confirmed (the per-user limit)
    holds: str  # sorted set reservation id -> hold expiry (ms)
    holdinfo: str  # hash reservation id -> "quantity|user" for holds still counted as held
    idem: str  # hash (user, idempotency key) -> reservation id


@lru_cache(maxsize=4096)
def sale_keys(sale_id: int) -> SaleKeys:
    tag = f"fs:{{sale-{sale_id}}}"
    return SaleKeys(*(f"{tag}:{f.name}" for f in fields(SaleKeys)))


@lru_cache(maxsize=4096)
def script_keys(sale_id: int) -> tuple[str, ...]:
    """All of a sale's keys in SaleKeys order: the KEYS every Lua script receives (cached; hot path)."""
    keys = sale_keys(sale_id)
    return tuple(getattr(keys, f.name) for f in fields(SaleKeys))


@lru_cache(maxsize=4096)
def _attempts_prefix(sale_id: int) -> str:
    return f"fs:{{sale-{sale_id}}}:attempts:"


def attempts_key(sale_id: int, user: str) -> str:
    """A buyer's attempt bucket in a sale (the time its next attempt is due, expiring once it is full again)."""
    return _attempts_prefix(sale_id) + user


def attempt_keys(sale_id: int, user: str) -> tuple[str, ...]:
    """The reserve script's KEYS: the sale's keys in SaleKeys order, then the buyer's attempt bucket."""
    return (*script_keys(sale_id), attempts_key(sale_id, user))
