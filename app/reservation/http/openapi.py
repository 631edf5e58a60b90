"""The OpenAPI document. Bodies come from their declarations in domain/bodies.py (the same Structs validate requests);
the paths and status codes are listed here, and tests/app/test_openapi.py keeps them in step with the routes."""

from __future__ import annotations

from typing import Any

import msgspec

from ..domain import bodies
from ..domain.validation import IDEMPOTENCY_KEY_PATTERN, MAX_BODY

_REF = "#/components/schemas/{name}"
_, _SCHEMAS = msgspec.json.schema_components(
    [
        bodies.ReservationRequest,
        bodies.NewSale,
        bodies.Error,
        bodies.Sale,
        bodies.SaleCounters,
        bodies.Availability,
        bodies.Reservation,
        bodies.Live,
    ],
    ref_template=_REF,
)
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def _json(schema: type) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(name=schema.__name__)}}}


def _ok(description: str, schema: type, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": _json(schema), **({"headers": headers} if headers else {})}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _ok(description, bodies.Error, headers)


_SALE_ID = {"name": "sale_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_RES_ID = {"name": "reservation_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "names the attempt: a retry with the same key (same buyer and sale) gets the same reservation",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": IDEMPOTENCY_KEY_PATTERN},
}
_UNAVAILABLE = {"503": _error("unavailable: PostgreSQL or Redis is down; retry", _RETRY_AFTER)}
_BUYER = {"401": _error("missing or invalid bearer token"), **_UNAVAILABLE}
_ADMIN = {**_BUYER, "403": _error("forbidden: not an admin")}
_BODY = {
    "413": _error(f"body_too_large: more than {MAX_BODY} bytes"),
    "415": _error("unsupported_media_type: a Content-Type other than application/json (none is taken as JSON)"),
}


def _body(schema: type) -> dict[str, Any]:
    return {"required": True, "content": _json(schema)}


def _hold_change(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [_RES_ID],
        "responses": {
            "200": _ok("the reservation after the change (repeating it is harmless)", bodies.Reservation),
            **_BUYER,
            "404": _error("reservation_not_found: no such reservation of yours"),
            "409": _error("hold_expired or reservation_not_held"),
        },
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Flash-sale reservation service", "version": "0.1.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": _SCHEMAS,
    },
    "paths": {
        "/admin/sales": {
            "post": {
                "summary": "Create a sale (admin role)",
                "security": [{"bearer": []}],
                "requestBody": _body(bodies.NewSale),
                "responses": {
                    "201": _ok("created", bodies.Sale),
                    **_ADMIN,
                    **_BODY,
                    "422": _error("invalid_json or invalid_input: the detail names the field and what is allowed"),
                },
            }
        },
        "/admin/sales/{sale_id}/counters": {
            "get": {
                "summary": "A sale's counters (admin role): initial = remaining + held + confirmed",
                "security": [{"bearer": []}],
                "parameters": [_SALE_ID],
                "responses": {
                    "200": _ok("counters from PostgreSQL, and from the Redis gate under `gate`", bodies.SaleCounters),
                    **_ADMIN,
                    "404": _error("sale_not_found"),
                },
            }
        },
        "/sales/{sale_id}/availability": {
            "get": {
                "summary": "Remaining units and the sale's state",
                "security": [{"bearer": []}],
                "parameters": [_SALE_ID],
                "responses": {
                    "200": _ok("availability", bodies.Availability),
                    **_BUYER,
                    "404": _error("sale_not_found"),
                    "503": _error(
                        "sale_loading (the sale is being rebuilt from PostgreSQL) or unavailable; retry", _RETRY_AFTER
                    ),
                },
            }
        },
        "/sales/{sale_id}/reservations": {
            "post": {
                "summary": "Hold units; the buyer is the token's subject",
                "security": [{"bearer": []}],
                "parameters": [_SALE_ID, _IDEMPOTENCY_KEY],
                "requestBody": _body(bodies.ReservationRequest),
                "responses": {
                    "201": _ok(
                        "held; a retry with the same key returns the same reservation",
                        bodies.Reservation,
                        {"Idempotent-Replayed": {"description": "true on a retry", "schema": {"const": "true"}}},
                    ),
                    **_BUYER,
                    **_BODY,
                    "403": _error("sale_not_started or sale_ended"),
                    "404": _error("sale_not_found"),
                    "409": _error("sold_out, user_limit_exceeded, or request_in_progress (same key in flight)"),
                    "429": _error(
                        "too_many_attempts: this buyer's attempts on the sale are over its attempt_burst and "
                        "attempts_per_second; a retry of an admitted attempt (same key) is never refused",
                        {"Retry-After": {**_RETRY_AFTER["Retry-After"], "schema": {"type": "integer", "minimum": 1}}},
                    ),
                    "422": _error(
                        "invalid_json, invalid_input, invalid_quantity (above the sale's per_user_limit), "
                        "missing_idempotency_key or invalid_idempotency_key"
                    ),
                    "503": _error(
                        "sale_loading or unavailable; nothing was reserved; retry with the same key", _RETRY_AFTER
                    ),
                },
            }
        },
        "/reservations/{reservation_id}": {
            "get": {
                "summary": "One of your reservations",
                "security": [{"bearer": []}],
                "parameters": [_RES_ID],
                "responses": {
                    "200": _ok("the reservation", bodies.Reservation),
                    **_BUYER,
                    "404": _error("reservation_not_found: no such reservation of yours"),
                },
            }
        },
        "/reservations/{reservation_id}/confirm": {"post": _hold_change("Confirm your hold (buy)")},
        "/reservations/{reservation_id}/release": {"post": _hold_change("Release your hold")},
        "/health/live": {"get": {"summary": "Process liveness", "responses": {"200": _ok("alive", bodies.Live)}}},
    },
}
