"""Request parsing: anything malformed becomes a 422 with a message naming the field."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from .errors import ApiError

MAX_BODY = 16 * 1024


def invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid_input", detail)


async def read_body(receive: Receive) -> bytes:
    """The body, read straight from ASGI receive (no async generator: this runs on every attempt),
    refusing more than MAX_BODY bytes before buffering them."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "body_too_large", f"request body is limited to {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def json_object(request: Request) -> dict[str, Any]:
    return parse_object(await read_body(request.receive))


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(422, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_json", "the request body must be a JSON object")
    return data


def integer(data: dict[str, Any], name: str, low: int, high: int) -> int:
    value = data.get(name)
    if type(value) is not int:  # bool is an int subclass; reject it along with floats and strings
        raise invalid(f"{name} must be an integer")
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return value


def text(data: dict[str, Any], name: str, max_len: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{name} must be a non-empty string")
    if len(value) > max_len:
        raise invalid(f"{name} must be at most {max_len} characters")
    return value.strip()


def timestamp(data: dict[str, Any], name: str) -> datetime:
    value = data.get(name)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise invalid(f"{name} must be an ISO 8601 timestamp with a time zone, e.g. 2026-11-21T15:00:00Z")
    return parsed


def idempotency_key(key: str) -> str:
    if not key:
        raise ApiError(422, "missing_idempotency_key", "the Idempotency-Key header is required")
    if len(key) > 200 or not key.isprintable():
        raise ApiError(422, "invalid_idempotency_key", "Idempotency-Key must be 1-200 printable characters")
    return key
