"""The OpenAPI document, written by hand; tests/app/test_openapi.py keeps it in step with the routes."""

from __future__ import annotations

from typing import Any


def _ok(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _error(description: str) -> dict[str, Any]:
    return _ok(description, "Error")


_AUTH_ERRORS = {"401": _error("missing or invalid bearer token")}
_SALE_ID = {"name": "sale_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_RES_ID = {"name": "reservation_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
_PLAIN = {"200": {"description": "ok"}}


def _hold_change(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [_RES_ID],
        "responses": {
            "200": _ok("the reservation after the change (repeating it is harmless)", "Reservation"),
            **_AUTH_ERRORS,
            "404": _error("no such reservation of yours"),
            "409": _error("hold_expired or reservation_not_held"),
        },
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Flash-sale reservation service", "version": "0.1.0"},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
            },
            "NewSale": {
                "type": "object",
                "required": ["name", "sku", "total_stock", "per_user_limit", "starts_at", "ends_at", "hold_seconds"],
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "sku": {"type": "string", "maxLength": 100},
                    "total_stock": {"type": "integer", "minimum": 1},
                    "per_user_limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "hold_seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
                },
            },
            "Sale": {"allOf": [{"$ref": "#/components/schemas/NewSale"}, {"properties": {"id": {"type": "integer"}}}]},
            "Counters": {
                "type": "object",
                "properties": {
                    "sale": {"$ref": "#/components/schemas/Sale"},
                    "initial": {"type": "integer"},
                    "remaining": {"type": "integer"},
                    "held": {"type": "integer"},
                    "confirmed": {"type": "integer"},
                    "gate": {
                        "description": "the same counters in Redis; null while it is rebuilt or once the sale closed"
                    },
                },
            },
            "Availability": {
                "type": "object",
                "properties": {
                    "sale_id": {"type": "integer"},
                    "remaining": {"type": "integer"},
                    "per_user_limit": {"type": "integer"},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "state": {"enum": ["upcoming", "active", "sold_out", "ended"]},
                },
            },
            "Reservation": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "sale_id": {"type": "integer"},
                    "quantity": {"type": "integer"},
                    "status": {"enum": ["held", "confirmed", "released", "expired"]},
                    "expires_at": {"type": "string", "format": "date-time", "description": "end of the hold"},
                },
            },
        },
    },
    "paths": {
        "/admin/sales": {
            "post": {
                "summary": "Create a sale (admin role)",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewSale"}}},
                },
                "responses": {
                    "201": _ok("created", "Sale"),
                    **_AUTH_ERRORS,
                    "403": _error("not an admin"),
                    "422": _error("invalid input"),
                },
            }
        },
        "/admin/sales/{sale_id}/counters": {
            "get": {
                "summary": "A sale's counters (admin role): initial = remaining + held + confirmed",
                "security": [{"bearer": []}],
                "parameters": [_SALE_ID],
                "responses": {
                    "200": _ok("counters from PostgreSQL, and from the Redis gate under `gate`", "Counters"),
                    **_AUTH_ERRORS,
                    "403": _error("not an admin"),
                    "404": _error("no such sale"),
                },
            }
        },
        "/sales/{sale_id}/availability": {
            "get": {
                "summary": "Remaining units and the sale's state",
                "security": [{"bearer": []}],
                "parameters": [_SALE_ID],
                "responses": {
                    "200": _ok("availability", "Availability"),
                    **_AUTH_ERRORS,
                    "404": _error("no such sale"),
                    "503": _error("sale_loading: the sale is being rebuilt from PostgreSQL; retry"),
                },
            }
        },
        "/sales/{sale_id}/reservations": {
            "post": {
                "summary": "Hold units; the buyer is the token's subject",
                "security": [{"bearer": []}],
                "parameters": [
                    _SALE_ID,
                    {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["quantity"],
                                "properties": {"quantity": {"type": "integer", "minimum": 1}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _ok("held; a retry with the same key returns the same reservation", "Reservation"),
                    **_AUTH_ERRORS,
                    "403": _error("sale_not_started or sale_ended"),
                    "404": _error("no such sale"),
                    "409": _error("sold_out, user_limit_exceeded, or request_in_progress (same key in flight)"),
                    "422": _error("invalid JSON, quantity, or Idempotency-Key"),
                    "503": _error("sale_loading or unavailable; nothing was reserved; retry with the same key"),
                },
            }
        },
        "/reservations/{reservation_id}": {
            "get": {
                "summary": "One of your reservations",
                "security": [{"bearer": []}],
                "parameters": [_RES_ID],
                "responses": {
                    "200": _ok("the reservation", "Reservation"),
                    **_AUTH_ERRORS,
                    "404": _error("no such reservation of yours"),
                },
            }
        },
        "/reservations/{reservation_id}/confirm": {"post": _hold_change("Confirm your hold (buy)")},
        "/reservations/{reservation_id}/release": {"post": _hold_change("Release your hold")},
        "/health/live": {"get": {"summary": "Process liveness", "responses": _PLAIN}},
        "/health/ready": {
            "get": {
                "summary": "Readiness of PostgreSQL and Redis",
                "responses": {**_PLAIN, "503": _error("a dependency is down")},
            }
        },
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": _PLAIN}},
        "/openapi.json": {"get": {"summary": "This document", "responses": _PLAIN}},
    },
}
