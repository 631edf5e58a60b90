"""`serve`'s internal port (INTERNAL_PORT): /health/live, /health/ready with each dependency's detail,
/metrics and /openapi.json. The ALB forwards none of these paths and the tasks' security group opens
only PORT to it, so nothing here is reachable from the internet."""

from __future__ import annotations

import asyncio
import json

from ..shared.health import Readiness
from ..shared.health_server import ExtraRoutes, HealthResponse, prometheus_routes, start_health_server
from ..shared.metrics import Metrics
from .openapi import OPENAPI

_OPENAPI = HealthResponse(200, json.dumps(OPENAPI).encode())


def internal_routes(metrics: Metrics) -> ExtraRoutes:
    async def openapi() -> HealthResponse:
        return _OPENAPI

    return {**prometheus_routes(metrics.registry), "/openapi.json": openapi}


async def start_internal_server(port: int, metrics: Metrics, readiness: Readiness) -> asyncio.Server:
    # Every server worker binds the port (reuse_port), as they share PORT: each reports its own metrics.
    return await start_health_server("0.0.0.0", port, readiness, internal_routes(metrics), reuse_port=True)
