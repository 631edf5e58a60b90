"""Outbox rows for each state change. Topics are logical; the relay adds KAFKA_TOPIC_PREFIX.

The key is always the sale id, so one sale's events stay ordered in one partition.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from .models import Reservation, Sale, Status

RESERVATIONS = "reservations"
INVENTORY = "inventory-updates"
ORDERS = "orders"

OutboxRow = tuple[str, str, str]  # (topic, key, payload as JSON text)


def _row(topic: str, sale_id: int, payload: dict[str, object]) -> OutboxRow:
    payload["occurred_at"] = datetime.now(UTC).isoformat()
    return topic, str(sale_id), json.dumps(payload, separators=(",", ":"))


def sale_created(sale: Sale) -> list[OutboxRow]:
    return [_row(INVENTORY, sale.id, {"type": "sale.created", **sale.to_json()})]


def reservation_changed(r: Reservation) -> list[OutboxRow]:
    """Events for a reservation that just entered r.status."""
    body = {
        "type": f"reservation.{r.status.value}",
        "reservation_id": r.id,
        "sale_id": r.sale_id,
        "user_id": r.user_id,
        "quantity": r.quantity,
    }
    rows = [_row(RESERVATIONS, r.sale_id, {**body, "expires_at": r.expires_at.isoformat()})]
    if r.status is Status.CONFIRMED:
        rows.append(_row(ORDERS, r.sale_id, {**body, "type": "order.placed"}))
    else:
        # held takes units out of stock; released and expired give them back
        delta = -r.quantity if r.status is Status.HELD else r.quantity
        rows.append(_row(INVENTORY, r.sale_id, {**body, "type": "inventory.changed", "delta": delta}))
    return rows
