"""The HTTP contract: routes, status codes and the JSON error shape."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import ADMIN, REDIS_MODES, Harness, bearer, check_invariant


def _is_error(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]


def test_reserve_confirm_release_flow(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=5, per_user_limit=3)
        r = await h.reserve(sale["id"], "alice", 2)
        assert r.status_code == 201, r.text
        held = r.json()
        assert held["status"] == "held" and held["quantity"] == 2
        assert datetime.fromisoformat(held["expires_at"]) > datetime.now(UTC) + timedelta(seconds=250)

        got = await h.client.get(f"/reservations/{held['id']}", headers=bearer("alice"))
        assert got.json() == held
        stranger = await h.client.get(f"/reservations/{held['id']}", headers=bearer("bob"))
        _is_error(stranger, 404, "reservation_not_found")
        other = await h.client.post(f"/reservations/{held['id']}/confirm", headers=bearer("bob"))
        _is_error(other, 404, "reservation_not_found")

        confirmed = await h.client.post(f"/reservations/{held['id']}/confirm", headers=bearer("alice"))
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
        again = await h.client.post(f"/reservations/{held['id']}/confirm", headers=bearer("alice"))
        assert again.json()["status"] == "confirmed"
        late = await h.client.post(f"/reservations/{held['id']}/release", headers=bearer("alice"))
        _is_error(late, 409, "reservation_not_held")

        second = (await h.reserve(sale["id"], "alice", 1)).json()
        released = await h.client.post(f"/reservations/{second['id']}/release", headers=bearer("alice"))
        assert released.json()["status"] == "released"

        c = await h.counters(sale["id"])
        assert (c["initial"], c["remaining"], c["held"], c["confirmed"]) == (5, 3, 0, 2)
        check_invariant(c)
        avail = await h.client.get(f"/sales/{sale['id']}/availability", headers=bearer("carol"))
        assert avail.json()["remaining"] == 3 and avail.json()["state"] == "active"

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_sold_out_and_user_limit_have_distinct_codes(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=3, per_user_limit=2)
        assert (await h.reserve(sale["id"], "u1", 2)).status_code == 201
        _is_error(await h.reserve(sale["id"], "u1", 1), 409, "user_limit_exceeded")
        assert (await h.reserve(sale["id"], "u2", 1)).status_code == 201
        _is_error(await h.reserve(sale["id"], "u3", 1), 409, "sold_out")
        _is_error(await h.reserve(sale["id"], "u3", 3), 422, "invalid_quantity")  # above the limit

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_idempotent_retry_returns_the_same_reservation(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=10, per_user_limit=5)
        first = await h.reserve(sale["id"], "alice", 1, key="k-1")
        again = await h.reserve(sale["id"], "alice", 1, key="k-1")
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        # the key is per user: bob's "k-1" is his own reservation
        bobs = await h.reserve(sale["id"], "bob", 1, key="k-1")
        assert bobs.json()["id"] != first.json()["id"]
        assert (await h.counters(sale["id"]))["held"] == 2

    with_app(body)


def test_sale_window(with_app) -> None:
    async def body(h: Harness) -> None:
        now = datetime.now(UTC)
        hour = timedelta(hours=1)
        later = await h.create_sale(starts_at=(now + hour).isoformat(), ends_at=(now + 2 * hour).isoformat())
        _is_error(await h.reserve(later["id"], "u"), 403, "sale_not_started")
        over = await h.create_sale(starts_at=(now - 2 * hour).isoformat(), ends_at=(now - hour).isoformat())
        _is_error(await h.reserve(over["id"], "u"), 403, "sale_ended")
        avail = await h.client.get(f"/sales/{over['id']}/availability", headers=bearer("u"))
        assert avail.json()["state"] == "ended"

    with_app(body)


def test_invalid_input_is_422_json(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        url = f"/sales/{sale['id']}/reservations"
        headers = {**bearer("u"), "Idempotency-Key": "k"}
        _is_error(await h.client.post(url, content=b"{not json", headers=headers), 422, "invalid_json")
        _is_error(await h.client.post(url, content=b"[1]", headers=headers), 422, "invalid_json")
        for quantity in (0, -1, 1.5, "1", True, None, 10**9):
            _is_error(await h.client.post(url, json={"quantity": quantity}, headers=headers), 422, "invalid_input")
        _is_error(await h.client.post(url, json={"quantity": 1}, headers=bearer("u")), 422, "missing_idempotency_key")
        bad_sale = {"name": "x", "sku": "y", "total_stock": 0, "per_user_limit": 1}
        _is_error(await h.client.post("/admin/sales", json=bad_sale, headers=ADMIN), 422, "invalid_input")
        now = datetime.now(UTC)
        backwards = {
            "name": "x", "sku": "y", "total_stock": 1, "per_user_limit": 1, "hold_seconds": 5,
            "starts_at": now.isoformat(), "ends_at": (now - timedelta(seconds=1)).isoformat(),
        }  # fmt: skip
        _is_error(await h.client.post("/admin/sales", json=backwards, headers=ADMIN), 422, "invalid_input")
        naive = {**backwards, "ends_at": "2030-01-01T00:00:00"}
        _is_error(await h.client.post("/admin/sales", json=naive, headers=ADMIN), 422, "invalid_input")

    with_app(body)


def test_auth_errors(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        url = f"/sales/{sale['id']}/availability"
        _is_error(await h.client.get(url), 401, "missing_token")
        _is_error(await h.client.get(url, headers={"Authorization": "Bearer nope"}), 401, "invalid_token")
        _is_error(await h.client.post("/admin/sales", json={}, headers=bearer("buyer")), 403, "forbidden")
        _is_error(await h.client.get(f"/admin/sales/{sale['id']}/counters", headers=bearer("buyer")), 403, "forbidden")

    with_app(body)


def test_not_found_and_method_errors_are_json(with_app) -> None:
    async def body(h: Harness) -> None:
        _is_error(await h.client.get("/nope"), 404, "not_found")
        _is_error(await h.client.get("/sales/999999/availability", headers=bearer("u")), 404, "sale_not_found")
        _is_error(await h.reserve(2**40, "u"), 404, "sale_not_found")
        unknown = await h.client.get(f"/reservations/{uuid.uuid4()}", headers=bearer("u"))
        _is_error(unknown, 404, "reservation_not_found")
        _is_error(await h.client.delete("/health/live"), 405, "method_not_allowed")

    with_app(body)


def test_health_and_metrics(with_app) -> None:
    async def body(h: Harness) -> None:
        assert (await h.client.get("/health/live")).json() == {"status": "ok"}
        ready = await h.internal.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"] == {"postgresql": "ok", "redis": "ok"}
        sale = await h.create_sale(total_stock=1)
        await h.reserve(sale["id"], "a")
        await h.reserve(sale["id"], "b")
        text = (await h.internal.get("/metrics")).text
        route = "/sales/{sale_id:int}/reservations"
        assert f'http_server_requests_seconds_count{{method="POST",route="{route}",status="201"}}' in text
        assert 'reservation_requests_total{result="reserved"}' in text
        assert 'reservation_requests_total{result="sold_out"}' in text
        assert "reservation_success_total 1.0" in text
        assert f'reservation_stock_remaining{{sale_id="{sale["id"]}"}} 0.0' in text

        async def broken() -> None:
            raise ConnectionError("kafka unreachable")

        h.client._transport.app.state.readiness.add("kafka", broken)  # the relay's hook
        ready = await h.internal.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["kafka"].startswith("failed: ConnectionError")

    with_app(body)


def test_body_limits_and_chunked_bodies(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        url = f"/sales/{sale['id']}/reservations"
        headers = {**bearer("u"), "Idempotency-Key": "big"}
        big = await h.client.post(url, content=b'{"quantity": 1, "pad": "' + b"x" * 20_000 + b'"}', headers=headers)
        _is_error(big, 413, "body_too_large")

        async def chunks():
            yield b'{"quan'
            yield b'tity": 1}'

        assert (await h.client.post(url, content=chunks(), headers=headers)).status_code == 201

    with_app(body)


def _sale_body(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "name": "x", "sku": "y", "total_stock": 1, "per_user_limit": 1, "hold_seconds": 5,
        "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=1)).isoformat(), **overrides,
    }  # fmt: skip


def test_deeply_nested_json_is_422_not_500(with_app) -> None:
    """Nesting deeper than the interpreter's recursion limit, inside the 16 KiB body limit."""
    deep = b"[" * 6000 + b"]" * 6000

    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        headers = {**bearer("u"), "Idempotency-Key": "deep", "Content-Type": "application/json"}
        url = f"/sales/{sale['id']}/reservations"
        for content in (deep, b'{"quantity": 1, "pad": ' + deep + b"}"):
            _is_error(await h.client.post(url, content=content, headers=headers), 422, "invalid_json")
            r = await h.client.post(
                "/admin/sales", content=content, headers={**ADMIN, "Content-Type": "application/json"}
            )
            _is_error(r, 422, "invalid_json")
        assert (await h.counters(sale["id"]))["remaining"] == sale["total_stock"]

    with_app(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "nul \u0000 inside"),  # PostgreSQL text cannot hold NUL
        ("sku", "\u0000"),
        ("name", "\ud800"),  # a lone surrogate: not encodable as UTF-8
        ("name", "\udc00 tail"),
        ("ends_at", "9999-12-31T23:59:59-01:00"),  # past year 9999 in UTC
        ("starts_at", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("ends_at", "9999-12-31T23:00:00Z"),  # ends_at + hold + margin overflows
        ("name", "   "),
        ("name", "x" * 201),
    ],
)
def test_sale_input_the_stores_refuse_is_422_naming_the_field(with_app, field: str, value: str) -> None:
    async def body(h: Harness) -> None:
        before = await h.runtime.pool.fetchval("SELECT count(*) FROM sales")
        content = json.dumps(_sale_body(**{field: value})).encode()  # \u escapes, as a client's encoder sends
        r = await h.client.post("/admin/sales", content=content, headers={**ADMIN, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["error"] in ("invalid_input", "invalid_json")
        # a lone surrogate is refused as invalid JSON (msgspec), whose message gives the byte offset instead
        assert field in r.json()["detail"] or r.json()["error"] == "invalid_json", r.json()
        assert await h.runtime.pool.fetchval("SELECT count(*) FROM sales") == before

    with_app(body)


def test_sale_limits_are_inclusive(with_app) -> None:
    async def body(h: Harness) -> None:
        edge = _sale_body(
            name=" " + "n" * 198 + " ",  # the limit counts the spaces that are then dropped
            total_stock=10_000_000,
            per_user_limit=1000,
            hold_seconds=86_400,
            starts_at="2000-01-01T00:00:00Z",
            ends_at="2099-12-31T23:59:59Z",
        )
        r = await h.client.post("/admin/sales", json=edge, headers=ADMIN)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "n" * 198
        for field, value in (("total_stock", 10_000_001), ("hold_seconds", 86_401), ("per_user_limit", 1001)):
            r = await h.client.post("/admin/sales", json={**edge, field: value}, headers=ADMIN)
            _is_error(r, 422, "invalid_input")
            assert field in r.json()["detail"]
        late = await h.client.post("/admin/sales", json={**edge, "ends_at": "2100-01-01T00:00:00Z"}, headers=ADMIN)
        _is_error(late, 422, "invalid_input")
        assert late.json()["detail"] == "ends_at must be in the years 2000 to 2099"

    with_app(body)


def test_a_body_that_is_not_json_is_415(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(per_user_limit=3)
        url = f"/sales/{sale['id']}/reservations"
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            headers = {**bearer("u"), "Idempotency-Key": "ct", "Content-Type": content_type}
            _is_error(
                await h.client.post(url, content=b'{"quantity": 1}', headers=headers), 415, "unsupported_media_type"
            )
            admin = {**ADMIN, "Content-Type": content_type}
            r = await h.client.post("/admin/sales", content=json.dumps(_sale_body()).encode(), headers=admin)
            _is_error(r, 415, "unsupported_media_type")
        for content_type in ("application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"):
            headers = {**bearer("u"), "Idempotency-Key": content_type, "Content-Type": content_type}
            assert (await h.client.post(url, content=b'{"quantity": 1}', headers=headers)).status_code == 201

    with_app(body)


def test_invalid_input_details_name_the_field_and_the_bound(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        url = f"/sales/{sale['id']}/reservations"
        headers = {**bearer("u"), "Idempotency-Key": "k"}
        r = await h.client.post(url, json={"quantity": 1001}, headers=headers)
        _is_error(r, 422, "invalid_input")
        assert r.json()["detail"] == "quantity: expected `int` <= 1000"
        r = await h.client.post(url, json={}, headers=headers)
        assert r.json()["detail"] == "quantity is required"
        for key in ("x" * 201, " padded", "tab\there", "nul\x00"):
            r = await h.client.post(url, json={"quantity": 1}, headers={**bearer("u"), "Idempotency-Key": key})
            _is_error(r, 422, "invalid_idempotency_key")

    with_app(body)
