"""The hot endpoint, POST /sales/{sale_id}/reservations, as a plain ASGI app, and the app that sends
those requests to it ahead of Starlette's middleware stack.

Through Starlette a refused attempt (most of a flash sale's requests) cost about three times a trivial
request: proxy, error, metrics and exception middleware, routing, Request and Response objects. This
path answers with the same checks in the same order, the same service call, bodies, headers and
metrics; every other request, including other methods on this path, goes through Starlette.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..domain import validation as v
from ..domain.bodies import ReservationRequest
from ..domain.errors import DEPENDENCY_ERRORS, ApiError
from ..shared.cloudwatch_metrics import RESERVATION_ROUTE
from ..shared.logs import ECHO_HEADER, REQUEST_ID, TRACE_HEADER, new_request_id
from ..shared.metrics import Metrics
from .api import Handlers, check_sale_id
from .errors import INTERNAL, UNAVAILABLE, error_body, log_dependency, log_unexpected

PATH = RESERVATION_ROUTE

RawHeaders = list[tuple[bytes, bytes]]
Parts = tuple[int, RawHeaders, bytes]  # status, headers, body

_JSON = (b"content-type", b"application/json")
_REPLAYED = {"Idempotent-Replayed": "true"}
_ATTEMPT = msgspec.json.Decoder(ReservationRequest)


def _parts(status: int, body: bytes, headers: Mapping[str, str] | None) -> Parts:
    # The headers, in the order, that Starlette's Response(body, status, headers, "application/json") sends.
    raw = [(k.lower().encode("latin-1"), val.encode("latin-1")) for k, val in (headers or {}).items()]
    raw += [(b"content-length", str(len(body)).encode()), _JSON]
    return status, raw, body


@lru_cache(maxsize=1024)
def _error(status: int, code: str, detail: str, headers: tuple[tuple[str, str], ...]) -> Parts:
    return _parts(status, error_body(code, detail), dict(headers))


def error_parts(exc: ApiError) -> Parts:
    """Refusals repeat: their encoded responses are cached whole."""
    return _error(exc.status, exc.code, exc.detail, tuple(exc.headers.items()) if exc.headers else ())


_ENCODER = msgspec.json.Encoder()


def _json(content: Any) -> bytes:
    """The bytes Starlette's JSONResponse renders (json.dumps, compact, UTF-8) for a reservation's strings and
    integers, written by msgspec: 1.7 µs against 7.0 µs per 201, about 3% of what a winner costs the worker."""
    return _ENCODER.encode(content)


async def respond(send: Send, parts: Parts) -> None:
    status, headers, body = parts
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ReserveEndpoint:
    """Buyer: hold `quantity` units; idempotent per Idempotency-Key."""

    def __init__(self, handlers: Handlers) -> None:
        self._handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # through Starlette's router
        await respond(send, await self.attempt(scope, receive))

    async def attempt(self, scope: Scope, receive: Receive) -> Parts:
        """The response's parts, with the request's id (the ALB's trace id) echoed in X-Request-Id."""
        authorization = key = content_type = trace = None  # the first of each, as Starlette's Headers.get
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value if authorization is None else authorization
            elif name == b"idempotency-key":
                key = value if key is None else key
            elif name == b"content-type":
                content_type = value if content_type is None else content_type
            elif name == TRACE_HEADER:
                trace = value if trace is None else trace
        rid = trace or new_request_id()  # set before any line this request may log (logs.request_id, inlined)
        REQUEST_ID.set(rid)
        handlers = self._handlers
        try:
            user = handlers.auth.bearer(authorization.decode("latin-1") if authorization else "").user_id
            checked_key = v.idempotency_key(key.decode("latin-1") if key else "")
            if not v.json_media_type(content_type):
                raise v.not_json()
            quantity = v.decode(_ATTEMPT, await v.read_body(receive)).quantity
            sale_id = check_sale_id(scope["path_params"]["sale_id"])
            reserved = await handlers.service.reserve(sale_id, user, checked_key, quantity)
        except ApiError as exc:
            status, headers, body = error_parts(exc)
        except DEPENDENCY_ERRORS as exc:
            log_dependency(exc, scope["path_params"]["sale_id"])
            status, headers, body = error_parts(UNAVAILABLE)
        else:
            status, headers, body = _parts(
                201, _json(reserved.reservation.to_json()), _REPLAYED if reserved.replayed else None
            )
        return status, [*headers, (ECHO_HEADER, rid)], body  # a copy: error responses' headers are cached


class ReservationApp(Starlette):
    """Starlette, except that reservation attempts go straight to their endpoint. The work of the middleware
    they skip is done here: request metrics by route template, and a logged 500 for an unexpected error."""

    def __init__(self, reserve: Route, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        assert isinstance(reserve.endpoint, ReserveEndpoint) and reserve.path == PATH
        self._endpoint = reserve.endpoint
        self._regex = reserve.path_regex
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = self._regex.match(scope["path"])
            if match is not None:
                scope["path_params"] = {"sale_id": int(match["sale_id"])}
                await self._reserve(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _reserve(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        status = 500
        try:
            try:
                parts = await self._endpoint.attempt(scope, receive)
            except Exception as exc:  # as Starlette's ServerErrorMiddleware: log, answer 500, re-raise
                log_unexpected("POST", scope["path"], exc)
                code, headers, body = error_parts(INTERNAL)
                rid = REQUEST_ID.get()
                await respond(send, (code, [*headers, (ECHO_HEADER, rid)] if rid else headers, body))
                raise
            status = parts[0]
            await respond(send, parts)
        finally:
            self._metrics.request("POST", PATH, status, time.perf_counter() - start)
