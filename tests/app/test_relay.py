"""The outbox relay in-process against PostgreSQL and librdkafka's mock Kafka cluster."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from typing import Any

import asyncpg
import pytest
from reservation.relay.kafka_producer import make_producer
from reservation.relay.relay import BatchResult, OutboxRelay, OutboxRow, RelayConfig, in_key_order
from reservation.shared.health import Readiness

from tests.app.relay_support import (
    assert_in_id_order_per_key,
    insert_outbox,
    kafka_settings,
    pg_database,
    read_topic,
    unpublished_ids,
)


@pytest.fixture(scope="module")
def database_url():
    with pg_database("relay") as url:
        yield url


def _events(n: int, sales: int, topic: str = "reservations") -> list[tuple[str, str, str]]:
    return [(topic, str(i % sales + 1), json.dumps({"seq": i, "sale_id": i % sales + 1})) for i in range(n)]


class CountingRelay(OutboxRelay):
    """Remembers each batch's result, to see that concurrent relays really shared the work."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.results: list[BatchResult] = []

    async def publish_batch(self) -> BatchResult:
        result = await super().publish_batch()
        self.results.append(result)
        return result


async def _drain(url: str, bootstrap: str, config: RelayConfig, relays: int = 1) -> list[CountingRelay]:
    """Run `relays` relays side by side until the outbox is empty."""
    pools = [await asyncpg.create_pool(url, min_size=1, max_size=2) for _ in range(relays)]
    kafka = kafka_settings(bootstrap)
    workers = [CountingRelay(pool, make_producer(kafka, log_level=0), kafka, config) for pool in pools]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        async with asyncio.timeout(60):
            while await unpublished_ids(url):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for pool in pools:
            await pool.close()
    return workers


def test_publishes_every_row_to_its_prefixed_topic_keyed_by_sale(db, kafka):
    rows = [
        ("reservations", "7", '{"type": "reservation.held"}'),
        ("inventory-updates", "7", '{"type": "inventory.changed", "delta": -1}'),
        ("orders", "8", '{"type": "order.placed"}'),
    ]
    ids = asyncio.run(insert_outbox(db, rows))

    async def one_batch():
        pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
        settings = kafka_settings(kafka)
        relay = OutboxRelay(pool, make_producer(settings), settings, RelayConfig())
        try:
            return await relay.publish_batch()
        finally:
            await pool.close()

    result = asyncio.run(one_batch())

    assert (result.selected, result.published, result.failed, result.deferred) == (3, 3, 0, 0)
    assert asyncio.run(unpublished_ids(db)) == []
    for (topic, key, payload), outbox_id in zip(rows, ids, strict=True):
        [message] = read_topic(kafka, f"test.{topic}")
        assert (message.key, message.outbox_id) == (key, outbox_id)
        assert json.loads(message.value) == json.loads(payload)


def test_a_sales_events_stay_in_one_partition_in_id_order(db, kafka):
    ids = asyncio.run(insert_outbox(db, _events(600, sales=9)))

    asyncio.run(_drain(db, kafka, RelayConfig(batch_size=40, idle_interval=0.01)))

    messages = read_topic(kafka, "test.reservations")
    assert sorted(m.outbox_id for m in messages) == ids, "every row exactly once"
    assert len({m.partition for m in messages}) > 1, "the keys should spread over partitions"
    assert_in_id_order_per_key(messages)


def test_two_relays_at_once_publish_each_row_once_and_in_order(db, kafka):
    ids = asyncio.run(insert_outbox(db, _events(3000, sales=25)))

    workers = asyncio.run(_drain(db, kafka, RelayConfig(batch_size=50, idle_interval=0.01), relays=2))

    published = [sum(r.published for r in w.results) for w in workers]
    assert all(published), f"both relays should have published: {published}"
    assert sum(published) == len(ids)
    messages = read_topic(kafka, "test.reservations")
    duplicates = [i for i, n in Counter(m.outbox_id for m in messages).items() if n > 1]
    assert duplicates == []
    assert sorted(m.outbox_id for m in messages) == ids
    assert_in_id_order_per_key(messages)


def test_rows_behind_another_relays_row_of_the_same_sale_wait():
    batch = [OutboxRow(5, "orders", "a", "{}"), OutboxRow(6, "orders", "b", "{}"), OutboxRow(9, "orders", "a", "{}")]
    # Another relay holds row 7 of sale "a": row 9 must not overtake it; row 5 may go first.
    assert [r.id for r in in_key_order(batch, {"a": 7})] == [5, 6]
    assert in_key_order(batch, {}) == batch


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kafka_down_rows_wait_readiness_fails_and_nothing_is_lost(db, kafka):
    ids = asyncio.run(insert_outbox(db, _events(20, sales=3)))

    async def attempt_without_kafka():
        pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
        down = kafka_settings(f"127.0.0.1:{_closed_port()}", delivery_timeout_ms=1500)
        relay = OutboxRelay(pool, make_producer(down, log_level=0), down, RelayConfig())
        readiness = Readiness(timeout=5)
        relay.register_checks(readiness)
        try:
            return await relay.publish_batch(), await readiness.run()
        finally:
            await pool.close()

    result, checks = asyncio.run(attempt_without_kafka())

    assert (result.published, result.failed) == (0, 20)
    assert asyncio.run(unpublished_ids(db)) == ids, "unacknowledged rows stay unpublished"
    assert checks["postgres"] == "ok"
    assert checks["kafka"].startswith("failed"), checks

    # Kafka is back: the same rows go out, each once.
    workers = asyncio.run(_drain(db, kafka, RelayConfig(idle_interval=0.01)))
    assert sorted(m.outbox_id for m in read_topic(kafka, "test.reservations")) == ids

    async def ready_again():
        readiness = Readiness(timeout=5)
        readiness.add("kafka", workers[0].check_kafka)
        return await readiness.run()

    assert asyncio.run(ready_again()) == {"kafka": "ok"}


def test_relay_config_from_env():
    config = RelayConfig.from_env(
        {"RELAY_BATCH_SIZE": "100", "RELAY_POLL_INTERVAL_MS": "50", "RELAY_HEALTH_PORT": "9001"}
    )
    assert (config.batch_size, config.idle_interval, config.health_port) == (100, 0.05, 9001)
    assert RelayConfig.from_env({}) == RelayConfig()
    with pytest.raises(ValueError, match="RELAY_BATCH_SIZE"):
        RelayConfig.from_env({"RELAY_BATCH_SIZE": "0"})


class OnceBrokenRelay(CountingRelay):
    """Its first batch meets a connection asyncpg can no longer use (killed while idle in the pool)."""

    async def publish_batch(self) -> BatchResult:
        if not self.results:
            self.results.append(BatchResult(0, 0, 0, 0))
            raise asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
        return await super().publish_batch()


def test_a_failed_batch_of_any_kind_is_retried_and_the_relay_carries_on(db, kafka):
    ids = asyncio.run(insert_outbox(db, _events(5, sales=2)))

    async def run() -> None:
        pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
        settings = kafka_settings(kafka)
        relay = OnceBrokenRelay(pool, make_producer(settings, log_level=0), settings, RelayConfig(backoff_initial=0.01))
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            async with asyncio.timeout(30):
                while await unpublished_ids(db):
                    assert not task.done(), task  # the loop did not die with the failed batch
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
            await pool.close()

    asyncio.run(run())
    assert {m.outbox_id for m in read_topic(kafka, "test.reservations")} >= set(ids)
