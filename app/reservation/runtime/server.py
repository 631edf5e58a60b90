"""Runs the app under uvicorn (default: least CPU per request at a paced rate; see bench/) or granian."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from enum import StrEnum

from ..http.app import BATCHING_ENV
from ..shared.logs import logging_config
from ..shared.settings import Settings

FACTORY = "reservation.http.app:app_from_env"
# On SIGTERM both servers stop accepting, let requests in flight finish, run the lifespan shutdown (the
# reaper stops, the last EMF report is written) and exit. ECS sends SIGKILL 30 s after SIGTERM by
# default (stopTimeout), so whatever has not finished after this many seconds is cut off first.
GRACEFUL_SHUTDOWN_SECONDS = 25


class ServerKind(StrEnum):
    GRANIAN = "granian"
    UVICORN = "uvicorn"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    server: ServerKind = ServerKind.UVICORN
    host: str = "0.0.0.0"
    workers: int = 1
    redis_batching: bool = True


def serve(settings: Settings, options: ServeOptions) -> None:
    os.environ[BATCHING_ENV] = "1" if options.redis_batching else "0"
    if options.server is ServerKind.UVICORN:
        import uvicorn

        # uvicorn re-raises the SIGTERM it drained on; with this handler in place that ends in exit 0.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(
            FACTORY,
            factory=True,
            host=options.host,
            port=settings.port,
            workers=options.workers,
            loop="uvloop",
            http="httptools",
            access_log=False,
            timeout_keep_alive=75,  # longer than the ALB's 60 s idle timeout, or the ALB sees resets
            log_config=logging_config(),  # applied again in each worker process
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        return
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.server import Server

    Server(
        FACTORY,
        address=options.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=options.workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        backlog=2048,
        log_access=False,
        log_dictconfig=logging_config(),
        workers_kill_timeout=GRACEFUL_SHUTDOWN_SECONDS,
    ).serve()
