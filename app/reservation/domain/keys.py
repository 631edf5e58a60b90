"""The one place Redis key names are built.

Every key of a sale carries the hash tag `{sale-<id>}`, so all of them live in one Redis Cluster slot and
each Lua script (which receives all of them through KEYS) stays single-slot.
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
