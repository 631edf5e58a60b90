"""The public HTTP endpoints (the ALB forwards these). Docstrings are for people; the OpenAPI document
lives in openapi.py. The internal ones (/metrics, readiness detail, /openapi.json) are in internal.py."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..domain import validation as v
from ..domain.bodies import NewSale
from ..domain.errors import ApiError
from .auth import Authenticator
from .service import ReservationService

MAX_SALE_ID = 2**31 - 1  # the second half of the sale's advisory lock key is a PostgreSQL int4
NEW_SALE = msgspec.json.Decoder(NewSale)


def sale_id(request: Request) -> int:
    return check_sale_id(request.path_params["sale_id"])


def check_sale_id(value: int) -> int:
    if value > MAX_SALE_ID:
        raise ApiError(404, "sale_not_found", f"no sale {value}")
    return value


class Handlers:
    """Endpoints bound to the objects the lifespan creates (set before the first request)."""

    service: ReservationService

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    async def create_sale(self, request: Request) -> Response:
        """Admin: create a sale and load it into the gate."""
        self.auth.admin(request)
        content_type = request.headers.get("content-type")
        if not v.json_media_type(content_type.encode("latin-1") if content_type is not None else None):
            raise v.not_json()
        new = v.decode(NEW_SALE, await v.read_body(request.receive))
        sale = await self.service.create_sale(new)
        return JSONResponse(sale.to_json(), status_code=201)

    async def sale_counters(self, request: Request) -> Response:
        """Admin: a sale's counters, as the gate (Redis) and the truth (PostgreSQL) see them."""
        self.auth.admin(request)
        sale, gate, database = await self.service.counters(sale_id(request))
        return JSONResponse(
            {
                "sale": sale.to_json(),
                **database.to_json(),
                "gate": gate.to_json() if gate else None,
            }
        )

    async def availability(self, request: Request) -> Response:
        """Buyer: remaining units and whether the sale is open."""
        self.auth.principal(request)
        found = await self.service.availability(sale_id(request))
        return JSONResponse(found.to_json())

    async def get_reservation(self, request: Request) -> Response:
        """Buyer: one of your own reservations."""
        user = self.auth.principal(request).user_id
        found = await self.service.get(user, str(request.path_params["reservation_id"]))
        return JSONResponse(found.to_json())

    async def confirm(self, request: Request) -> Response:
        """Buyer: turn your hold into a purchase."""
        user = self.auth.principal(request).user_id
        done = await self.service.confirm(user, str(request.path_params["reservation_id"]))
        return JSONResponse(done.to_json())

    async def release(self, request: Request) -> Response:
        """Buyer: give your hold back."""
        user = self.auth.principal(request).user_id
        done = await self.service.release(user, str(request.path_params["reservation_id"]))
        return JSONResponse(done.to_json())

    async def live(self, _: Request) -> Response:
        """The process answers (the load balancer's check; no dependencies)."""
        return JSONResponse({"status": "ok"})

    def routes(self) -> list[Route]:
        """Every public route but the hot one (hot_path.py). The ALB forwards only these (the web service's
        `paths` in Pulumi.yaml; tests/infra/test_public_paths.py keeps the two in step)."""
        return [
            Route("/admin/sales", self.create_sale, methods=["POST"]),
            Route("/admin/sales/{sale_id:int}/counters", self.sale_counters, methods=["GET"]),
            Route("/sales/{sale_id:int}/availability", self.availability, methods=["GET"]),
            Route("/reservations/{reservation_id:uuid}", self.get_reservation, methods=["GET"]),
            Route("/reservations/{reservation_id:uuid}/confirm", self.confirm, methods=["POST"]),
            Route("/reservations/{reservation_id:uuid}/release", self.release, methods=["POST"]),
            Route("/health/live", self.live, methods=["GET"]),
        ]
