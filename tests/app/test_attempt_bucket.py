"""The per-buyer attempt bucket in the gate (lua/reserve.lua), against real Redis, single node and cluster:
a buyer gets `attempt_burst` attempts at once on a sale, then `attempts_per_second`; beyond that 429
`too_many_attempts` with Retry-After. Replays of admitted attempts are never refused, and the bucket
changes nothing about who wins."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from reservation.domain.keys import attempts_key, sale_keys
from reservation.gate.gate import Outcome, attempt_interval_us
from reservation.gate.rebuild import rebuild_sale
from reservation.http.service import too_many_attempts
from reservation.shared import cloudwatch_metrics as cw

from .conftest import ADMIN, REDIS_MODES, Harness, check_invariant, sale_body

NEVER_REFILLS = 0.01  # one attempt per 100 s: no refill within a test


def _refused(r: Any) -> int:
    """Asserts a 429 in the API's error shape; returns its Retry-After in seconds."""
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["error"] == "too_many_attempts" and "Retry-After" in body["detail"], body
    return int(r.headers["Retry-After"])


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_refuses_after_the_burst_per_buyer_and_per_sale(with_app) -> None:
    async def body(h: Harness) -> None:
        bucket = {"attempt_burst": 3, "attempts_per_second": 0.25}  # 3 at once, then one every 4 s
        sale = await h.create_sale(total_stock=100, per_user_limit=10, **bucket)
        other = await h.create_sale(total_stock=100, per_user_limit=10, **bucket)
        started = time.monotonic()
        burst = await asyncio.gather(*(h.reserve(sale["id"], "alice") for _ in range(3)))
        assert [r.status_code for r in burst] == [201, 201, 201]
        retry_after = _refused(await h.reserve(sale["id"], "alice"))
        elapsed = time.monotonic() - started
        # the next token is due 4 s after the burst: 4 s less what has passed since, rounded up
        assert 4 - math.ceil(elapsed) <= retry_after <= 4, elapsed
        _refused(await h.reserve(sale["id"], "alice", quantity=11))  # the bucket comes before the quantity check
        assert (await h.reserve(sale["id"], "bob")).status_code == 201  # another buyer: his own bucket
        assert (await h.reserve(other["id"], "alice")).status_code == 201  # another sale: another bucket
        c = await h.counters(sale["id"])
        assert c["held"] == 4  # the refusals held nothing
        check_invariant(c)

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_a_replay_of_an_admitted_attempt_is_answered_not_refused_and_costs_nothing(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(attempt_burst=2, attempts_per_second=NEVER_REFILLS)
        first = await h.reserve(sale["id"], "alice", key="k-1")
        assert first.status_code == 201
        for _ in range(3):
            again = await h.reserve(sale["id"], "alice", key="k-1")
            assert again.status_code == 201 and again.json() == first.json()
            assert again.headers["Idempotent-Replayed"] == "true"
        assert (await h.reserve(sale["id"], "alice", key="k-2")).status_code == 201  # the replays took no token
        _refused(await h.reserve(sale["id"], "alice", key="k-3"))
        replay = await h.reserve(sale["id"], "alice", key="k-1")  # with the bucket empty, still its answer
        assert replay.status_code == 201 and replay.json() == first.json()

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_the_bucket_refills_at_the_sales_rate(with_app) -> None:
    """Counted at the gate on a sale that has not started: an attempt the bucket lets through is refused
    as not_started (the window is checked after the bucket), so nothing is held however many pass."""

    async def body(h: Harness) -> None:
        later = datetime.now(UTC) + timedelta(hours=1)
        sale = await h.create_sale(
            starts_at=later.isoformat(),
            ends_at=(later + timedelta(hours=1)).isoformat(),
            attempt_burst=10,  # tokens saved over a stall of this loaded machine, up to 0.5 s, still count
            attempts_per_second=20,
        )
        gate = h.runtime.gate
        outcomes: Counter[Outcome] = Counter()
        started = time.monotonic()
        while time.monotonic() - started < 1.5:
            result = await gate.reserve(sale["id"], "alice", uuid.uuid4().hex, 1, str(uuid.uuid4()))
            outcomes[result.outcome] += 1
        elapsed = time.monotonic() - started
        assert set(outcomes) == {Outcome.NOT_STARTED, Outcome.TOO_MANY_ATTEMPTS}, outcomes
        assert outcomes[Outcome.TOO_MANY_ATTEMPTS] > outcomes[Outcome.NOT_STARTED]  # it was asked far faster
        # the burst of 10, then one every 50 ms
        assert abs(outcomes[Outcome.NOT_STARTED] - (10 + 20 * elapsed)) <= 2, (outcomes, elapsed)

    with_app(body)


def test_waiting_retry_after_lets_exactly_one_more_attempt_through(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(attempt_burst=1, attempts_per_second=0.5)
        started = time.monotonic()
        assert (await h.reserve(sale["id"], "alice")).status_code == 201
        retry_after = _refused(await h.reserve(sale["id"], "alice"))
        assert 2 - math.ceil(time.monotonic() - started) <= retry_after <= 2  # rounded up: waiting it is enough
        await asyncio.sleep(retry_after)
        assert (await h.reserve(sale["id"], "alice")).status_code == 201
        _refused(await h.reserve(sale["id"], "alice"))

    with_app(body)


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert [too_many_attempts(ms).headers for ms in (0, 1, 999, 1000, 1001, 4000)] == [
        {"Retry-After": s} for s in ("1", "1", "1", "1", "2", "4")
    ]
    refusal = too_many_attempts(1)
    assert (refusal.status, refusal.code) == (429, "too_many_attempts")


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_bucket_keys_share_the_sales_slot_and_expire_once_full_again(with_app, redis_mode: str) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(attempt_burst=2, attempts_per_second=10)
        key = attempts_key(sale["id"], "alice")
        assert key.startswith(f"fs:{{sale-{sale['id']}}}:")  # the sale's hash tag: the script stays single-slot
        redis = h.runtime.redis
        assert (await h.reserve(sale["id"], "alice")).status_code == 201
        # full again two intervals (100 ms each) after the attempt, and gone from Redis then
        assert 0 < await redis.pttl(key) <= 200
        await asyncio.sleep(0.3)
        assert await redis.exists(key) == 0

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_no_oversell_and_exact_winners_with_the_bucket_refusing_most_attempts(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(
            total_stock=100, per_user_limit=3, attempt_burst=5, attempts_per_second=NEVER_REFILLS
        )
        rng = random.Random(11)
        attempts = [(f"user-{rng.randrange(200)}", rng.choice((1, 1, 2, 3))) for _ in range(3000)]
        responses = await asyncio.gather(*(h.reserve(sale["id"], user, qty) for user, qty in attempts))
        assert {r.status_code for r in responses} == {201, 409, 429}
        let_through: Counter[str] = Counter()
        per_user: Counter[str] = Counter()
        for (user, qty), r in zip(attempts, responses, strict=True):
            if r.status_code != 429:
                let_through[user] += 1
            if r.status_code == 201:
                per_user[user] += qty
        tried = Counter(user for user, _ in attempts)
        assert all(let_through[u] == min(5, n) for u, n in tried.items())  # exactly the burst, per buyer
        assert sum(per_user.values()) == 100 and max(per_user.values()) <= 3  # sold out exactly, never beyond
        rows = await h.runtime.pool.fetch(
            "SELECT user_id, sum(quantity) AS units FROM reservations WHERE sale_id = $1 GROUP BY user_id", sale["id"]
        )
        assert {r["user_id"]: r["units"] for r in rows} == dict(per_user)
        check_invariant(await h.counters(sale["id"]))

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_a_rebuild_after_redis_lost_its_data_keeps_the_sales_bucket(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(per_user_limit=5, attempt_burst=2, attempts_per_second=NEVER_REFILLS)
        meta = sale_keys(sale["id"]).meta
        assert (await h.reserve(sale["id"], "alice")).status_code == 201
        await h.flush_redis()
        assert await rebuild_sale(h.runtime.pool, h.runtime.gate, sale["id"])
        loaded = await h.runtime.redis.hmget(meta, "attempt_us", "burst")
        assert [int(v) for v in loaded] == [attempt_interval_us(NEVER_REFILLS), 2] == [100_000_000, 2]
        # The flush took alice's bucket with it (she starts full again); the sale's settings came back.
        assert [(await h.reserve(sale["id"], "alice")).status_code for _ in range(2)] == [201, 201]
        _refused(await h.reserve(sale["id"], "alice"))

    with_app(body)


def test_a_sale_loaded_before_the_bucket_existed_is_not_limited_until_rebuilt(with_app) -> None:
    """A rolling deploy: the new script meets a sale whose gate an older task loaded, without the settings."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(attempt_burst=1, attempts_per_second=NEVER_REFILLS)
        await h.runtime.redis.hdel(sale_keys(sale["id"]).meta, "attempt_us", "burst")
        assert [(await h.reserve(sale["id"], "alice")).status_code for _ in range(3)] == [201, 201, 409]

    with_app(body)


def test_refusals_are_counted_like_the_others(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(attempt_burst=1, attempts_per_second=NEVER_REFILLS)
        await h.reserve(sale["id"], "alice")
        for _ in range(2):
            _refused(await h.reserve(sale["id"], "alice"))
        text = (await h.internal.get("/metrics")).text
        assert f'reservation_requests_total{{result="{cw.TOO_MANY_ATTEMPTS}"}} 2.0' in text
        assert 'route="/sales/{sale_id:int}/reservations",status="429"' in text

    with_app(body)


def test_a_new_sale_gets_the_default_bucket(with_app) -> None:
    async def body(h: Harness) -> None:
        new = sale_body(total_stock=100, per_user_limit=100)
        r = await h.client.post("/admin/sales", json=new, headers=ADMIN)
        assert r.status_code == 201, r.text
        sale = r.json()
        assert (sale["attempts_per_second"], sale["attempt_burst"]) == (1.0, 5)
        attempts = await asyncio.gather(*(h.reserve(sale["id"], "alice") for _ in range(6)))  # within a second
        assert sorted(r.status_code for r in attempts) == [201] * 5 + [429]

    with_app(body)


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("attempts_per_second", 0, "attempts_per_second: expected `float` >= 0.01"),
        ("attempts_per_second", 0.001, "attempts_per_second: expected `float` >= 0.01"),
        ("attempts_per_second", 1000.5, "attempts_per_second: expected `float` <= 1000.0"),
        ("attempts_per_second", "fast", "attempts_per_second: expected `float`, got `str`"),
        ("attempt_burst", 0, "attempt_burst: expected `int` >= 1"),
        ("attempt_burst", 1001, "attempt_burst: expected `int` <= 1000"),
        ("attempt_burst", 2.5, "attempt_burst: expected `int`, got `float`"),
        ("attempt_burst", None, "attempt_burst: expected `int`, got `null`"),
    ],
)
def test_create_sale_refuses_a_bucket_out_of_bounds(with_app, field: str, value: Any, detail: str) -> None:
    async def body(h: Harness) -> None:
        r = await h.client.post("/admin/sales", json=sale_body(**{field: value}), headers=ADMIN)
        assert r.status_code == 422, r.text
        assert r.json() == {"error": "invalid_input", "detail": detail}

    with_app(body)


def test_the_database_refuses_a_bucket_out_of_bounds(with_app) -> None:
    """Migration 005's CHECKs hold the same bounds as the API, for rows written by anything else."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale()
        for column, value in (("attempts_per_second", 0), ("attempts_per_second", 1001), ("attempt_burst", 0)):
            with pytest.raises(Exception, match=f"sales_{column}"):
                await h.runtime.pool.execute(f"UPDATE sales SET {column} = $2 WHERE id = $1", sale["id"], value)

    with_app(body)
