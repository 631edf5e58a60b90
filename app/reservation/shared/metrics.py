"""Prometheus metrics (names operators already know: http_server_requests_seconds, reservation_*)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "http_server_requests_seconds",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.reservation_requests = Counter(
            "reservation_requests",
            "Reservation attempts by result",
            ["result"],
            registry=self.registry,
        )
        self.reservation_success = Counter(
            "reservation_success", "Reservation attempts that created a hold", registry=self.registry
        )
        self.stock_remaining = Gauge(
            "reservation_stock_remaining", "Units still available per sale", ["sale_id"], registry=self.registry
        )
        self.background_failures = Counter(
            "reservation_background_failures",
            "Failures of a background step (expire, reconcile, rebuild, retire) for one sale or batch",
            ["task"],
            registry=self.registry,
        )
        self._results: dict[str, Counter] = {}
        self._stock: dict[int, Gauge] = {}
        self._requests: dict[tuple[str, str, int], Histogram] = {}

    def request(self, method: str, template: str, status: int, seconds: float) -> None:
        key = (method, template, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.requests.labels(*key)
        child.observe(seconds)

    # labels() costs a lock and a dict lookup per call; these run on every attempt, so cache the children.
    def reservation(self, result: str) -> None:
        child = self._results.get(result)
        if child is None:
            child = self._results[result] = self.reservation_requests.labels(result)
        child.inc()
        if result == "reserved":
            self.reservation_success.inc()

    def background_failure(self, task: str) -> None:
        self.background_failures.labels(task).inc()

    def remaining(self, sale_id: int, units: int) -> None:
        child = self._stock.get(sale_id)
        if child is None:
            child = self._stock[sale_id] = self.stock_remaining.labels(str(sale_id))
        child.set(units)

    def keep_sales(self, sale_ids: set[int]) -> None:
        """Drop the stock series of every other sale (closed ones), so series do not pile up for ever."""
        for sale_id in [s for s in self._stock if s not in sale_ids]:
            del self._stock[sale_id]
            self.stock_remaining.remove(str(sale_id))


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead); labels by route template, never by raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request(scope["method"], template, status, time.perf_counter() - start)
