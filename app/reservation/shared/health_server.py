"""A tiny HTTP server for internal endpoints, on a port the load balancer never routes to.

The relay (it has no API) serves /health/live, /health/ready and its /metrics here; `serve` serves the
same plus /openapi.json on INTERNAL_PORT, so none of them is reachable from the internet.
asyncio streams rather than uvicorn: uvicorn installs its own SIGTERM handling, and the relay's
shutdown must stay in the relay's hands (finish the batch, mark acknowledged rows, then exit).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .health import Readiness

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class HealthResponse:
    status: int
    body: bytes
    content_type: str = JSON


def json_response(status: int, body: dict[str, object]) -> HealthResponse:
    return HealthResponse(status, json.dumps(body).encode())


# Further GET endpoints by path (/metrics, serve's /openapi.json).
ExtraRoutes = Mapping[str, Callable[[], Awaitable[HealthResponse]]]


def prometheus_routes(registry: CollectorRegistry) -> ExtraRoutes:
    """/metrics: the registry in Prometheus' text format."""

    async def prometheus() -> HealthResponse:
        return HealthResponse(200, generate_latest(registry), CONTENT_TYPE_LATEST)

    return {"/metrics": prometheus}


async def respond(path: str, readiness: Readiness, extra: ExtraRoutes | None = None) -> HealthResponse:
    if path == "/health/live":
        return json_response(200, {"status": "ok"})
    if path == "/health/ready":
        # The detail (a dependency's exception text) is for operators: this port is never public.
        checks = await readiness.run()
        ok = all(result == "ok" for result in checks.values())
        return json_response(200 if ok else 503, {"status": "ok" if ok else "unavailable", "checks": checks})
    if extra and path in extra:
        return await extra[path]()
    return json_response(404, {"status": "not found"})


async def start_health_server(
    host: str, port: int, readiness: Readiness, extra: ExtraRoutes | None = None, *, reuse_port: bool = False
) -> asyncio.Server:
    """`reuse_port`: every server worker process binds the same port (the kernel spreads connections)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            response = await respond(path, readiness, extra)
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[response.status]
            writer.write(
                f"HTTP/1.1 {response.status} {reason}\r\nContent-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n".encode()
                + response.body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass  # a probe that hung up or never sent a request line
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, reuse_port=reuse_port)
