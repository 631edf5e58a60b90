"""The ASGI application and the objects it owns for its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from ..gate.cluster_runner import script_runner
from ..gate.gate import Gate
from ..gate.reaper import Reaper
from ..gate.rebuild import Rebuilder
from ..gate.redis_client import create_redis
from ..gate.scripts import BatchingRunner
from ..shared.emf import EmfReporter
from ..shared.health import Readiness
from ..shared.heap import freeze_startup_heap
from ..shared.logs import RequestIdMiddleware
from ..shared.metrics import Metrics, MetricsMiddleware
from ..shared.settings import Command, Settings, load_settings
from ..store.db_credentials import database_connect
from ..store.pg_pool import connection_options, reader_options
from .api import Handlers
from .auth import Authenticator
from .errors import EXCEPTION_HANDLERS
from .hot_path import PATH, ReservationApp, ReserveEndpoint
from .internal import start_internal_server
from .service import ReservationService

# Internal tuning knob passed from `reservation serve --no-redis-batching` to server worker processes.
BATCHING_ENV = "RESERVATION_REDIS_BATCHING"


@dataclass(frozen=True, slots=True)
class Runtime:
    pool: asyncpg.Pool
    reader: asyncpg.Pool  # DB_READ_HOST's pool for lag-tolerant reads; the writer's pool when unset
    redis: redis.Redis
    gate: Gate
    rebuilder: Rebuilder
    service: ReservationService
    reaper: Reaper


async def _keep_session(_: asyncpg.Connection) -> None:
    """Release a pooled connection without asyncpg's reset query (unlock all, CLOSE ALL, UNLISTEN, RESET ALL).

    The service keeps no session state on pooled connections (advisory locks are transaction-scoped; no
    LISTEN, SET or cursors), and the query cost a round trip per use: per winner's commit at a sale's start.
    asyncpg still rolls back a transaction left open.
    """


def create_app(
    settings: Settings,
    *,
    redis_batching: bool = True,
    background: bool = True,
    readiness: Readiness | None = None,
    server_process: bool = False,
) -> ReservationApp:
    """`background` runs the reaper (expiry, reconciliation, rebuild checks) inside this process;
    `server_process` (a server worker, not a test) also tunes the garbage collector once started."""
    metrics = Metrics()
    readiness = readiness or Readiness()
    handlers = Handlers(Authenticator(settings))

    def create_pool(min_size: int, max_size: int, options: dict[str, Any]) -> asyncpg.Pool:
        return asyncpg.create_pool(
            settings.database_url,
            connect=database_connect(settings),
            min_size=min_size,
            max_size=max_size,
            command_timeout=10,
            reset=_keep_session,
            **options,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(2, 20, connection_options(settings))
        reader = pool
        if settings.db_read_host:
            # Small: two reads use it. min_size=0: a reader down at start-up fails those reads (503), not the
            # whole service.
            reader = await create_pool(0, 5, reader_options(settings))
        client = create_redis(settings)
        runner = script_runner(client, redis_batching)
        gate = Gate(runner)
        rebuilder = Rebuilder(pool, gate, metrics)
        service = ReservationService(pool, gate, rebuilder, metrics, reader)
        reaper = Reaper(pool, gate, rebuilder, metrics)
        handlers.service = service
        app.state.runtime = Runtime(pool, reader, client, gate, rebuilder, service, reaper)
        readiness.add("postgresql", lambda: pool.fetchval("SELECT 1"))
        readiness.add("redis", client.ping)
        internal = await start_internal_server(settings.internal_port, metrics, readiness)
        app.state.internal_port = internal.sockets[0].getsockname()[1]  # the bound one when settings say 0
        task = asyncio.create_task(reaper.run_forever()) if background else None
        emf_stop = asyncio.Event()
        emf = EmfReporter(metrics, settings.metrics_namespace) if settings.emf_enabled else None
        emf_task = asyncio.create_task(emf.run(sys.stdout, emf_stop)) if emf else None
        if server_process:
            freeze_startup_heap()
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if emf_task:
                emf_stop.set()  # one last report: the figures since the previous one are not lost
                await emf_task
            if isinstance(runner, BatchingRunner):
                runner.close()
            internal.close()
            await internal.wait_closed()
            await client.aclose()
            if reader is not pool:
                await reader.close()
            await pool.close()

    reserve = Route(PATH, ReserveEndpoint(handlers), methods=["POST"])
    # Adding middleware? The reservation POST (most of a flash sale's traffic) never reaches this stack:
    # ReservationApp (hot_path.py) serves it before Starlette's middleware, exception handlers and router,
    # and does by hand what the stack would: the request id (logs.REQUEST_ID, echoed in X-Request-Id), the
    # request metrics by route template, the JSON error bodies and a logged 500. So a new middleware applies
    # to every request except reservation attempts; if it must see those too (auth, rate limits, tracing,
    # headers), do its work in ReservationApp._reserve / ReserveEndpoint.attempt as well, and test both paths.
    app = ReservationApp(
        reserve,
        metrics,
        routes=[reserve, *handlers.routes()],
        middleware=[Middleware(RequestIdMiddleware), Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.readiness = readiness
    app.state.metrics = metrics
    return app


def app_from_env() -> ReservationApp:
    """Factory the server workers import (settings were already checked by `reservation serve`)."""
    return create_app(
        load_settings(command=Command.SERVE),
        redis_batching=os.environ.get(BATCHING_ENV, "1") == "1",
        server_process=True,
    )
