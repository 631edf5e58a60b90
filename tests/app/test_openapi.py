"""The OpenAPI document covers exactly the routes the app serves, and publishes the bounds the app enforces."""

from __future__ import annotations

import re

import msgspec
from reservation.domain import bodies
from reservation.http.app import create_app
from reservation.http.openapi import OPENAPI

from .conftest import ADMIN, Harness, bearer

# Operations that read a body; every operation that reaches PostgreSQL or Redis.
BODY_OPERATIONS = {("/admin/sales", "post"), ("/sales/{sale_id}/reservations", "post")}
DEPENDENCY_FREE = {("/health/live", "get")}


def _operations() -> dict[tuple[str, str], dict]:
    return {(path, method): op for path, ops in OPENAPI["paths"].items() for method, op in ops.items()}


def _schema(name: str) -> dict:
    return OPENAPI["components"]["schemas"][name]


def test_openapi_matches_routes(settings) -> None:
    app = create_app(settings, background=False)
    served = {(re.sub(r":\w+}", "}", r.path), m.lower()) for r in app.routes for m in r.methods if m != "HEAD"}
    assert served == set(_operations())


def test_request_bodies_are_the_validating_structs() -> None:
    """The published request schemas are generated from the very Structs the endpoints decode with."""
    _, generated = msgspec.json.schema_components(
        [bodies.NewSale, bodies.ReservationRequest], ref_template="#/components/schemas/{name}"
    )
    for name in ("NewSale", "ReservationRequest"):
        assert _schema(name) == generated[name]
    ops = _operations()
    for path, method in BODY_OPERATIONS:
        ref = ops[path, method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in ("NewSale", "ReservationRequest")


def test_bounds_are_published() -> None:
    quantity = _schema("ReservationRequest")["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 1000)
    sale = _schema("NewSale")["properties"]
    assert (sale["total_stock"]["minimum"], sale["total_stock"]["maximum"]) == (1, 10_000_000)
    assert sale["hold_seconds"]["maximum"] == 86_400 and sale["per_user_limit"]["maximum"] == 1000
    assert sale["name"]["maxLength"] == 200 and sale["sku"]["maxLength"] == 100
    for name in ("starts_at", "ends_at"):
        assert sale[name]["pattern"] == "^20[0-9]{2}-" and "2000 to 2099" in sale[name]["description"]
    assert (sale["attempts_per_second"]["minimum"], sale["attempts_per_second"]["maximum"]) == (0.01, 1000)
    assert (sale["attempt_burst"]["minimum"], sale["attempt_burst"]["maximum"]) == (1, 1000)
    assert (sale["attempts_per_second"]["default"], sale["attempt_burst"]["default"]) == (1.0, 5)
    key = next(p for p in _operations()["/sales/{sale_id}/reservations", "post"]["parameters"] if p["in"] == "header")
    assert key["name"] == "Idempotency-Key" and key["required"]
    assert (key["schema"]["minLength"], key["schema"]["maxLength"]) == (1, 200)
    assert re.fullmatch(key["schema"]["pattern"], "4f1c-retry-1") and not re.fullmatch(key["schema"]["pattern"], "a\tb")


def test_statuses_are_declared_where_they_can_happen() -> None:
    for (path, method), op in _operations().items():
        declared = set(op["responses"])
        if (path, method) in BODY_OPERATIONS:
            assert {"413", "415", "422"} <= declared, path
        if (path, method) not in DEPENDENCY_FREE:
            assert {"401", "503"} <= declared, path
            assert "Retry-After" in op["responses"]["503"]["headers"], path
        if path.startswith("/admin/"):
            assert "403" in declared, path
    refused = _operations()["/sales/{sale_id}/reservations", "post"]["responses"]["429"]
    assert "too_many_attempts" in refused["description"]
    assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}


def test_openapi_is_served(with_app) -> None:
    async def body(h: Harness) -> None:
        r = await h.internal.get("/openapi.json")
        assert r.status_code == 200 and r.json() == OPENAPI


def test_responses_decode_as_their_declared_structs(with_app) -> None:
    """The bodies the endpoints build by hand match the Structs the document publishes for them."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        msgspec.convert(sale, bodies.Sale, strict=False)
        held = (await h.reserve(sale["id"], "u")).json()
        msgspec.convert(held, bodies.Reservation, strict=False)
        counters = await h.counters(sale["id"])
        assert msgspec.convert(counters, bodies.SaleCounters, strict=False).gate is not None
        availability = await h.client.get(f"/sales/{sale['id']}/availability", headers=bearer("u"))
        msgspec.convert(availability.json(), bodies.Availability, strict=False)
        refused = await h.client.post("/admin/sales", json={}, headers=ADMIN)
        msgspec.convert(refused.json(), bodies.Error)

    with_app(body)
