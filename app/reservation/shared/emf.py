"""CloudWatch Embedded Metric Format: the /metrics figures as JSON lines on stdout (EMF_ENABLED=true).

The awslogs driver ships stdout to CloudWatch Logs, which turns each line into metrics: no agent. Every
interval the reporter reads the same Prometheus collectors /metrics serves and writes one document per
dimension value: reservation attempts by result and background failures by task (the increases since the
last report), remaining stock per sale (the gauge), and per route the request count, mean and p99 latency
(from the histogram's increase). With several server workers each writes its own lines; CloudWatch sums the counts, and
remaining stock is best read with the Minimum statistic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from prometheus_client.metrics import MetricWrapperBase

from . import cloudwatch_metrics as cw
from .metrics import Metrics

DEFAULT_INTERVAL = 60.0  # seconds: CloudWatch's standard resolution


@dataclass(frozen=True, slots=True)
class EmfMetric:
    name: str
    unit: str  # a CloudWatch unit: Count, Milliseconds, ...
    value: float


@dataclass(frozen=True, slots=True)
class EmfDocument:
    namespace: str
    timestamp_ms: int
    dimensions: Mapping[str, str]
    metrics: tuple[EmfMetric, ...]

    def to_json(self) -> dict[str, object]:
        # Dimension values and metric values are top-level members the directive points to by name.
        directive = {
            "Namespace": self.namespace,
            "Dimensions": [list(self.dimensions)],
            "Metrics": [{"Name": m.name, "Unit": m.unit} for m in self.metrics],
        }
        return {
            "_aws": {"Timestamp": self.timestamp_ms, "CloudWatchMetrics": [directive]},
            **self.dimensions,
            **{m.name: m.value for m in self.metrics},
        }


@dataclass(slots=True)
class _RouteLatency:
    count: float = 0.0
    unavailable: float = 0.0  # answered 503
    total: float = 0.0
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))  # le -> cumulative


def quantile(q: float, buckets: Mapping[float, float]) -> float:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding rank q * count."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    rank, lower, below = q * total, 0.0, 0.0
    for le in bounds:
        if buckets[le] >= rank:
            if math.isinf(le):
                return lower  # beyond the largest finite bucket: its bound is the best estimate
            return lower + (le - lower) * (rank - below) / max(buckets[le] - below, 1e-12)
        lower, below = le, buckets[le]
    return lower


def _metric(metric: cw.Metric, value: float) -> EmfMetric:
    return EmfMetric(metric.name, metric.unit, value)


def _samples(metric: MetricWrapperBase, suffix: str = "") -> list[tuple[dict[str, str], float]]:
    """(labels, value) of the family's samples named <family><suffix>, e.g. counter totals or buckets."""
    return [(s.labels, s.value) for fam in metric.collect() for s in fam.samples if s.name == fam.name + suffix]


class EmfReporter:
    """Turns the Prometheus collectors into EMF documents; counters are reported as increases."""

    def __init__(self, metrics: Metrics, namespace: str) -> None:
        self._metrics = metrics
        self._namespace = namespace
        self._results: dict[str, float] = {}
        self._failures: dict[str, float] = {}
        self._routes: dict[str, _RouteLatency] = {}

    def _doc(self, now_ms: int, dimensions: dict[str, str], *metrics: EmfMetric) -> EmfDocument:
        return EmfDocument(self._namespace, now_ms, dimensions, metrics)

    def collect(self, now_ms: int | None = None) -> list[EmfDocument]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        docs = []
        for labels, value in _samples(self._metrics.reservation_requests, "_total"):
            result = labels["result"]
            increase, self._results[result] = value - self._results.get(result, 0.0), value
            docs.append(self._doc(now_ms, {"Result": result}, _metric(cw.RESERVATION_REQUESTS, increase)))
        for labels, value in _samples(self._metrics.background_failures, "_total"):
            task = labels["task"]
            increase, self._failures[task] = value - self._failures.get(task, 0.0), value
            docs.append(self._doc(now_ms, {"Task": task}, _metric(cw.BACKGROUND_FAILURES, increase)))
        for labels, value in _samples(self._metrics.stock_remaining):
            docs.append(self._doc(now_ms, {"SaleId": labels["sale_id"]}, _metric(cw.STOCK_REMAINING, value)))
        docs.extend(self._latency(now_ms))
        return docs

    def _latency(self, now_ms: int) -> list[EmfDocument]:
        current: dict[str, _RouteLatency] = defaultdict(_RouteLatency)  # summed over method and status
        histogram = self._metrics.requests
        for labels, value in _samples(histogram, "_count"):
            current[labels["route"]].count += value
            if labels["status"] == "503":
                current[labels["route"]].unavailable += value
        for labels, value in _samples(histogram, "_sum"):
            current[labels["route"]].total += value
        for labels, value in _samples(histogram, "_bucket"):
            current[labels["route"]].buckets[float(labels["le"])] += value
        docs = []
        for route, now in current.items():
            before = self._routes.get(route, _RouteLatency())
            count = now.count - before.count
            if count > 0:
                buckets = {le: n - before.buckets.get(le, 0.0) for le, n in now.buckets.items()}
                docs.append(
                    self._doc(
                        now_ms,
                        {"Route": route},
                        _metric(cw.REQUESTS, count),
                        _metric(cw.REQUESTS_503, now.unavailable - before.unavailable),
                        _metric(cw.REQUEST_LATENCY_MEAN, (now.total - before.total) / count * 1000),
                        _metric(cw.REQUEST_LATENCY_P50, quantile(0.5, buckets) * 1000),
                        _metric(cw.REQUEST_LATENCY_P99, quantile(0.99, buckets) * 1000),
                    )
                )
        self._routes = dict(current)
        return docs

    def write(self, out: TextIO, now_ms: int | None = None) -> None:
        for doc in self.collect(now_ms):
            out.write(json.dumps(doc.to_json(), separators=(",", ":")) + "\n")
        out.flush()

    async def run(self, out: TextIO, stop: asyncio.Event, interval: float = DEFAULT_INTERVAL) -> None:
        """Report every `interval` seconds until `stop`, then once more so a draining task loses nothing."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            self.write(out)
