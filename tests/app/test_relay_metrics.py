"""The relay's metrics against PostgreSQL and the Kafka mock: per-topic counts, the backlog, /metrics, EMF."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import time

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from reservation.relay.kafka_producer import KafkaSettings, make_producer
from reservation.relay.relay import OutboxRelay, RelayConfig
from reservation.relay.relay_metrics import BACKLOG_QUERY, RelayEmfReporter, RelayMetrics
from reservation.shared import cloudwatch_metrics as cw
from reservation.shared.settings import Command, SettingsError, load_settings

from tests.app.relay_support import insert_outbox, kafka_settings, pg_database, unpublished_ids
from tests.app.test_emf import assert_valid_emf
from tests.app.test_relay import _closed_port
from tests.app.test_relay_process import RESERVATION, _free_port, _ready, _wait_until


@pytest.fixture(scope="module")
def database_url():
    with pg_database("relaymetrics") as url:
        yield url


def _rows(topic: str, n: int) -> list[tuple[str, str, str]]:
    return [(topic, str(i % 3), json.dumps({"seq": i})) for i in range(n)]


def _by_topic(counter) -> dict[str, float]:
    return {s.labels["topic"]: s.value for f in counter.collect() for s in f.samples if s.name.endswith("_total")}


async def _one_batch(db: str, kafka: KafkaSettings, metrics: RelayMetrics) -> None:
    pool = await asyncpg.create_pool(db, min_size=1, max_size=2)
    try:
        await OutboxRelay(pool, make_producer(kafka, log_level=0), kafka, RelayConfig(), metrics).publish_batch()
    finally:
        await pool.close()


async def _backlog(db: str, metrics: RelayMetrics) -> tuple[float, int] | None:
    pool = await asyncpg.create_pool(db, min_size=1, max_size=1)
    try:
        await metrics.measure_backlog(pool)
        return metrics.backlog
    finally:
        await pool.close()


def test_a_batch_counts_published_events_per_prefixed_topic(db, kafka):
    asyncio.run(insert_outbox(db, _rows("reservations", 5) + _rows("orders", 2)))
    metrics = RelayMetrics()

    asyncio.run(_one_batch(db, kafka_settings(kafka), metrics))

    assert _by_topic(metrics.published) == {"test.reservations": 5, "test.orders": 2}
    assert _by_topic(metrics.publish_errors) == {}


def test_rows_the_broker_does_not_acknowledge_count_as_errors_per_topic(db):
    ids = asyncio.run(insert_outbox(db, _rows("reservations", 4) + _rows("orders", 3)))
    metrics = RelayMetrics()
    down = kafka_settings(f"127.0.0.1:{_closed_port()}", delivery_timeout_ms=1500)
    asyncio.run(_one_batch(db, down, metrics))

    assert _by_topic(metrics.publish_errors) == {"test.reservations": 4, "test.orders": 3}
    assert _by_topic(metrics.published) == {}
    assert asyncio.run(unpublished_ids(db)) == ids


def test_the_oldest_rows_age_grows_while_it_waits_and_is_0_once_drained(db, kafka):
    metrics = RelayMetrics()
    assert asyncio.run(_backlog(db, metrics)) == (0.0, 0), "an empty outbox: age 0, not unknown"

    asyncio.run(insert_outbox(db, _rows("orders", 3)))
    first_age, unsent = asyncio.run(_backlog(db, metrics))
    assert unsent == 3 and 0 <= first_age < 5
    time.sleep(1.2)
    asyncio.run(insert_outbox(db, _rows("orders", 2)))  # newer rows do not make the oldest any younger
    later_age, unsent = asyncio.run(_backlog(db, metrics))
    assert unsent == 5 and later_age >= first_age + 1.0

    asyncio.run(_one_batch(db, kafka_settings(kafka), metrics))
    assert asyncio.run(_backlog(db, metrics)) == (0.0, 0)


def test_an_unreachable_database_makes_the_backlog_unknown_not_zero():
    metrics = RelayMetrics()
    metrics.backlog = (12.0, 4)

    async def measure() -> None:
        pool = await asyncpg.create_pool(f"postgresql://x@127.0.0.1:{_closed_port()}/x", min_size=0, max_size=1)
        await metrics.measure_backlog(pool)
        await pool.close()

    asyncio.run(measure())
    assert metrics.backlog is None
    assert [d.dimensions for d in RelayEmfReporter(metrics, "FlashSale").collect(1)] == []


def test_the_backlog_query_reads_the_partial_index_of_unpublished_rows(db):
    async def plan() -> str:
        conn = await asyncpg.connect(db)
        try:
            # A sale's aftermath: many published rows, a few waiting.
            await conn.execute(
                "INSERT INTO outbox (topic, key, payload, published_at)"
                " SELECT 'orders', 'k', '{}', CASE WHEN i % 1000 = 0 THEN NULL ELSE now() END"
                " FROM generate_series(1, 20000) AS i"
            )
            await conn.execute("ANALYZE outbox")
            return "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + BACKLOG_QUERY))
        finally:
            await conn.close()

    text = asyncio.run(plan())
    assert text.count("outbox_unpublished") == 2, text  # both subqueries
    assert "Seq Scan" not in text, text


def test_emf_lines_follow_the_spec_and_report_counts_as_increases():
    metrics = RelayMetrics()
    reporter = RelayEmfReporter(metrics, "FlashSale-test")
    metrics.count_published(["flashsale.orders"] * 3 + ["flashsale.reservations"])
    metrics.count_error("flashsale.orders")
    metrics.backlog = (42.5, 7)

    first = _emf_lines(reporter, 1_700_000_000_000)
    metrics.count_published(["flashsale.orders"])
    second = _emf_lines(reporter, 1_700_000_060_000)

    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in first + second} == {"FlashSale-test"}
    [backlog] = [d for d in first if "Topic" not in d]
    assert (backlog["RelayOldestUnsentAgeSeconds"], backlog["RelayUnsentRows"]) == (42.5, 7)
    assert backlog["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    topics = {d["Topic"]: (d["RelayPublished"], d["RelayPublishErrors"]) for d in first if "Topic" in d}
    assert topics == {"flashsale.orders": (3, 1), "flashsale.reservations": (1, 0)}
    topics = {d["Topic"]: (d["RelayPublished"], d["RelayPublishErrors"]) for d in second if "Topic" in d}
    assert topics == {"flashsale.orders": (1, 0), "flashsale.reservations": (0, 0)}


def _emf_lines(reporter: RelayEmfReporter, now_ms: int) -> list[dict]:
    out = io.StringIO()
    reporter.write(out, now_ms)
    return _valid_emf(out.getvalue())


def _valid_emf(text: str) -> list[dict]:
    docs = [json.loads(line) for line in text.splitlines()]  # one JSON object per line, nothing else
    for doc in docs:
        assert_valid_emf(doc)
    return docs


def _declared(docs: list[dict]) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (m["Name"], m["Unit"], tuple(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]))
        for doc in docs
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }


def test_every_metric_the_relay_emits_is_declared_for_the_dashboard_and_alarms_and_vice_versa():
    metrics = RelayMetrics()
    metrics.count_published(["flashsale.orders"])
    metrics.backlog = (0.0, 0)
    emitted = _declared(_emf_lines(RelayEmfReporter(metrics, cw.DEFAULT_NAMESPACE), 1))
    assert emitted == {(m.name, m.unit, m.dimensions) for m in cw.RELAY_METRICS}


def test_emf_enabled_and_metrics_namespace_apply_to_the_relay():
    env = {"DATABASE_URL": "postgresql://u@h/d", "KAFKA_BOOTSTRAP_SERVERS": "b:9092", "METRICS_NAMESPACE": "FS-dev"}
    settings = load_settings(env | {"EMF_ENABLED": "true"}, command=Command.RELAY)
    assert (settings.emf_enabled, settings.metrics_namespace) == (True, "FS-dev")
    with pytest.raises(SettingsError, match=r"EMF_ENABLED: .maybe. is not a boolean"):
        load_settings(env | {"EMF_ENABLED": "maybe"}, command=Command.RELAY)


def test_the_relay_process_serves_metrics_on_its_health_port_and_reports_emf_at_shutdown(db, kafka):
    asyncio.run(insert_outbox(db, _rows("orders", 30) + _rows("reservations", 12)))
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": db,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_TOPIC_PREFIX": "proc.",
        "RELAY_POLL_INTERVAL_MS": "20",
        "RELAY_HEALTH_PORT": str(port),
        "EMF_ENABLED": "true",
        "METRICS_NAMESPACE": "FlashSale-relaytest",
    }
    relay = subprocess.Popen([RESERVATION, "relay"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_until(lambda: _ready(port), 20, "/health/ready")
        _wait_until(lambda: not asyncio.run(unpublished_ids(db)), 30, "the outbox to drain")
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        relay.send_signal(signal.SIGTERM)
        stdout, stderr = relay.communicate(timeout=20)

    assert relay.returncode == 0, stderr.decode()[-2000:]
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    published = {s.labels["topic"]: s.value for s in families["relay_published"].samples if s.name.endswith("_total")}
    assert published == {"proc.orders": 30, "proc.reservations": 12}
    assert {"relay_unsent_rows", "relay_oldest_unsent_age_seconds", "relay_publish_errors"} <= set(families)

    docs = _valid_emf(stdout.decode())
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"FlashSale-relaytest"}
    sent: dict[str, float] = {}
    for doc in docs:
        if "Topic" in doc:
            sent[doc["Topic"]] = sent.get(doc["Topic"], 0) + doc["RelayPublished"]
    assert sent == {"proc.orders": 30, "proc.reservations": 12}, "the increases add up to the totals"
    final_backlog = [d for d in docs if "Topic" not in d][-1]
    assert (final_backlog["RelayUnsentRows"], final_backlog["RelayOldestUnsentAgeSeconds"]) == (0, 0)
