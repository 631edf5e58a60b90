"""Property-based tests of the whole API from its own OpenAPI document (schemathesis, on hypothesis).

Every operation gets generated requests, valid and invalid, with an admin's or a buyer's token (or none where
schemathesis tests that one is required); each response must not be a server error, must have a status the
document declares for the operation, and must match the declared schema, content type and headers. Valid path
ids are mostly those of a live sale and of the buyer's own held reservations, so generated requests reserve,
confirm and release for real; each operation must have succeeded at least once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from reservation.http.app import create_app
from reservation.http.openapi import OPENAPI
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .conftest import ADMIN, LIFTED_BUCKET, sale_body, token

BUYER = "property-buyer"
# Filled by the `live` fixture, before any case is generated: the ids valid path parameters mostly take.
# The held reservations are split so that confirming some leaves others to release.
LIVE: dict[str, list[Any]] = {}
SUCCESSES: Counter[str] = Counter()  # 2xx responses by operation


class DeferredApp:
    """The ASGI app schemathesis calls in-process. The real app needs the session's database: the `client`
    fixture creates it and sets it here before the first request (which starts its lifespan)."""

    target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


APP = DeferredApp()
schema = schemathesis.openapi.from_dict(OPENAPI)
schema.app = APP  # as schemathesis.openapi.from_asgi does: the checks' own probes reach the app too


def _live_ids(path: str, name: str) -> list[Any]:
    if name == "reservation_id":
        return (
            LIVE.get(path.rsplit("/", 1)[-1], []) if path.endswith(("/confirm", "/release")) else LIVE.get("held", [])
        )
    return LIVE.get(name, [])


def _valid(name: str, value: Any) -> bool:
    if name == "sale_id":
        return type(value) is int and value >= 1
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any] | None):
    """Two in three valid ids become ids that exist, so operations do their work rather than answer 404; an
    invalid id (a negative case) is left as it is."""
    assert context.operation is not None
    live = {
        name: st.sampled_from(ids)
        for name, value in (path_parameters or {}).items()
        if _valid(name, value) and (ids := _live_ids(context.operation.path, name))
    }
    if not live:
        return st.just(path_parameters)
    replaced = st.fixed_dictionaries({**{name: st.just(value) for name, value in path_parameters.items()}, **live})
    return st.one_of(replaced, replaced, st.just(path_parameters))


@schema.hook
def after_call(context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response) -> None:
    if 200 <= response.status_code < 300:
        SUCCESSES[case.operation.label] += 1


@schema.auth(refresh_interval=None, retry_on=[])
class Bearer:
    """An admin's token for /admin operations, a buyer's otherwise. Attempts are made by fresh buyers, so that
    the per-user limit rarely refuses them; the held reservations are BUYER's."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        if case.path.startswith("/admin/"):
            return token("property-admin", admin=True)
        return token(BUYER if "reservation_id" in (case.path_parameters or {}) else f"buyer-{uuid.uuid4().hex[:8]}")

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def client(settings) -> Iterator[asgi.ASGIClient]:
    """The app on schemathesis' in-process client; its lifespan runs on that client's event loop thread."""
    APP.target = create_app(settings, background=False)
    try:
        with asgi.get_client(APP) as client:
            yield client
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def live(client: asgi.ASGIClient) -> None:
    sale = sale_body(
        name="property sale",
        sku="PROP-1",
        total_stock=10_000_000,
        per_user_limit=1000,
        ends_at=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        hold_seconds=3600,
        **LIFTED_BUCKET,  # BUYER's eight holds come at once
    )
    created = client.post("/admin/sales", json=sale, headers=ADMIN)
    assert created.status_code == 201, created.text
    LIVE["sale_id"] = [created.json()["id"]]
    held = []
    for n in range(8):
        headers = {"Authorization": f"Bearer {token(BUYER)}", "Idempotency-Key": f"property-{n}"}
        r = client.post(f"/sales/{LIVE['sale_id'][0]}/reservations", json={"quantity": 1}, headers=headers)
        assert r.status_code == 201, r.text
        held.append(r.json()["id"])
    LIVE.update(held=held, confirm=held[:4], release=held[4:])


@pytest.fixture
def succeeds(request: pytest.FixtureRequest) -> Iterator[None]:
    """After all of an operation's examples: generated requests got past validation and did the work."""
    yield
    operation = request.node.name.partition("[")[2].removesuffix("]")  # e.g. "POST /admin/sales"
    assert SUCCESSES[operation] > 0, f"no generated request to {operation} succeeded"


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_outside_its_contract(case: schemathesis.Case, live, succeeds) -> None:
    case.call_and_validate(excluded_checks=_beyond_the_schema(case))


def _beyond_the_schema(case: schemathesis.Case) -> list:
    """Where the API is stricter than JSON Schema can say, a schema-valid body may be refused (422): an integer
    written as a float (JSON Schema's "integer" includes 35.0; the API wants 35), a quantity above the sale's
    per_user_limit, and ends_at not after starts_at. Generated sales are put in order so that more of them are
    created."""
    body = case.body
    if not isinstance(body, dict):
        return []
    refusable = any(isinstance(value, float) and value.is_integer() for value in body.values())
    if case.path == "/sales/{sale_id}/reservations":  # a sale other than the live one may have a lower limit
        refusable = refusable or case.path_parameters["sale_id"] not in LIVE["sale_id"]
    if case.path == "/admin/sales":
        try:
            starts, ends = (datetime.fromisoformat(body[name]) for name in ("starts_at", "ends_at"))
        except (KeyError, TypeError, ValueError):  # not a well-formed pair: the schema alone decides
            return [positive_data_acceptance] if refusable else []
        if ends < starts:
            body["starts_at"], body["ends_at"] = body["ends_at"], body["starts_at"]
        refusable = refusable or ends == starts
    return [positive_data_acceptance] if refusable else []
