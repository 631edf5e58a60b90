"""Request parsing: the body is decoded and checked against its declaration in bodies.py; anything malformed
becomes a 4xx with the API's error shape, naming the field and what is allowed."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from .errors import ApiError

MAX_BODY = 16 * 1024
T = TypeVar("T")

# Printable Latin-1 (the header's bytes as Starlette decodes them), no surrounding spaces (HTTP strips them).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~\xa1-\xac\xae-\xff](?:[ -~\xa1-\xac\xae-\xff]{0,198}[!-~\xa1-\xac\xae-\xff])?$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_AT_FIELD = re.compile(r"^(?P<what>.*) - at `\$\.(?P<field>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")


def invalid(detail: str) -> ApiError:
    return ApiError(422, "invalid_input", detail)


def not_json() -> ApiError:  # a new one each time: a raised instance keeps the frames it passed through
    return ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")


def json_media_type(content_type: bytes | None) -> bool:
    """A body without a Content-Type is taken as JSON; one that declares another type is not."""
    if content_type is None or content_type == b"application/json":
        return True
    media_type = content_type.partition(b";")[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


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


def decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise _invalid_value(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ApiError(422, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:  # msgspec's nesting limit is the interpreter's recursion limit
        raise ApiError(422, "invalid_json", "the request body nests too deeply") from None


def _invalid_value(message: str) -> ApiError:
    if message.startswith("Expected `object`"):
        return ApiError(422, "invalid_json", "the request body must be a JSON object")
    if missing := _MISSING.match(message):
        return invalid(f"{missing['field']} is required")
    at_field = _AT_FIELD.match(message)
    if at_field is None:  # a check across fields (NewSale.__post_init__) already names them
        return invalid(message)
    field, what = at_field["field"], at_field["what"]
    if "matching regex" in what:
        what = "text that is not blank and has no control characters (such as NUL)"
    return invalid(f"{field}: {what.replace('Expected', 'expected', 1)}")


def idempotency_key(key: str) -> str:
    if not key:
        raise ApiError(422, "missing_idempotency_key", "the Idempotency-Key header is required")
    if _IDEMPOTENCY_KEY.fullmatch(key) is None:
        raise ApiError(
            422,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-200 printable characters, without spaces at either end",
        )
    return key
