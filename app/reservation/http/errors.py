"""Every error leaves as JSON {"error": code, "detail": message}; never a traceback.

The errors themselves (ApiError, DEPENDENCY_ERRORS) are the domain's (domain/errors.py); this is their HTTP mapping.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..domain.errors import DEPENDENCY_ERRORS, ApiError
from ..shared.logs import RateLimitedLog

log = logging.getLogger(__name__)
# One line per kind of failure (the exception's class) per interval during an outage, with a count of the rest.
_dependency_log = RateLimitedLog(log, interval=10.0)


@lru_cache(maxsize=1024)
def error_body(code: str, detail: str) -> bytes:
    return json.dumps({"error": code, "detail": detail}, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    # Refusals (sold out, over the limit) are most of a flash sale's responses: their bodies are cached.
    return Response(error_body(code, detail), status, headers, media_type="application/json")


# The responses of the two failures every endpoint can meet, as ApiErrors so the hot path can encode them.
INTERNAL = ApiError(500, "internal_error", "unexpected server error; it has been logged")
UNAVAILABLE = ApiError(503, "unavailable", "a backing service is unavailable; retry shortly", {"Retry-After": "1"})


def api_error_response(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.detail, exc.headers)


async def api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return api_error_response(exc)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), exc.detail, exc.headers)


def log_unexpected(method: str, path: str, exc: Exception) -> None:
    log.error("unhandled error on %s %s", method, path, exc_info=exc)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log_unexpected(request.method, request.url.path, exc)
    return api_error_response(INTERNAL)


def log_dependency(exc: Exception, sale_id: int | None = None) -> None:
    kind = type(exc).__name__
    extra = {} if sale_id is None else {"sale_id": sale_id}
    _dependency_log.warning(kind, "dependency unavailable: %s: %s", kind, exc, extra=extra)


def dependency_error_response(exc: Exception, sale_id: int | None = None) -> Response:
    log_dependency(exc, sale_id)
    return api_error_response(UNAVAILABLE)


async def dependency_error(request: Request, exc: Exception) -> Response:
    return dependency_error_response(exc, request.path_params.get("sale_id"))


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    **dict.fromkeys(DEPENDENCY_ERRORS, dependency_error),
    Exception: unexpected_error,
}
