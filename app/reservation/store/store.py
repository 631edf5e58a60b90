"""PostgreSQL access: the source of truth. Every state change commits together with its outbox rows.

State changes of a sale take a shared advisory lock on it; a Redis rebuild takes the exclusive one, so
no change can commit between the rebuild's snapshot and its write to Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from ..domain import events
from ..domain.errors import DEPENDENCY_ERRORS
from ..domain.models import Counters, NewSale, Reservation, Sale, Status

SALE_LOCK_NS = 0x46530001  # first half of the two-int advisory lock key; the second is the sale id


def _in_datetime_range(column: str) -> str:
    # PostgreSQL's timestamptz reaches year 294276 and 'infinity'; Python's datetime ends with year 9999, and
    # asyncpg decodes 'infinity' as a naive datetime.max. A sale row is read clamped to what Python holds.
    return f"least(greatest({column}, '0001-01-01 00:00:00+00'), '9999-12-31 23:59:59.999999+00') AS {column}"


_SALE_COLUMNS = (
    f"id, name, sku, total_stock, per_user_limit, {_in_datetime_range('starts_at')}, {_in_datetime_range('ends_at')},"
    " hold_seconds, redis_epoch, attempts_per_second, attempt_burst"
)
_RES_COLUMNS = "id::text, sale_id, user_id, quantity, status, idempotency_key, expires_at"


def _sale(row: asyncpg.Record) -> Sale:
    return Sale(*row)


def _reservation(row: asyncpg.Record) -> Reservation:
    return Reservation(row[0], row[1], row[2], row[3], Status(row[4]), row[5], row[6])


async def _outbox(conn: asyncpg.Connection, rows: list[events.OutboxRow]) -> None:
    await conn.execute(
        "INSERT INTO outbox (topic, key, payload) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::jsonb[])",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


# The outbox rows of the reservations a `changed` CTE (UPDATE ... RETURNING *) just moved to a new status,
# in expiry order (the order the reaper selects them in; RETURNING promises none).
_EVENTS_OF_CHANGED = (
    "events AS ("
    "  INSERT INTO outbox (topic, key, payload)"
    "  SELECT e.topic, c.sale_id::text, e.payload"
    "  FROM changed c, reservation_events(c.id, c.sale_id, c.user_id, c.quantity, c.status, c.expires_at) e"
    "  ORDER BY c.expires_at, c.id, e.n"
    ")"
)


async def lock_sale_shared(conn: asyncpg.Connection, sale_id: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", SALE_LOCK_NS, sale_id)


async def lock_sale_exclusive(conn: asyncpg.Connection, sale_id: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", SALE_LOCK_NS, sale_id)


async def create_sale(pool: asyncpg.Pool, new: NewSale) -> Sale:
    async with pool.acquire() as conn, conn.transaction():
        sale = _sale(
            await conn.fetchrow(
                "INSERT INTO sales (name, sku, total_stock, per_user_limit, starts_at, ends_at, hold_seconds,"
                " attempts_per_second, attempt_burst)"
                f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_SALE_COLUMNS}",
                new.name,
                new.sku,
                new.total_stock,
                new.per_user_limit,
                new.starts_at,
                new.ends_at,
                new.hold_seconds,
                new.attempts_per_second,
                new.attempt_burst,
            )
        )
        await _outbox(conn, events.sale_created(sale))
    return sale


async def get_sale(conn: asyncpg.Pool | asyncpg.Connection, sale_id: int) -> Sale | None:
    row = await conn.fetchrow(f"SELECT {_SALE_COLUMNS} FROM sales WHERE id = $1", sale_id)
    return _sale(row) if row else None


async def unretired_sales(pool: asyncpg.Pool) -> list[Sale]:
    """Sales whose Redis gate has not been retired: every live sale, and closed ones not retired yet."""
    rows = await pool.fetch(f"SELECT {_SALE_COLUMNS} FROM sales WHERE gate_retired_at IS NULL ORDER BY id")
    return [_sale(r) for r in rows]


async def mark_gate_retired(conn: asyncpg.Connection, sale_id: int) -> bool:
    """Record that the sale's Redis keys go; False when another reaper did, or a hold is still open here
    (the reaper expires it first: its units must go back through the gate's books, not vanish with them)."""
    return bool(
        await conn.fetchval(
            "UPDATE sales SET gate_retired_at = now() WHERE id = $1 AND gate_retired_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM reservations WHERE sale_id = $1 AND status = 'held')"
            " RETURNING true",
            sale_id,
        )
    )


async def find_by_idempotency(pool: asyncpg.Pool, sale_id: int, user_id: str, key: str) -> Reservation | None:
    row = await pool.fetchrow(
        f"SELECT {_RES_COLUMNS} FROM reservations WHERE sale_id = $1 AND user_id = $2 AND idempotency_key = $3",
        sale_id,
        user_id,
        key,
    )
    return _reservation(row) if row else None


# The database's own guards (migration 004): the stock, and the per-user limit.
_OVERSELL_GUARDS = frozenset({"sales_never_oversold", "reservations_per_user_limit"})


def is_oversell(exc: BaseException) -> bool:
    """The database refused a commit that would put out more units than the stock or a buyer's limit."""
    return isinstance(exc, asyncpg.CheckViolationError) and exc.constraint_name in _OVERSELL_GUARDS


async def invalidate_gate(pool: asyncpg.Pool, sale_id: int, epoch: int) -> None:
    """Mark the sale's Redis gate of `epoch` stale (unless a rebuild did): nothing it admits commits any more,
    and the next rebuild check, which sees the epochs differ, reloads it from PostgreSQL."""
    async with pool.acquire() as conn, conn.transaction():
        await lock_sale_exclusive(conn, sale_id)
        await conn.execute("UPDATE sales SET redis_epoch = $2 + 1 WHERE id = $1 AND redis_epoch = $2", sale_id, epoch)


class CommitOutcomeUnknown(Exception):
    """The commit was sent but its answer was lost with the connection: it may or may not have committed."""


async def insert_held(db: asyncpg.Pool | asyncpg.Connection, held: Sequence[tuple[Reservation, int]]) -> set[str]:
    """Commit holds admitted by the gate, each with the gate epoch that admitted it, and their events.

    Returns the ids committed. A hold whose epoch no longer matches was admitted by a Redis that has
    since been rebuilt from PostgreSQL (which did not know it): it is void and left out. One statement,
    one round trip (commit_holds, migration 002): this runs for every winner of a sale. Raises
    CommitOutcomeUnknown when the connection failed once the statement may have been sent.
    """
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:  # a failure to get a connection sent nothing
            return await insert_held(conn, held)
    try:
        rows = await db.fetch(
            "SELECT id::text FROM commit_holds($1, $2, $3, $4, $5, $6, $7, $8) AS id",
            SALE_LOCK_NS,
            [r.id for r, _ in held],
            [r.sale_id for r, _ in held],
            [r.user_id for r, _ in held],
            [r.quantity for r, _ in held],
            [r.idempotency_key for r, _ in held],
            [r.expires_at for r, _ in held],
            [epoch for _, epoch in held],
        )
    except DEPENDENCY_ERRORS as exc:
        raise CommitOutcomeUnknown(f"{type(exc).__name__}: {exc}") from exc
    return {r[0] for r in rows}


async def committed_among(pool: asyncpg.Pool, sale_ids: Sequence[int], reservation_ids: Sequence[str]) -> set[str]:
    """Which of these reservations are committed, once every commit of these sales still running (on a
    backend whose client connection was lost) has ended: commit_holds holds a sale's shared lock until
    it commits or aborts, and the exclusive one waits for it."""
    async with pool.acquire() as conn, conn.transaction():
        for sale_id in sorted(set(sale_ids)):  # the order commit_holds locks in: no deadlock
            await lock_sale_exclusive(conn, sale_id)
        rows = await conn.fetch("SELECT id::text FROM reservations WHERE id = ANY($1::uuid[])", list(reservation_ids))
    return {r[0] for r in rows}


async def get_reservation(pool: asyncpg.Pool, reservation_id: str) -> Reservation | None:
    row = await pool.fetchrow(f"SELECT {_RES_COLUMNS} FROM reservations WHERE id = $1::uuid", reservation_id)
    return _reservation(row) if row else None


async def end_hold(pool: asyncpg.Pool, r: Reservation, to: Status) -> Reservation | None:
    """Move a held, unexpired reservation to confirmed or released. None when it is no longer held."""
    async with pool.acquire() as conn, conn.transaction():
        await lock_sale_shared(conn, r.sale_id)
        row = await conn.fetchrow(
            "WITH changed AS ("
            "  UPDATE reservations SET status = $2, updated_at = now()"
            "  WHERE id = $1::uuid AND status = 'held' AND expires_at > now()"
            "  RETURNING *"
            f"), {_EVENTS_OF_CHANGED}"
            f" SELECT {_RES_COLUMNS} FROM changed",
            r.id,
            to.value,
        )
    return _reservation(row) if row else None


async def expire_due(pool: asyncpg.Pool, limit: int) -> list[Reservation]:
    """Expire up to `limit` overdue holds. SKIP LOCKED lets any number of replicas reap side by side."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT {_RES_COLUMNS} FROM reservations WHERE status = 'held' AND expires_at <= now()"
            " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        if not rows:
            return []
        for sale_id in sorted({r[1] for r in rows}):
            await lock_sale_shared(conn, sale_id)
        changed = await conn.fetch(
            "WITH changed AS ("
            "  UPDATE reservations SET status = 'expired', updated_at = now() WHERE id = ANY($1::uuid[])"
            "  RETURNING *"
            f"), {_EVENTS_OF_CHANGED}"
            f" SELECT {_RES_COLUMNS} FROM changed",
            [r[0] for r in rows],
        )
        expired = [_reservation(r) for r in changed]
    return expired


async def statuses(pool: asyncpg.Pool, reservation_ids: Sequence[str]) -> dict[str, Status]:
    rows = await pool.fetch(
        "SELECT id::text, status FROM reservations WHERE id = ANY($1::uuid[])", list(reservation_ids)
    )
    return {r[0]: Status(r[1]) for r in rows}


async def sale_reservations(conn: asyncpg.Connection, sale_id: int) -> list[Reservation]:
    rows = await conn.fetch(f"SELECT {_RES_COLUMNS} FROM reservations WHERE sale_id = $1", sale_id)
    return [_reservation(r) for r in rows]


async def counters(pool: asyncpg.Pool, sale: Sale) -> Counters:
    row = await pool.fetchrow(
        "SELECT coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0),"
        " coalesce(sum(quantity) FILTER (WHERE status = 'confirmed'), 0)"
        " FROM reservations WHERE sale_id = $1",
        sale.id,
    )
    held, confirmed = int(row[0]), int(row[1])
    return Counters(sale.total_stock, sale.total_stock - held - confirmed, held, confirmed)


# Integer arithmetic both ways: through a float, 9999-12-31T23:59:59.999 rounds up into year 10000.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(ts: datetime) -> int:
    return (ts - _EPOCH) // _MS


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS
