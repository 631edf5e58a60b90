"""The cost of a reservation attempt's request parsing and validation, without a server, Redis or PostgreSQL.

Drives the hot path's endpoint (ReserveEndpoint.attempt) over N attempt bodies: headers are scanned, the
Idempotency-Key and Content-Type checked, the body read and decoded, then a stub service refuses the attempt
(sold out), as it does most attempts of a flash sale. Token checking is stubbed too: it is not request parsing
and did not change. Whichever `reservation` package is first on the path is measured, so the same driver
compares two versions (README, "Benchmark"):

    python -m bench.parse_cost --attempts 200000 --rounds 15          # wall time: median and spread per round
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m bench.parse_cost --attempts 20000 --rounds 1      # instructions ("Collected"), less --attempts 0
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Coroutine
from typing import Any

from reservation.domain.errors import ApiError
from reservation.http import hot_path
from reservation.http.api import Handlers


class _Principal:
    user_id = "buyer-1"


class _Auth:
    def bearer(self, _: str) -> _Principal:
        return _Principal()


class _SoldOut:
    async def reserve(self, sale_id: int, user: str, key: str, quantity: int) -> Any:
        raise ApiError(409, "sold_out", "no units left")  # a new one each time, as the service's refusals


def _endpoint() -> hot_path.ReserveEndpoint:
    handlers = Handlers(_Auth())  # type: ignore[arg-type]
    handlers.service = _SoldOut()  # type: ignore[assignment]
    return hot_path.ReserveEndpoint(handlers)


def _scope(n: int) -> dict[str, Any]:
    # The headers bench/run.py's load generator sends, in its order.
    return {
        "type": "http",
        "method": "POST",
        "path": "/sales/1/reservations",
        "path_params": {"sale_id": 1},
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
            (b"idempotency-key", f"attempt-{n:08d}".encode()),
            (b"content-length", b"15"),
        ],
    }


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Nothing here waits on I/O, so one step runs the attempt to its end (no event loop to measure)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the attempt waited on something")


def run_round(endpoint: hot_path.ReserveEndpoint, requests: list[tuple[dict[str, Any], bytes]]) -> float:
    """Seconds for one pass over the requests; each must be refused as sold out."""
    start = time.perf_counter()
    for scope, body in requests:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
            return message

        status, _, _ = _run(endpoint.attempt(scope, receive))
        if status != 409:
            raise AssertionError(f"expected the stub's 409, got {status}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=200_000, help="attempt bodies per round")
    parser.add_argument("--rounds", type=int, default=15, help="rounds; the median and spread are reported")
    args = parser.parse_args()
    endpoint = _endpoint()
    requests = [(_scope(n), b'{"quantity": %d}' % (1 + n % 5)) for n in range(args.attempts)]
    times = [run_round(endpoint, requests) for _ in range(args.rounds)] if args.attempts else []
    if times:
        per = sorted(t / args.attempts * 1e9 for t in times)
        print(
            f"{hot_path.__file__}: {args.attempts} attempts x {args.rounds} rounds: "
            f"median {statistics.median(per):.0f} ns/attempt (min {per[0]:.0f}, max {per[-1]:.0f})"
        )


if __name__ == "__main__":
    main()
