"""Every state change writes outbox rows in its own transaction, keyed by the sale id."""

from __future__ import annotations

import asyncio
import json

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
