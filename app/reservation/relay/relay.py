"""The outbox relay: publishes committed outbox rows to Kafka, at least once, in id order per sale.

One batch is one PostgreSQL transaction: lock the oldest unpublished rows (FOR UPDATE SKIP LOCKED, so
several relays share the work and never take the same row), produce them, wait for the broker's
acknowledgements, mark only the acknowledged rows published, commit. If Kafka is down nothing is
acknowledged, nothing is marked, and the rows wait for the next attempt. A relay killed between the
acknowledgement and the commit republishes that batch: consumers dedupe on the `outbox-id` header.

Order is id order among committed rows. Two transactions of one sale that commit in the opposite order
of their ids can still go out in commit order; they are independent reservations, while the events of
one reservation are created one after another and so keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from confluent_kafka import KafkaError, Message, Producer

from ..shared.cloudwatch_metrics import DEFAULT_NAMESPACE
from ..shared.emf import DEFAULT_INTERVAL
from ..shared.health import Readiness
from ..shared.health_server import prometheus_routes, start_health_server
from ..store.db_credentials import Connect
from .kafka_producer import KafkaSettings, make_producer
from .relay_metrics import RelayEmfReporter, RelayMetrics, report_relay_metrics

log = logging.getLogger(__name__)

_SELECT_BATCH = """
SELECT id, topic, key, payload::text AS payload FROM outbox
WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""
# Per key, the oldest unpublished row this relay does not hold: another relay has it locked (or it
# committed after our SELECT). Rows of that key behind it must wait, or the sale's order would break.
_FOREIGN_HEADS = """
SELECT key, min(id) AS head FROM outbox
WHERE published_at IS NULL AND key = ANY($1::text[]) AND id < $2 AND id <> ALL($3::bigint[])
GROUP BY key
"""
_MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"


@dataclass(frozen=True, slots=True)
class RelayConfig:
    batch_size: int = 500
    idle_interval: float = 0.2  # seconds between polls of an empty outbox
    backoff_initial: float = 0.5  # seconds; doubles per failed batch up to backoff_max
    backoff_max: float = 30.0
    health_port: int = 8001
    delivery_timeout_ms: int = 20_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RelayConfig:
        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name}: {raw!r} is not a number") from None
            if value <= 0:
                raise ValueError(f"{name}: must be positive, got {raw!r}")
            return value

        default = cls()
        return cls(
            batch_size=int(number("RELAY_BATCH_SIZE", default.batch_size)),
            idle_interval=number("RELAY_POLL_INTERVAL_MS", default.idle_interval * 1000) / 1000,
            health_port=int(number("RELAY_HEALTH_PORT", default.health_port)),
            delivery_timeout_ms=int(number("KAFKA_DELIVERY_TIMEOUT_MS", default.delivery_timeout_ms)),
        )


@dataclass(frozen=True, slots=True)
class MetricsReporting:
    emf: bool = False  # EMF_ENABLED: also write the metrics as EMF lines on stdout
    namespace: str = DEFAULT_NAMESPACE  # METRICS_NAMESPACE
    interval: float = DEFAULT_INTERVAL  # seconds between backlog measurements and EMF reports


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    topic: str
    key: str
    payload: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    selected: int  # rows locked by this batch
    published: int  # acknowledged by Kafka and marked
    failed: int  # produced but not acknowledged: left for a later batch
    deferred: int  # behind an older row of the same sale that another relay holds


def in_key_order(rows: list[OutboxRow], foreign_heads: Mapping[str, int]) -> list[OutboxRow]:
    """Drop every row that has an older unpublished row of the same key outside this batch."""
    return [r for r in rows if r.id < foreign_heads.get(r.key, r.id + 1)]


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: Producer,
        kafka: KafkaSettings,
        config: RelayConfig,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._kafka = kafka
        self._config = config
        self.metrics = metrics or RelayMetrics()
        self._last_batch_failed = False

    async def publish_batch(self) -> BatchResult:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = [OutboxRow(*r) for r in await conn.fetch(_SELECT_BATCH, self._config.batch_size)]
            if not rows:
                self._last_batch_failed = False
                return BatchResult(0, 0, 0, 0)
            heads = await conn.fetch(_FOREIGN_HEADS, list({r.key for r in rows}), rows[-1].id, [r.id for r in rows])
            ready = in_key_order(rows, {h["key"]: h["head"] for h in heads})
            acked = await asyncio.to_thread(self._produce_and_wait, ready)
            if acked:
                await conn.execute(_MARK_PUBLISHED, acked)
        # Counted once committed: rows whose mark was lost go out again and are counted again then.
        marked = set(acked)
        self.metrics.count_published(self._kafka.topic(r.topic) for r in ready if r.id in marked)
        failed = len(ready) - len(acked)
        self._last_batch_failed = failed > 0
        return BatchResult(len(rows), len(acked), failed, len(rows) - len(ready))

    def _produce_and_wait(self, rows: list[OutboxRow]) -> list[int]:
        """Runs in a worker thread: delivery callbacks fire inside flush(), on this thread."""
        acked: list[int] = []

        def report(err: KafkaError | None, _msg: Message, row_id: int, topic: str) -> None:
            if err is None:
                acked.append(row_id)
            else:
                self.metrics.count_error(topic)
                log.warning("outbox row %d not acknowledged: %s", row_id, err)

        for row in rows:
            topic = self._kafka.topic(row.topic)
            while True:
                try:
                    self._producer.produce(
                        topic,
                        key=row.key.encode(),
                        value=row.payload.encode(),
                        headers=[("outbox-id", str(row.id).encode())],
                        on_delivery=partial(report, row_id=row.id, topic=topic),
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain, then retry
                    self._producer.poll(0.1)
        # Every message gets a report within delivery.timeout.ms; the margin covers scheduling.
        self._producer.flush(self._kafka.delivery_timeout_ms / 1000 + 5)
        return acked

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; a batch in progress always finishes (acked rows get marked)."""
        backoff = self._config.backoff_initial
        while not stop.is_set():
            try:
                result = await self.publish_batch()
            except Exception as exc:  # any failure of one batch (an InternalClientError too): the loop carries on
                log.warning("outbox batch failed, retrying in %.1fs: %s: %s", backoff, type(exc).__name__, exc)
                self._last_batch_failed = True
                result = None
            if result is None or result.failed:
                pause, backoff = backoff, min(backoff * 2, self._config.backoff_max)
            else:
                backoff = self._config.backoff_initial
                # A full batch that published means more rows are waiting; otherwise we caught up (or
                # every row waits behind another relay's batch): pause instead of spinning.
                busy = result.selected == self._config.batch_size and result.published > 0
                pause = 0 if busy else self._config.idle_interval
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)

    async def check_kafka(self) -> None:
        """Readiness: a broker answers a metadata request and the last batch was acknowledged."""
        # Under Readiness' own 2 s timeout, so a down Kafka reports this error rather than a timeout.
        metadata = await asyncio.to_thread(self._producer.list_topics, timeout=1.5)
        if not metadata.brokers:
            raise ConnectionError("no Kafka broker in the metadata")
        if self._last_batch_failed:
            raise ConnectionError("the last outbox batch was not acknowledged by Kafka")

    def register_checks(self, readiness: Readiness) -> None:
        async def postgres() -> None:
            await self._pool.fetchval("SELECT 1")

        readiness.add("postgres", postgres)
        readiness.add("kafka", self.check_kafka)


async def run_relay(
    database_url: str,
    kafka: KafkaSettings,
    config: RelayConfig,
    connect: Connect = asyncpg.connect,
    pool_options: Mapping[str, Any] | None = None,
    reporting: MetricsReporting | None = None,
) -> int:
    """`reservation relay`: publish until SIGTERM/SIGINT, then finish the batch, flush; the exit code.

    Its metrics are on /metrics of the health port, and on stdout as EMF when `reporting.emf` is set;
    the last report follows the last batch, so a stopping task loses no count.
    """
    reporting = reporting or MetricsReporting()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    fatal: list[KafkaError] = []

    def on_kafka_error(err: KafkaError) -> None:  # runs on the thread polling the producer
        if err.fatal():
            # An idempotent producer that hit a fatal error (e.g. a sequence gap) never produces again:
            # exit non-zero so ECS starts a fresh task. The unacknowledged rows wait for it.
            log.error("kafka fatal error, stopping the relay: %s", err)
            fatal.append(err)
            loop.call_soon_threadsafe(stop.set)
        else:
            log.warning("kafka: %s", err)

    producer = make_producer(kafka, error_cb=on_kafka_error, logger=logging.getLogger("librdkafka"))
    # min_size=0: start even while PostgreSQL is unreachable; the loop backs off and readiness says so.
    # Two connections: one for the batch transaction, one so readiness never waits behind it (the
    # backlog measurement, one short query a minute, shares that second one).
    pool = await asyncpg.create_pool(database_url, connect=connect, min_size=0, max_size=2, **(pool_options or {}))
    metrics = RelayMetrics()
    relay = OutboxRelay(pool, producer, kafka, config, metrics)
    readiness = Readiness()
    relay.register_checks(readiness)
    server = await start_health_server("0.0.0.0", config.health_port, readiness, prometheus_routes(metrics.registry))
    emf = (RelayEmfReporter(metrics, reporting.namespace), sys.stdout) if reporting.emf else None
    reports_done = asyncio.Event()
    reporter = asyncio.create_task(report_relay_metrics(metrics, pool, reports_done, emf, reporting.interval))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("relay publishing to %s (health on :%d)", ",".join(kafka.bootstrap_servers), config.health_port)
    try:
        await relay.run(stop)
    finally:
        # Batches only end after their flush, so this is normally instant; it is the safety net.
        await asyncio.to_thread(producer.flush, 5)
        reports_done.set()
        await reporter  # the final report: the counts of the last batch, the backlog left behind
        server.close()
        await server.wait_closed()
        await pool.close()
    log.info("relay stopped")
    return 1 if fatal else 0
