"""The outbox relay's metrics: /metrics on its health port, and EMF lines on stdout when EMF_ENABLED=true.

Published events and publish errors are counted per topic; the Topic dimension (and the Prometheus
`topic` label) is the Kafka topic name as the relay publishes it, i.e. WITH the KAFKA_TOPIC_PREFIX
(`flashsale.orders`, not `orders`). The backlog (unsent rows, age of the oldest) comes from one query
on the outbox's partial index of unpublished rows, run once per reporting interval, never per row.
Names, units and dimensions come from cloudwatch_metrics, which the dashboard and the alarms read too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Iterable
from typing import TextIO

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from ..shared import cloudwatch_metrics as cw
from ..shared.emf import DEFAULT_INTERVAL, EmfDocument, EmfMetric

log = logging.getLogger(__name__)
_MEASURE_TIMEOUT = 3.0  # seconds; the final report runs inside ECS's 30 s stop timeout

# Both subqueries read only the partial index outbox_unpublished (id WHERE published_at IS NULL): the
# count scans the unsent rows' index entries, the oldest is its first entry. The lowest id is taken as
# the oldest row: ids are handed out in insertion order, created_at is the inserting transaction's start.
BACKLOG_QUERY = """
SELECT
    (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unsent,
    (SELECT greatest(extract(epoch FROM now() - created_at), 0)::float8
     FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1) AS oldest_age
"""


class RelayMetrics:
    """Prometheus collectors of one relay process; the EMF reporter reads the same collectors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.published = Counter(
            "relay_published",
            "Outbox rows acknowledged by Kafka and marked published",
            ["topic"],
            registry=self.registry,
        )
        self.publish_errors = Counter(
            "relay_publish_errors", "Outbox rows Kafka did not acknowledge", ["topic"], registry=self.registry
        )
        self.unsent_rows = Gauge("relay_unsent_rows", "Outbox rows not yet published", registry=self.registry)
        self.oldest_unsent_age = Gauge(
            "relay_oldest_unsent_age_seconds",
            "Age of the oldest unpublished outbox row; 0 when none, NaN when the outbox could not be read",
            registry=self.registry,
        )
        self.backlog: tuple[float, int] | None = None  # (oldest age in seconds, unsent rows); None: unknown

    def count_published(self, topics: Iterable[str]) -> None:
        for topic in topics:
            self.published.labels(topic).inc()

    def count_error(self, topic: str) -> None:
        self.publish_errors.labels(topic).inc()

    async def measure_backlog(self, pool: asyncpg.Pool) -> None:
        """One query; a failure (PostgreSQL down) makes the backlog unknown rather than stale."""
        try:
            async with asyncio.timeout(_MEASURE_TIMEOUT):  # connecting too: a down PostgreSQL must not hold shutdown
                row = await pool.fetchrow(BACKLOG_QUERY)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("outbox backlog not measured: %s: %s", type(exc).__name__, exc)
            self.backlog = None
            self.unsent_rows.set(math.nan)
            self.oldest_unsent_age.set(math.nan)
            return
        self.backlog = (row["oldest_age"] or 0.0, row["unsent"])
        self.oldest_unsent_age.set(self.backlog[0])
        self.unsent_rows.set(self.backlog[1])


def _per_topic(counter: Counter) -> dict[str, float]:
    return {s.labels["topic"]: s.value for fam in counter.collect() for s in fam.samples if s.name.endswith("_total")}


class RelayEmfReporter:
    """EMF documents of the relay's metrics; counters as increases since the last report (like EmfReporter)."""

    def __init__(self, metrics: RelayMetrics, namespace: str) -> None:
        self._metrics = metrics
        self._namespace = namespace
        self._published: dict[str, float] = {}
        self._errors: dict[str, float] = {}

    def collect(self, now_ms: int | None = None) -> list[EmfDocument]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        docs = []
        if self._metrics.backlog is not None:  # unknown backlog: no data point rather than a false 0
            age, unsent = self._metrics.backlog
            backlog = (
                EmfMetric(cw.RELAY_OLDEST_UNSENT_AGE.name, cw.RELAY_OLDEST_UNSENT_AGE.unit, age),
                EmfMetric(cw.RELAY_UNSENT_ROWS.name, cw.RELAY_UNSENT_ROWS.unit, unsent),
            )
            # No dimensions: "A DimensionSet MAY be empty" (docs.aws.amazon.com/AmazonCloudWatch/latest/
            # monitoring/CloudWatch_Embedded_Metric_Format_Specification.html). Every relay task measures the
            # same outbox, so read these with Maximum, not Sum.
            docs.append(EmfDocument(self._namespace, now_ms, {}, backlog))
        published, errors = _per_topic(self._metrics.published), _per_topic(self._metrics.publish_errors)
        for topic in sorted(published.keys() | errors.keys()):
            sent = published.get(topic, 0.0) - self._published.get(topic, 0.0)
            failed = errors.get(topic, 0.0) - self._errors.get(topic, 0.0)
            counts = (
                EmfMetric(cw.RELAY_PUBLISHED.name, cw.RELAY_PUBLISHED.unit, sent),
                EmfMetric(cw.RELAY_PUBLISH_ERRORS.name, cw.RELAY_PUBLISH_ERRORS.unit, failed),
            )
            docs.append(EmfDocument(self._namespace, now_ms, {"Topic": topic}, counts))
        self._published, self._errors = published, errors
        return docs

    def write(self, out: TextIO, now_ms: int | None = None) -> None:
        for doc in self.collect(now_ms):
            out.write(json.dumps(doc.to_json(), separators=(",", ":")) + "\n")
        out.flush()


async def report_relay_metrics(
    metrics: RelayMetrics,
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    emf: tuple[RelayEmfReporter, TextIO] | None = None,
    interval: float = DEFAULT_INTERVAL,
) -> None:
    """Measure the backlog (and write EMF) now, every `interval` seconds, and once more after `stop`."""
    while True:
        await metrics.measure_backlog(pool)
        if emf is not None:
            emf[0].write(emf[1])
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
