"""The conventional baseline for `make bench`: the same reservation API decided by PostgreSQL alone.

Most flash-sale services (the seeds' Java services among them) decide an attempt with one conditional
`UPDATE sales SET remaining = remaining - q WHERE id = $1 AND remaining >= q` and insert the reservation in
the same transaction. The sale's row lock serialises its winners, which is the cost the Redis gate avoids.
Bench-only: its own tables (pg_only_*) in the benchmark's private database, no Redis, no outbox, no reaper.
Same request and response shapes, checks and error bodies as the service's POST /sales/{id}/reservations.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import cast

import asyncpg
import msgspec
from reservation.domain import validation as v
from reservation.domain.bodies import ReservationRequest
from reservation.domain.errors import ApiError
from reservation.http.api import NEW_SALE, check_sale_id
from reservation.http.auth import Authenticator
from reservation.http.errors import error_response
from reservation.shared.settings import Settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCHEMA = """
CREATE TABLE IF NOT EXISTS pg_only_sales (
    id             bigserial   PRIMARY KEY,
    name           text        NOT NULL,
    sku            text        NOT NULL,
    total_stock    integer     NOT NULL CHECK (total_stock > 0),
    remaining      integer     NOT NULL CHECK (remaining >= 0),
    per_user_limit integer     NOT NULL CHECK (per_user_limit > 0),
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    hold_seconds   integer     NOT NULL CHECK (hold_seconds > 0)
);
CREATE TABLE IF NOT EXISTS pg_only_reservations (
    id              uuid        PRIMARY KEY,
    sale_id         bigint      NOT NULL REFERENCES pg_only_sales (id),
    user_id         text        NOT NULL,
    quantity        integer     NOT NULL CHECK (quantity > 0),
    status          text        NOT NULL DEFAULT 'held',
    idempotency_key text        NOT NULL,
    expires_at      timestamptz NOT NULL,
    CONSTRAINT pg_only_idempotency UNIQUE (sale_id, user_id, idempotency_key)
);
"""

# The decision: the row lock it takes serialises a sale's winners until their commit.
TAKE = """
UPDATE pg_only_sales SET remaining = remaining - $2
WHERE id = $1 AND remaining >= $2 AND now() >= starts_at AND now() < ends_at
RETURNING per_user_limit, hold_seconds
"""
# Under that lock every earlier winner of the sale has committed, so this statement's sum is exact.
HOLD = """
INSERT INTO pg_only_reservations (id, sale_id, user_id, quantity, idempotency_key, expires_at)
SELECT $1::uuid, $2::bigint, $3::text, $4::integer, $5::text, now() + make_interval(secs => $6::integer)
WHERE (SELECT coalesce(sum(quantity), 0) FROM pg_only_reservations
       WHERE sale_id = $2 AND user_id = $3 AND status = 'held') + $4 <= $7::integer
ON CONFLICT ON CONSTRAINT pg_only_idempotency DO NOTHING
RETURNING expires_at
"""
# Why an attempt took nothing, and a replay of the same key, in one round trip.
REFUSAL = """
SELECT s.starts_at <= now() AS started, s.ends_at > now() AS open,
       r.id, r.quantity, r.status, r.expires_at
FROM pg_only_sales s
LEFT JOIN pg_only_reservations r ON r.sale_id = s.id AND r.user_id = $2 AND r.idempotency_key = $3
WHERE s.id = $1
"""
WINNERS = "SELECT coalesce(sum(quantity), 0) FROM pg_only_reservations WHERE sale_id = $1 AND status = 'held'"


@dataclass(frozen=True, slots=True)
class _JwtSettings:
    """The fields Authenticator reads, so tokens are checked exactly as the service checks them."""

    jwt_secret: str
    jwt_keys: Mapping[str, str] = field(default_factory=dict)  # one secret: no keyset, any kid ignored
    jwt_issuer: str | None = None
    jwt_audience: str | None = None


def _reservation(reservation_id: uuid.UUID, sale_id: int, quantity: int, status: str, expires_at) -> dict:
    return {
        "id": str(reservation_id),
        "sale_id": sale_id,
        "quantity": quantity,
        "status": status,
        "expires_at": expires_at.isoformat(),
    }


_ATTEMPT = msgspec.json.Decoder(ReservationRequest)


async def _json_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type")
    if not v.json_media_type(content_type.encode("latin-1") if content_type is not None else None):
        raise v.not_json()
    return await v.read_body(request.receive)


class PgOnlyApi:
    def __init__(self, database_url: str, jwt_secret: str) -> None:
        self.database_url = database_url
        self.auth = Authenticator(cast(Settings, _JwtSettings(jwt_secret)))
        self.pool: asyncpg.Pool | None = None

    async def create_sale(self, request: Request) -> Response:
        self.auth.admin(request)
        # The service's own body declarations (reservation.domain.bodies): the same bounds, the same 422s.
        new = v.decode(NEW_SALE, await _json_body(request))
        assert self.pool is not None
        sale_id = await self.pool.fetchval(
            "INSERT INTO pg_only_sales (name, sku, total_stock, remaining, per_user_limit, starts_at, ends_at,"
            " hold_seconds) VALUES ($1, $2, $3, $3, $4, $5, $6, $7) RETURNING id",
            *(new.name, new.sku, new.total_stock, new.per_user_limit, new.starts_at, new.ends_at, new.hold_seconds),
        )
        return JSONResponse({"id": sale_id, "total_stock": new.total_stock}, status_code=201)

    async def reserve(self, request: Request) -> Response:
        user = self.auth.principal(request).user_id
        key = v.idempotency_key(request.headers.get("idempotency-key", ""))
        quantity = v.decode(_ATTEMPT, await _json_body(request)).quantity
        sale_id = check_sale_id(request.path_params["sale_id"])
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            taken = await conn.fetchrow(TAKE, sale_id, quantity)
            if taken is not None:
                reservation_id = uuid.uuid4()
                expires_at = await conn.fetchval(
                    HOLD, reservation_id, sale_id, user, quantity, key, taken["hold_seconds"], taken["per_user_limit"]
                )
                if expires_at is not None:
                    return JSONResponse(_reservation(reservation_id, sale_id, quantity, "held", expires_at), 201)
            # Nothing held: find out why, then roll the decrement (if any) back with the transaction.
            why = await conn.fetchrow(REFUSAL, sale_id, user, key)
            raise _Refused(why, taken is not None, sale_id)

    async def live(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        assert self.pool is not None
        await self.pool.fetchval("SELECT 1")
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # The service's pool size, so both sides of the comparison have the same connections to PostgreSQL.
        self.pool = await asyncpg.create_pool(self.database_url, min_size=2, max_size=20, command_timeout=10)
        try:
            await self.pool.execute(SCHEMA)
            yield
        finally:
            await self.pool.close()


class _Refused(Exception):
    def __init__(self, why: asyncpg.Record | None, took_units: bool, sale_id: int) -> None:
        self.why, self.took_units, self.sale_id = why, took_units, sale_id


def _refusal(request: Request, exc: Exception) -> Response:
    why = cast(_Refused, exc).why
    if why is None:
        return error_response(404, "sale_not_found", "no such sale")
    if why["id"] is not None:  # the same key again: the first answer, as the service replays it
        body = _reservation(why["id"], cast(_Refused, exc).sale_id, why["quantity"], why["status"], why["expires_at"])
        return JSONResponse(body, 201, {"Idempotent-Replayed": "true"})
    if not why["started"]:
        return error_response(403, "sale_not_started", "the sale has not started")
    if not why["open"]:
        return error_response(403, "sale_ended", "the sale is over")
    if cast(_Refused, exc).took_units:
        return error_response(409, "user_limit_exceeded", "this would exceed your per-user limit for the sale")
    return error_response(409, "sold_out", "no units left")


def _api_error(request: Request, exc: Exception) -> Response:
    err = cast(ApiError, exc)
    return error_response(err.status, err.code, err.detail, err.headers)


def create_app(database_url: str, jwt_secret: str) -> Starlette:
    api = PgOnlyApi(database_url, jwt_secret)
    return Starlette(
        routes=[
            Route("/admin/sales", api.create_sale, methods=["POST"]),
            Route("/sales/{sale_id:int}/reservations", api.reserve, methods=["POST"]),
            Route("/health/live", api.live, methods=["GET"]),
            Route("/health/ready", api.ready, methods=["GET"]),
        ],
        exception_handlers={ApiError: _api_error, _Refused: _refusal},
        lifespan=api.lifespan,
    )


def main() -> None:
    """`python -m bench.pg_only_app`: serve it as the service is served (uvicorn, uvloop, httptools)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.pg_only_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    app = create_app(os.environ["DATABASE_URL"], os.environ["JWT_SECRET"])
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        # as the service (reservation/runtime/server.py): at a low offered rate a connection idles longer than
        # uvicorn's default 5 s, and a close racing the next request would fail the phase
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
