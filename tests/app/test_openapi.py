"""The hand-written OpenAPI document covers exactly the routes the app serves."""

from __future__ import annotations

import re

from reservation.app import create_app
from reservation.openapi import OPENAPI

from .conftest import Harness


def test_openapi_matches_routes(settings) -> None:
    app = create_app(settings, background=False)
    served = {(re.sub(r":\w+}", "}", r.path), m.lower()) for r in app.routes for m in r.methods if m != "HEAD"}
    documented = {(path, method) for path, ops in OPENAPI["paths"].items() for method in ops}
    assert served == documented


def test_openapi_is_served(with_app) -> None:
    async def body(h: Harness) -> None:
        r = await h.client.get("/openapi.json")
        assert r.status_code == 200 and r.json()["openapi"].startswith("3.")

    with_app(body)
