"""Helpers for the relay tests: a private PostgreSQL database, librdkafka's mock cluster, a topic reader."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import asyncpg
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from reservation.relay.kafka_producer import KafkaSettings
from reservation.store.migrate import migrate

ADMIN_URL = os.environ.get("FLASHSALE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A migrated database of our own (tests run concurrently with other sessions), dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        try:
            conn = await asyncpg.connect(ADMIN_URL, timeout=5)
        except OSError as exc:
            raise RuntimeError(f"PostgreSQL at {ADMIN_URL} is not reachable (run `make services`): {exc}") from exc
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def mock_kafka(brokers: int = 3) -> Iterator[str]:
    """librdkafka's in-process mock cluster; yields its bootstrap servers. Topics are auto-created."""
    owner = Producer({"test.mock.num.brokers": brokers, "log_level": 0})
    metadata = owner.list_topics(timeout=10)
    yield ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())
    owner.flush(1)


@dataclass(frozen=True, slots=True)
class Consumed:
    partition: int
    offset: int
    key: str
    outbox_id: int
    value: bytes


def read_topic(bootstrap: str, topic: str, timeout: float = 20) -> list[Consumed]:
    """Every message in the topic, up to the high watermarks taken at the start."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        got: list[Consumed] = []
        deadline = time.monotonic() + timeout
        while sum(ends.values()) > len(got) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            headers = dict(msg.headers() or [])
            got.append(
                Consumed(msg.partition(), msg.offset(), msg.key().decode(), int(headers["outbox-id"]), msg.value())
            )
        assert len(got) == sum(ends.values()), f"read {len(got)} of {sum(ends.values())} messages in {topic}"
        return got
    finally:
        consumer.close()


async def insert_outbox(url: str, rows: list[tuple[str, str, str]]) -> list[int]:
    """rows: (logical topic, key, JSON payload); returns the ids in insertion order."""
    conn = await asyncpg.connect(url)
    try:
        records = await conn.fetch(
            "INSERT INTO outbox (topic, key, payload)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[]::jsonb[]) RETURNING id",
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
        )
        return [r["id"] for r in records]
    finally:
        await conn.close()


async def unpublished_ids(url: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [r["id"] for r in await conn.fetch("SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id")]
    finally:
        await conn.close()


def assert_in_id_order_per_key(messages: list[Consumed]) -> None:
    """Each key sits in one partition and, counting first deliveries only, in increasing id order."""
    partitions: dict[str, set[int]] = {}
    first_seen: dict[str, list[int]] = {}
    seen: set[int] = set()
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        partitions.setdefault(m.key, set()).add(m.partition)
        if m.outbox_id not in seen:
            seen.add(m.outbox_id)
            first_seen.setdefault(m.key, []).append(m.outbox_id)
    assert all(len(p) == 1 for p in partitions.values()), partitions
    for key, ids in first_seen.items():
        assert ids == sorted(ids), f"{key} out of order: {ids}"


def kafka_settings(bootstrap: str, delivery_timeout_ms: int = 10_000) -> KafkaSettings:
    """The relay's Kafka settings for the mock cluster at `bootstrap`, topics prefixed `test.`."""
    return KafkaSettings(tuple(bootstrap.split(",")), topic_prefix="test.", delivery_timeout_ms=delivery_timeout_ms)
