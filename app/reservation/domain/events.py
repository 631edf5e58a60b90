"""Outbox rows for sales. Topics are logical; the relay adds KAFKA_TOPIC_PREFIX.

The key is always the sale id, so one sale's events stay ordered in one partition. Reservation events
(held, confirmed, released, expired) are built by PostgreSQL in the statement that changes the
reservation: `reservation_events` in migrations/002_events_in_sql.sql.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from .models import Sale

INVENTORY = "inventory-updates"

OutboxRow = tuple[str, str, str]  # (topic, key, payload as JSON text)


def sale_created(sale: Sale) -> list[OutboxRow]:
    payload = {"type": "sale.created", **sale.to_json(), "occurred_at": datetime.now(UTC).isoformat()}
    return [(INVENTORY, str(sale.id), json.dumps(payload, separators=(",", ":")))]
