"""Log lines as one JSON object each, on stderr (EMF documents own stdout), with the request's trace id.

python-json-logger is a stdlib `logging.Formatter`: every module's `log.info(...)` stays as it is, and
`extra={...}` fields (sale_id) become JSON fields. The request id is kept as the raw header bytes in a
contextvar, so the hot path pays one `set` per request; it is decoded only when a line is written.
"""

from __future__ import annotations

import itertools
import logging
import logging.config
import os
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The ALB adds X-Amzn-Trace-Id to every request it forwards ("Root=1-<time>-<id>", with "Self=" when the
# client sent one): https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-request-tracing.html
TRACE_HEADER = b"x-amzn-trace-id"
ECHO_HEADER = b"x-request-id"
REQUEST_ID: ContextVar[bytes | None] = ContextVar("request_id", default=None)


# A process's generated ids: a random prefix and a counter, unique across tasks and restarts, and cheaper
# per request than reading the system's random source (os.urandom cost the hot path about 10% under callgrind).
_PREFIX = os.urandom(8).hex().encode() + b"-"
_SEQUENCE = itertools.count(1)


def new_request_id() -> bytes:
    """For a request without the ALB's header (a test, a client on the task's own port)."""
    return b"%b%d" % (_PREFIX, next(_SEQUENCE))


def request_id(trace_header: bytes | None) -> bytes:
    """The request's id, set for every log line the request causes; the caller echoes it back."""
    rid = trace_header or new_request_id()
    REQUEST_ID.set(rid)
    return rid


class RequestIdFilter(logging.Filter):
    """Adds `trace_id` to the lines written while a request is being handled (handler filters run only
    for lines that pass the level check, so an unlogged debug line costs nothing here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        if rid is not None:
            record.trace_id = rid.decode("latin-1")
        return True


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,  # record.created as an ISO 8601 datetime in UTC
    )


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the root logger, which the servers also apply in each worker process (uvicorn's
    log_config, granian's log_dictconfig); their own loggers propagate to it, so their lines are JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        # The servers' own loggers: no handlers of their own, so they reach the root's JSON handler once.
        "loggers": {
            name: {"level": "WARNING", "handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "_granian", "granian.access")
        },
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))


class RequestIdMiddleware:
    """The Starlette routes' counterpart of the hot path's request id: set for the request's lines and
    echoed in X-Request-Id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = next((value for name, value in scope["headers"] if name == TRACE_HEADER), None)
        rid = request_id(trace)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name == ECHO_HEADER for name, _ in headers):  # the hot path's endpoint sets its own
                    message["headers"] = [*headers, (ECHO_HEADER, rid)]
            await send(message)

        await self.app(scope, receive, send_with_id)


class RateLimitedLog:
    """At most one line per kind per `interval` seconds; the next line that is written says how many of
    that kind were left out since, so an outage of Redis or PostgreSQL does not flood the logs."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, msg: str, *args: object, **kwargs: Any) -> bool:
        """Writes the line unless one of `kind` was written less than `interval` ago; True if written."""
        return self._log(logging.WARNING, kind, msg, args, kwargs)

    def error(self, kind: str, msg: str, *args: object, **kwargs: Any) -> bool:
        return self._log(logging.ERROR, kind, msg, args, kwargs)

    def _log(self, level: int, kind: str, msg: str, args: tuple[object, ...], kwargs: dict[str, Any]) -> bool:
        if not self._logger.isEnabledFor(level):
            return False
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return False
        self._last[kind] = now
        extra = {**kwargs.pop("extra", {}), "kind": kind, "suppressed": self._suppressed.pop(kind, 0)}
        self._logger.log(level, msg, *args, extra=extra, stacklevel=3, **kwargs)  # the caller's file and line
        return True
