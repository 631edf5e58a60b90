"""A tiny HTTP server for /health/live, /health/ready and /metrics in processes without the API (the relay).

asyncio streams rather than uvicorn: uvicorn installs its own SIGTERM handling, and the relay's
shutdown must stay in the relay's hands (finish the batch, mark acknowledged rows, then exit).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .health import Readiness


@dataclass(frozen=True, slots=True)
class HealthResponse:
    status: int
    body: dict[str, object]


async def respond(path: str, readiness: Readiness) -> HealthResponse:
    if path == "/health/live":
        return HealthResponse(200, {"status": "ok"})
    if path == "/health/ready":
        checks = await readiness.run()
        ok = all(result == "ok" for result in checks.values())
        return HealthResponse(200 if ok else 503, {"status": "ok" if ok else "unavailable", "checks": checks})
    return HealthResponse(404, {"status": "not found"})


async def start_health_server(
    host: str, port: int, readiness: Readiness, metrics: CollectorRegistry | None = None
) -> asyncio.Server:
    """Serve the health checks, and `metrics` in Prometheus' text format at /metrics when given."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if path == "/metrics" and metrics is not None:
                status, body, content_type = 200, generate_latest(metrics), CONTENT_TYPE_LATEST
            else:
                response = await respond(path, readiness)
                status, body, content_type = response.status, json.dumps(response.body).encode(), "application/json"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass  # a probe that hung up or never sent a request line
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
