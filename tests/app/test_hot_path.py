"""Reservation attempts skip Starlette's stack (hot_path.py): they must be answered exactly as through it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import Harness, bearer

TRACE = {"X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678"}


async def _call(
    app: Any, path: str, headers: dict[str, str], body: bytes, root_path: str = "", sent: list[dict] | None = None
) -> list[dict]:
    """One raw ASGI request, its messages sent into `sent`; a root_path sends it through Starlette's router."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "root_path": root_path,
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "query_string": b"",
        # One trace id both ways, so that the X-Request-Id each echoes compares equal
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in {**TRACE, **headers}.items()],
    }
    received = [{"type": "http.request", "body": body, "more_body": False}]
    sent = [] if sent is None else sent

    async def receive() -> dict:
        return received.pop(0) if received else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _attempt(user: str, key: str, quantity: Any = 1) -> tuple[dict[str, str], bytes]:
    return {**bearer(user), "Idempotency-Key": key}, json.dumps({"quantity": quantity}).encode()


def test_hot_path_answers_as_starlette_does(with_app) -> None:
    async def body(h: Harness) -> None:
        app = h.client._transport.app
        sale = await h.create_sale(total_stock=1, per_user_limit=1)
        path = f"/sales/{sale['id']}/reservations"
        key = uuid.uuid4().hex
        cases = [
            _attempt("a", key),  # 201 through the hot path, replayed through Starlette
            _attempt("a", key),  # replayed both ways
            _attempt("b", uuid.uuid4().hex),  # sold out
            _attempt("c", uuid.uuid4().hex, quantity=True),  # 422
            ({"Idempotency-Key": "k"}, b"{}"),  # 401 with WWW-Authenticate
            (bearer("d"), b"{}"),  # missing key
            _attempt("e", "x" * 201),
            ({**bearer("f"), "Idempotency-Key": "k"}, b"[1]"),
            ({**bearer("g"), "Idempotency-Key": "k"}, b"x" * 20_000),  # 413
        ]
        for headers, payload in cases:
            hot = await _call(app, path, headers, payload)
            routed = await _call(app, path, headers, payload, root_path="/api")
            if hot[0]["status"] == 201:  # the first attempt wins; its replay carries the same body
                assert routed[0]["status"] == 201
                assert dict(routed[0]["headers"])[b"idempotent-replayed"] == b"true"
                assert json.loads(hot[1]["body"]) == json.loads(routed[1]["body"])
                continue
            assert hot[0]["status"] == routed[0]["status"] and hot[0]["headers"] == routed[0]["headers"]
            assert hot[1]["body"] == routed[1]["body"]
        missing = await _call(app, "/sales/2147483648/reservations", *_attempt("h", "k"))
        assert missing[0]["status"] == 404 and json.loads(missing[1]["body"])["error"] == "sale_not_found"

    with_app(body)


def test_hot_path_refuses_too_many_attempts_as_starlette_does(with_app) -> None:
    async def body(h: Harness) -> None:
        app = h.client._transport.app
        sale = await h.create_sale(attempt_burst=1, attempts_per_second=0.01)  # one attempt, then one per 100 s
        path = f"/sales/{sale['id']}/reservations"
        assert (await _call(app, path, *_attempt("a", uuid.uuid4().hex)))[0]["status"] == 201
        hot = await _call(app, path, *_attempt("a", uuid.uuid4().hex))
        routed = await _call(app, path, *_attempt("a", uuid.uuid4().hex), root_path="/api")
        assert hot[0]["status"] == routed[0]["status"] == 429
        assert hot[0]["headers"] == routed[0]["headers"] and hot[1]["body"] == routed[1]["body"]
        assert json.loads(hot[1]["body"])["error"] == "too_many_attempts"
        assert dict(hot[0]["headers"])[b"retry-after"] == b"100"

    with_app(body)


def test_hot_path_unexpected_error_is_a_logged_500(with_app, caplog) -> None:
    async def body(h: Harness) -> None:
        app = h.client._transport.app
        sale = await h.create_sale()

        async def broken(*_: Any) -> None:
            raise RuntimeError("boom")

        h.runtime.service.reserve = broken  # type: ignore[method-assign]
        path = f"/sales/{sale['id']}/reservations"
        for root_path in ("", "/api"):
            sent: list[dict] = []
            with pytest.raises(RuntimeError):  # re-raised for the server to log, as Starlette does
                await _call(app, path, *_attempt("a", uuid.uuid4().hex), root_path=root_path, sent=sent)
            assert sent[0]["status"] == 500 and json.loads(sent[1]["body"])["error"] == "internal_error"
        assert caplog.text.count("unhandled error on POST") == 2
        text = (await h.internal.get("/metrics")).text
        assert 'route="/sales/{sale_id:int}/reservations",status="500"' in text

    with_app(body)


@pytest.mark.parametrize("user", ["buyer-1", 'bü€r "quoted" \\ /slash\ttab', "\u2028\x01"])
def test_201_body_is_the_bytes_starlette_renders(user) -> None:
    """The hot path encodes a 201 with msgspec, not through JSONResponse: the bytes must not differ."""
    from datetime import UTC, datetime

    from reservation.domain.models import Reservation, Status
    from reservation.http.hot_path import _json
    from starlette.responses import JSONResponse

    held = Reservation(str(uuid.uuid4()), 2**53 + 1, user, 3, Status.HELD, "key", datetime(9999, 12, 31, tzinfo=UTC))
    content = {**held.to_json(), "user_id": held.user_id}  # a text field that may hold any character
    assert _json(content) == JSONResponse(content).body
