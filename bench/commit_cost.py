"""What a winner's commit costs PostgreSQL, and where it goes.

`commit_holds` (migration 002) is the statement every group commit runs. This times it as the service calls
it (store.insert_held) over batches of B holds of one sale, as shipped and with one part of its work taken
away at a time, each variant in a fresh private database. The variants run in turn within a round, starting
one further on each round, so none always runs first. Per variant: microseconds per hold, as the median
and spread of the rounds' medians, and the difference to the shipped statement: what that part costs.

    .venv/bin/python -m bench.commit_cost [--batch 150] [--batches 40] [--rounds 3]

Client wall time per hold, round trip and commit included: the cost one winner adds to a group commit.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from reservation.domain.models import Reservation, Status
from reservation.store import store

from bench.run import DEFAULT_ADMIN_URL, private_database

SHIPPED = "as shipped"
WARMUP_COMMITS = 5  # per variant and round, before the timed ones: they warm the caches and are not counted
_EVENTS_SIGNATURE = (
    "reservation_events(id uuid, sale_id bigint, user_id text, quantity integer, status text, expires_at timestamptz)"
    " RETURNS TABLE (n integer, topic text, payload jsonb) LANGUAGE sql STABLE"
)
# Each variant removes one part of commit_holds' work; the difference to SHIPPED is what the part costs.
VARIANTS = {
    SHIPPED: "",
    # the two outbox rows are still written, with an empty payload: the cost of building the payloads
    "outbox rows without payloads": (
        f"CREATE OR REPLACE FUNCTION {_EVENTS_SIGNATURE} AS $$"
        " SELECT e.n, 'reservations', '{}'::jsonb FROM (VALUES (1), (2)) AS e (n) $$"
    ),
    # no outbox rows at all: the cost of the events, built and inserted
    "no outbox rows": (
        f"CREATE OR REPLACE FUNCTION {_EVENTS_SIGNATURE} AS $$ SELECT 1, '', '{{}}'::jsonb WHERE false $$"
    ),
    # the statement-level oversell and per-buyer guards (migration 004)
    "no guard trigger": "ALTER TABLE reservations DISABLE TRIGGER units_out_on_insert",
}


@dataclass(frozen=True, slots=True)
class Timing:
    variant: str
    round: int
    us_per_hold: float  # median over the round's batches


def _holds(sale_id: int, batch: int, tag: str) -> list[tuple[Reservation, int]]:
    expires = datetime.now(UTC) + timedelta(minutes=10)
    return [
        (Reservation(str(uuid.uuid4()), sale_id, f"{tag}-{i}", 1, Status.HELD, str(uuid.uuid4()), expires), 0)
        for i in range(batch)
    ]


async def _time_variant(database_url: str, sql: str, batch: int, batches: int) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        if sql:
            await conn.execute(sql)
        now = datetime.now(UTC)
        sale_id = await conn.fetchval(
            "INSERT INTO sales (name, sku, total_stock, per_user_limit, starts_at, ends_at, hold_seconds)"
            " VALUES ('commit cost', 'sku', $1, 1, $2, $3, 600) RETURNING id",
            (WARMUP_COMMITS + batches) * batch,
            now - timedelta(minutes=1),
            now + timedelta(hours=1),
        )
        per_hold = []
        for n in range(WARMUP_COMMITS + batches):
            held = _holds(sale_id, batch, f"b{n}")
            started = time.perf_counter()
            committed = await store.insert_held(conn, held)
            elapsed = time.perf_counter() - started
            if len(committed) != batch:
                raise SystemExit(f"FAIL: a batch of {batch} committed {len(committed)} holds")
            if n >= WARMUP_COMMITS:
                per_hold.append(elapsed / batch * 1e6)
        return statistics.median(per_hold)
    finally:
        await conn.close()


def measure(admin_url: str, batch: int, batches: int, rounds: int) -> list[Timing]:
    names = list(VARIANTS)
    out = []
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            with private_database(admin_url) as url:
                out.append(Timing(name, r, asyncio.run(_time_variant(url, VARIANTS[name], batch, batches))))
    return out


def summary(timings: list[Timing]) -> list[str]:
    by_variant = {name: [t.us_per_hold for t in timings if t.variant == name] for name in VARIANTS}
    shipped = statistics.median(by_variant[SHIPPED])
    lines = []
    for name, values in by_variant.items():
        median = statistics.median(values)
        line = f"- {name}: median {median:.1f} us per hold ({min(values):.1f}-{max(values):.1f}, {len(values)} rounds)"
        if name != SHIPPED:
            line += f"; the part it leaves out costs {shipped - median:.1f} us ({(shipped - median) / shipped:.0%})"
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="PostgreSQL to create private databases in")
    parser.add_argument("--batch", type=int, default=150, help="holds per commit (group commits run 100-190)")
    parser.add_argument("--batches", type=int, default=40, help="timed commits per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for name, value in (("--batch", args.batch), ("--batches", args.batches), ("--rounds", args.rounds)):
        if value < 1:
            parser.error(f"{name} must be at least 1, got {value}")
    print(f"commit_holds, {args.batch} holds of one sale per commit, {args.batches} commits per variant and round:")
    print("\n".join(summary(measure(args.admin_url, args.batch, args.batches, args.rounds))))


if __name__ == "__main__":
    main()
