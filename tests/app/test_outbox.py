"""Every state change writes outbox rows in its own transaction, keyed by the sale id."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

from reservation.domain.models import Reservation, Status
from reservation.store import store
from reservation.store.migrate import bundled_migrations

from .conftest import Harness, bearer


def test_outbox_rows_for_every_state_change(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=5, per_user_limit=5, hold_seconds=1)
        sid = sale["id"]
        confirmed = (await h.reserve(sid, "alice")).json()
        await h.client.post(f"/reservations/{confirmed['id']}/confirm", headers=bearer("alice"))
        released = (await h.reserve(sid, "alice")).json()
        await h.client.post(f"/reservations/{released['id']}/release", headers=bearer("alice"))
        expired = (await h.reserve(sid, "alice")).json()
        await asyncio.sleep(1.1)
        await h.runtime.reaper.tick()

        rows = await h.runtime.pool.fetch(
            "SELECT topic, key, payload, published_at FROM outbox WHERE key = $1 ORDER BY id", str(sid)
        )
        events = [
            (r["topic"], json.loads(r["payload"])["type"], json.loads(r["payload"]).get("reservation_id")) for r in rows
        ]
        assert all(r["published_at"] is None for r in rows)
        assert events == [
            ("inventory-updates", "sale.created", None),
            ("reservations", "reservation.held", confirmed["id"]),
            ("inventory-updates", "inventory.changed", confirmed["id"]),
            ("reservations", "reservation.confirmed", confirmed["id"]),
            ("orders", "order.placed", confirmed["id"]),
            ("reservations", "reservation.held", released["id"]),
            ("inventory-updates", "inventory.changed", released["id"]),
            ("reservations", "reservation.released", released["id"]),
            ("inventory-updates", "inventory.changed", released["id"]),
            ("reservations", "reservation.held", expired["id"]),
            ("inventory-updates", "inventory.changed", expired["id"]),
            ("reservations", "reservation.expired", expired["id"]),
            ("inventory-updates", "inventory.changed", expired["id"]),
        ]
        deltas = [json.loads(r["payload"]).get("delta") for r in rows if r["topic"] == "inventory-updates"][1:]
        assert deltas == [-1, -1, 1, -1, 1]

    with_app(body)


def test_event_payloads_carry_the_reservation(with_app) -> None:
    """PostgreSQL writes the payloads (reservation_events): their fields, types and UTC timestamps."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=5, per_user_limit=5)
        sid = sale["id"]
        held = (await h.reserve(sid, "alice", 2)).json()
        await h.client.post(f"/reservations/{held['id']}/confirm", headers=bearer("alice"))
        rows = await h.runtime.pool.fetch(
            "SELECT topic, key, payload FROM outbox WHERE payload->>'reservation_id' = $1 ORDER BY id", held["id"]
        )
        payloads = [(r["topic"], r["key"], json.loads(r["payload"])) for r in rows]
        common = {"reservation_id": held["id"], "sale_id": sid, "user_id": "alice", "quantity": 2}
        for topic, key, payload in payloads:
            assert key == str(sid), topic
            assert {k: payload[k] for k in common} == common, payload
            assert datetime.fromisoformat(payload["occurred_at"]).utcoffset() == timedelta(0)
        assert [(t, p["type"]) for t, _, p in payloads] == [
            ("reservations", "reservation.held"),
            ("inventory-updates", "inventory.changed"),
            ("reservations", "reservation.confirmed"),
            ("orders", "order.placed"),
        ]
        assert payloads[1][2]["delta"] == -2 and "delta" not in payloads[3][2]
        expires = datetime.fromisoformat(held["expires_at"])
        for _, _, p in (payloads[0], payloads[2]):
            assert datetime.fromisoformat(p["expires_at"]) == expires
            assert p["expires_at"].endswith("+00:00")

    with_app(body)


def test_event_timestamps_are_utc_whatever_the_session_time_zone(with_app) -> None:
    async def body(h: Harness) -> None:
        async with h.runtime.pool.acquire() as conn:
            await conn.execute("SET TimeZone = 'America/New_York'")
            try:
                rows = await conn.fetch(
                    "SELECT payload FROM reservation_events("
                    " gen_random_uuid(), 1, 'alice', 1, 'held', '2026-11-27 05:00:00+00') ORDER BY n"
                )
            finally:
                await conn.execute("RESET TimeZone")
        payload = json.loads(rows[0]["payload"])
        assert payload["expires_at"] == "2026-11-27T05:00:00.000000+00:00"
        assert payload["occurred_at"].endswith("+00:00")

    with_app(body)


def test_events_are_the_values_migration_002_built(with_app) -> None:
    """Migration 006 rebuilt reservation_events for speed: every status gives the same topics and payloads as
    002's definition, compared as jsonb values in one transaction (one now()), in a non-UTC session."""
    original = next(m.sql for m in bundled_migrations() if m.version == "002_events_in_sql")
    original = original[original.index("CREATE FUNCTION reservation_events") : original.index("$$;") + 3]

    async def body(h: Harness) -> None:
        async with h.runtime.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL TimeZone = 'Asia/Kolkata'")
            await conn.execute(original.replace("FUNCTION reservation_events", "FUNCTION pg_temp.events_002"))
            for status in ("held", "confirmed", "released", "expired"):
                args = (uuid.uuid4(), 42, 'ali"ce\\ü', 3, status, datetime(2026, 11, 27, 5, 0, 0, 123, tzinfo=UTC))
                query = "SELECT n, topic, payload FROM {}($1, $2, $3, $4, $5, $6) ORDER BY n"
                now = await conn.fetch(query.format("reservation_events"), *args)
                before = await conn.fetch(query.format("pg_temp.events_002"), *args)
                assert [tuple(r) for r in now] == [tuple(r) for r in before], status
                assert len(now) == 2

    with_app(body)


def test_one_group_commit_writes_events_in_admission_order(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await store.get_sale(h.runtime.pool, (await h.create_sale(total_stock=10, per_user_limit=1))["id"])
        assert sale is not None
        expires = datetime.now(UTC) + timedelta(minutes=5)
        held = [
            (Reservation(str(uuid.uuid4()), sale.id, f"user-{i}", 1, Status.HELD, "k", expires), sale.redis_epoch)
            for i in range(8)
        ]
        assert await store.insert_held(h.runtime.pool, held) == {r.id for r, _ in held}
        rows = await h.runtime.pool.fetch(
            "SELECT payload->>'reservation_id' AS rid FROM outbox WHERE topic = 'reservations' AND key = $1"
            " ORDER BY id",
            str(sale.id),
        )
        assert [r["rid"] for r in rows] == [r.id for r, _ in held]

    with_app(body)
