"""Embedded Metric Format lines: the spec's document shape and the same figures as /metrics."""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import replace

import jsonschema
import pytest
from reservation.shared import cloudwatch_metrics as cw
from reservation.shared.emf import EmfReporter, quantile
from reservation.shared.metrics import Metrics
from reservation.shared.settings import Settings

from .conftest import harness

# From the EMF specification: the root's _aws metadata, MetricDirective and MetricDefinition objects.
CLOUDWATCH_UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
]  # fmt: skip
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"enum": CLOUDWATCH_UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
RESERVE_ROUTE = "/sales/{sale_id:int}/reservations"  # the route template, as /metrics labels it


def assert_valid_emf(doc: dict) -> None:
    jsonschema.validate(doc, EMF_SCHEMA)
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:  # target members: dimension values are strings at the root
                assert isinstance(doc[name], str), (name, doc)
        for metric in directive["Metrics"]:  # metric values are numbers at the root
            assert isinstance(doc[metric["Name"]], int | float), (metric, doc)


def _by(docs: list[dict], dimension: str) -> dict[str, dict]:
    return {d[dimension]: d for d in docs if dimension in d}


def _write(reporter: EmfReporter, now_ms: int) -> list[dict]:
    out = io.StringIO()
    reporter.write(out, now_ms)
    lines = out.getvalue().splitlines()
    docs = [json.loads(line) for line in lines]  # one JSON object per line, nothing else
    for doc in docs:
        assert_valid_emf(doc)
    return docs


def test_documents_follow_the_spec_and_carry_the_metrics_figures():
    metrics = Metrics()
    for result in ("reserved", "reserved", "reserved", "sold_out", "user_limit"):
        metrics.reservation(result)
    metrics.remaining(42, 7)
    latency = metrics.requests.labels("POST", RESERVE_ROUTE, "201")
    for _ in range(98):
        latency.observe(0.003)
    for _ in range(2):
        metrics.requests.labels("POST", RESERVE_ROUTE, "409").observe(0.2)

    docs = _write(EmfReporter(metrics, "FlashSale-test"), now_ms=1_700_000_000_000)

    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in docs} == {"FlashSale-test"}
    assert {d["_aws"]["Timestamp"] for d in docs} == {1_700_000_000_000}
    outcomes = _by(docs, "Result")
    assert {k: v["ReservationRequests"] for k, v in outcomes.items()} == {
        "reserved": 3,
        "sold_out": 1,
        "user_limit": 1,
    }
    assert outcomes["reserved"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Result"]]
    assert outcomes["reserved"]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "ReservationRequests", "Unit": "Count"}
    ]
    assert _by(docs, "SaleId")["42"]["StockRemaining"] == 7
    route = _by(docs, "Route")[RESERVE_ROUTE]
    assert route["Requests"] == 100  # summed over status codes, like the histogram's _count
    assert route["RequestLatencyMean"] == pytest.approx((98 * 3 + 2 * 200) / 100)
    # Rank 99 of 100 falls in the (100, 250] ms bucket holding the two slow requests, halfway through it.
    assert route["RequestLatencyP99"] == pytest.approx(175)
    # Rank 50 falls in the (2.5, 5] ms bucket holding the 98 fast ones.
    assert route["RequestLatencyP50"] == pytest.approx(2.5 + 2.5 * 50 / 98)
    assert route["Requests503"] == 0
    units = {m["Name"]: m["Unit"] for m in route["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {
        "Requests": "Count",
        "Requests503": "Count",
        "RequestLatencyMean": "Milliseconds",
        "RequestLatencyP50": "Milliseconds",
        "RequestLatencyP99": "Milliseconds",
    }


def test_503s_are_counted_per_route_as_increases():
    metrics = Metrics()
    reporter = EmfReporter(metrics, "FlashSale")
    for status in ("201", "503", "503", "409"):
        metrics.requests.labels("POST", RESERVE_ROUTE, status).observe(0.01)
    first = _by(_write(reporter, now_ms=1), "Route")[RESERVE_ROUTE]
    metrics.requests.labels("POST", RESERVE_ROUTE, "503").observe(0.01)
    second = _by(_write(reporter, now_ms=2), "Route")[RESERVE_ROUTE]
    assert (first["Requests"], first["Requests503"]) == (4, 2)
    assert (second["Requests"], second["Requests503"]) == (1, 1)


def test_every_emitted_metric_is_declared_for_the_dashboard_and_alarms():
    metrics = Metrics()
    metrics.reservation("reserved")
    metrics.background_failure("expire")
    metrics.remaining(1, 3)
    metrics.requests.labels("POST", RESERVE_ROUTE, "201").observe(0.01)
    emitted = {
        (m["Name"], m["Unit"], tuple(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]))
        for doc in _write(EmfReporter(metrics, "FlashSale"), now_ms=1)
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert emitted == {(m.name, m.unit, m.dimensions) for m in cw.SERVICE_METRICS}


def test_counters_are_reported_as_increases_since_the_last_line():
    metrics = Metrics()
    reporter = EmfReporter(metrics, "FlashSale")
    metrics.reservation("reserved")
    metrics.requests.labels("GET", "/health/live", "200").observe(0.001)
    _write(reporter, 1)

    metrics.reservation("reserved")
    metrics.reservation("reserved")
    metrics.remaining(1, 5)
    docs = _write(reporter, 2)

    assert _by(docs, "Result")["reserved"]["ReservationRequests"] == 2
    assert _by(docs, "SaleId")["1"]["StockRemaining"] == 5
    assert "/health/live" not in _by(docs, "Route"), "no requests since the last line: no latency line"


def test_quantile_matches_prometheus_histogram_quantile():
    buckets = {0.01: 50.0, 0.1: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.9, buckets) == pytest.approx(0.1)
    assert quantile(0.95, buckets) == pytest.approx(0.55)
    assert quantile(0.99, {0.1: 1.0, float("inf"): 10.0}) == 0.1  # above the largest finite bound


def test_the_app_writes_emf_lines_to_stdout_when_enabled(settings: Settings, redis_url: str, capsys):
    async def run() -> None:
        enabled = replace(settings, emf_enabled=True, metrics_namespace="FlashSaleTest")
        async with harness(enabled, redis_url) as h:
            sale = await h.create_sale(total_stock=5, per_user_limit=2)
            assert (await h.reserve(sale["id"], "emf-user")).status_code == 201

    asyncio.run(run())  # leaving the lifespan writes the last report

    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert docs, "the app wrote no EMF line on shutdown"
    for doc in docs:
        assert_valid_emf(doc)
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FlashSaleTest"
    assert _by(docs, "Result")["reserved"]["ReservationRequests"] == 1
    assert _by(docs, "Route")[RESERVE_ROUTE]["Requests"] == 1


def test_background_failures_are_reported_as_increases_per_task():
    metrics = Metrics()
    reporter = EmfReporter(metrics, "FlashSale-test")
    metrics.background_failure("reconcile")
    metrics.background_failure("reconcile")
    metrics.background_failure("retire")
    first = _by(_write(reporter, now_ms=1_700_000_000_000), "Task")
    assert {k: v["BackgroundFailures"] for k, v in first.items()} == {"reconcile": 2, "retire": 1}
    assert first["retire"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Task"]]
    metrics.background_failure("retire")
    second = _by(_write(reporter, now_ms=1_700_000_060_000), "Task")
    assert {k: v["BackgroundFailures"] for k, v in second.items()} == {"reconcile": 0, "retire": 1}
