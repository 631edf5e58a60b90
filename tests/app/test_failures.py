"""What happens when PostgreSQL fails after the gate, when holds expire, and when Redis loses its data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import redis.asyncio as redis
from reservation.domain.keys import sale_keys
from reservation.domain.models import Reservation, Status
from reservation.gate.gate import Outcome
from reservation.gate.rebuild import rebuild_sale
from reservation.store import store

from .conftest import REDIS_MODES, Harness, bearer, check_invariant


async def _fail_inserts(h: Harness, sale_id: int) -> None:
    """A real database failure: a trigger that aborts every reservation insert for this sale."""
    await h.runtime.pool.execute(
        f"""
        CREATE OR REPLACE FUNCTION fail_sale_{sale_id}() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
        CREATE TRIGGER fail_sale_{sale_id} BEFORE INSERT ON reservations
            FOR EACH ROW WHEN (NEW.sale_id = {sale_id}) EXECUTE FUNCTION fail_sale_{sale_id}();
        """
    )


def test_db_failure_after_gate_returns_units_and_503(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=3, per_user_limit=3)
        await _fail_inserts(h, sale["id"])
        r = await h.reserve(sale["id"], "alice", 2, key="same-key")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
        assert r.headers["Retry-After"] == "1"
        c = await h.counters(sale["id"])
        assert (c["remaining"], c["held"]) == (3, 0)
        check_invariant(c)
        outbox = await h.runtime.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", str(sale["id"]))
        assert outbox == 1  # only sale.created: nothing was reserved

        await h.runtime.pool.execute(f"DROP TRIGGER fail_sale_{sale['id']} ON reservations")
        retry = await h.reserve(sale["id"], "alice", 2, key="same-key")  # the key was not burnt
        assert retry.status_code == 201
        # the user's count was compensated too: 2 + 1 fits a limit of 3
        assert (await h.reserve(sale["id"], "alice", 1)).status_code == 201

    with_app(body)


async def _slow_inserts(h: Harness, sale_id: int, failing_user: str) -> None:
    """Every reservation insert for this sale takes 0.5 s; `failing_user`'s then fails."""
    await h.runtime.pool.execute(
        f"""
        CREATE OR REPLACE FUNCTION slow_sale_{sale_id}() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN
            PERFORM pg_sleep(0.5);
            IF NEW.user_id = '{failing_user}' THEN RAISE EXCEPTION 'injected failure'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER slow_sale_{sale_id} BEFORE INSERT ON reservations
            FOR EACH ROW WHEN (NEW.sale_id = {sale_id}) EXECUTE FUNCTION slow_sale_{sale_id}();
        """
    )


def test_a_request_cancelled_while_committing_loses_nothing(with_app) -> None:
    """A client that disconnects after the gate admitted it: the hold still commits, or its units come back."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=4, per_user_limit=2)
        sid = sale["id"]
        await _slow_inserts(h, sid, failing_user="bob")
        for admitted, user in enumerate(("alice", "bob"), start=1):
            task = asyncio.create_task(h.runtime.service.reserve(sid, user, f"{user}-1", 1))
            async with asyncio.timeout(10):  # admitted by the gate; its commit is now in flight
                while (await h.counters(sid))["gate"]["held"] < admitted:
                    await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(10):  # the commit, or its failure and the compensation, ends without it
                while (c := await h.counters(sid))["held"] != 1 or c["gate"]["held"] != 1:
                    await asyncio.sleep(0.05)
            check_invariant(c)
            assert (c["remaining"], c["held"]) == (3, 1), (user, c)
        rows = await h.runtime.pool.fetch("SELECT user_id FROM reservations WHERE sale_id = $1", sid)
        assert [r["user_id"] for r in rows] == ["alice"]  # alice's hold committed; bob's units went back

    with_app(body)


def test_admission_from_a_rebuilt_redis_cannot_commit(with_app) -> None:
    """A hold admitted by a Redis that was flushed and rebuilt before its row committed is refused."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=1, per_user_limit=1)
        gate = await h.runtime.gate.reserve(sale["id"], "alice", "k", 1, str(uuid.uuid4()))
        assert gate.outcome is Outcome.OK
        await h.flush_redis()
        assert await rebuild_sale(h.runtime.pool, h.runtime.gate, sale["id"])
        held = Reservation(
            gate.reservation_id, sale["id"], "alice", 1, Status.HELD, "k", datetime.now(UTC) + timedelta(minutes=5)
        )
        assert await store.insert_held(h.runtime.pool, [(held, gate.epoch)]) == set()
        assert (await h.reserve(sale["id"], "bob")).status_code == 201  # the unit is still there for bob
        check_invariant(await h.counters(sale["id"]))

    with_app(body)


def test_holds_expire_and_units_return(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=2, per_user_limit=2, hold_seconds=1)
        held = (await h.reserve(sale["id"], "alice", 2)).json()
        assert (await h.reserve(sale["id"], "bob")).json()["error"] == "sold_out"
        await asyncio.sleep(1.1)
        late = await h.client.post(f"/reservations/{held['id']}/confirm", headers=bearer("alice"))
        assert late.status_code == 409 and late.json()["error"] == "hold_expired"
        # two replicas reaping at once return the units exactly once
        await asyncio.gather(h.runtime.reaper.tick(), h.runtime.reaper.tick())
        # Counted for this hold alone: other tests' holds in the session database may expire in the same pass.
        expiries = await h.runtime.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE payload->>'type' = 'reservation.expired'"
            " AND payload->>'reservation_id' = $1",
            held["id"],
        )
        assert expiries == 1
        got = await h.client.get(f"/reservations/{held['id']}", headers=bearer("alice"))
        assert got.json()["status"] == "expired"
        c = await h.counters(sale["id"])
        assert (c["remaining"], c["held"], c["confirmed"]) == (2, 0, 0)
        check_invariant(c)
        assert (await h.reserve(sale["id"], "bob")).status_code == 201

    with_app(body)


def test_redis_hold_without_a_row_is_reconciled(with_app) -> None:
    """An admission whose row never committed (e.g. the process died in between) is given back."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=1, per_user_limit=1, hold_seconds=1)
        gate = await h.runtime.gate.reserve(sale["id"], "ghost", "k", 1, str(uuid.uuid4()))
        assert gate.outcome is Outcome.OK
        await asyncio.sleep(1.1)
        h.runtime.reaper._grace_ms = 0  # production waits 30 s past expiry for a slow insert
        report = await h.runtime.reaper.tick()
        assert report.reconciled == 1
        snap = await h.runtime.gate.snapshot(sale["id"])
        assert snap is not None and (snap.remaining, snap.held) == (1, 0)
        assert (await h.reserve(sale["id"], "ghost", key="k")).status_code == 201

    with_app(body)


def test_sale_is_rebuilt_from_postgresql_after_redis_loses_data(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=10, per_user_limit=3)
        sid = sale["id"]
        first = (await h.reserve(sid, "alice", 2, key="a-1")).json()
        await h.reserve(sid, "alice", 1, key="a-2")
        bob = (await h.reserve(sid, "bob", 3)).json()
        await h.client.post(f"/reservations/{bob['id']}/confirm", headers=bearer("bob"))
        carol = (await h.reserve(sid, "carol", 1)).json()
        await h.client.post(f"/reservations/{carol['id']}/release", headers=bearer("carol"))
        before = await h.counters(sid)

        await h.flush_redis()
        refused = await h.reserve(sid, "dave")
        assert refused.status_code == 503 and refused.json()["error"] == "sale_loading"
        for _ in range(200):  # the refused attempt started one rebuild in the background (10 s at most)
            if await h.runtime.gate.snapshot(sid) is not None:
                break
            await asyncio.sleep(0.05)
        after = await h.counters(sid)
        assert {k: after[k] for k in ("remaining", "held", "confirmed")} == {
            k: before[k] for k in ("remaining", "held", "confirmed")
        }
        check_invariant(after)
        # per-user counts, idempotency keys and holds came back too
        assert (await h.reserve(sid, "alice", 1)).json()["error"] == "user_limit_exceeded"
        assert (await h.reserve(sid, "alice", 2, key="a-1")).json()["id"] == first["id"]
        assert (await h.client.post(f"/reservations/{first['id']}/release", headers=bearer("alice"))).status_code == 200
        assert (await h.counters(sid))["remaining"] == before["remaining"] + 2

    with_app(body)


async def _until_rebuilt(h: Harness, sale_id: int) -> None:
    """A refused commit marked the gate stale and started a rebuild: wait (10 s at most) until the gate holds
    the sale at PostgreSQL's epoch again."""
    for _ in range(200):
        row = await store.get_sale(h.runtime.pool, sale_id)
        snap = await h.runtime.gate.snapshot(sale_id)
        if row is not None and snap is not None and snap.epoch == row.redis_epoch:
            return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_postgresql_refuses_to_oversell_what_a_stale_redis_admits(with_app) -> None:
    """A Redis failover can lose the last writes: the new primary then admits units already held."""

    async def body(h: Harness) -> None:
        sid = (await h.create_sale(total_stock=3, per_user_limit=1))["id"]
        for n in range(3):
            assert (await h.reserve(sid, f"early-{n}")).status_code == 201
        await h.runtime.redis.set(sale_keys(sid).stock, 2)  # two decrements lost in the failover

        registry = h.runtime.service._metrics.registry
        refused_before = registry.get_sample_value("reservation_requests_total", {"result": "guard_refused"}) or 0

        late = await asyncio.gather(*(h.reserve(sid, f"late-{n}") for n in range(2)))

        assert [r.status_code for r in late] == [503, 503], [r.text for r in late]
        # Counted for the sale alarm that pages when Redis and PostgreSQL disagree.
        refused = registry.get_sample_value("reservation_requests_total", {"result": "guard_refused"})
        assert refused is not None and refused > refused_before
        await _until_rebuilt(h, sid)
        assert (await h.reserve(sid, "later")).json()["error"] == "sold_out"
        c = await h.counters(sid)
        assert (c["held"], c["remaining"]) == (3, 0)
        check_invariant(c)

    with_app(body)


@pytest.mark.parametrize("redis_mode", REDIS_MODES)
def test_postgresql_keeps_the_per_user_limit_when_a_stale_redis_forgets_it(with_app) -> None:
    async def body(h: Harness) -> None:
        sid = (await h.create_sale(total_stock=10, per_user_limit=1))["id"]
        assert (await h.reserve(sid, "frank")).status_code == 201
        await h.runtime.redis.hdel(sale_keys(sid).users, "frank")  # the failover lost frank's count

        again = await h.reserve(sid, "frank")

        assert again.status_code == 503, again.text
        await _until_rebuilt(h, sid)
        assert (await h.reserve(sid, "frank")).json()["error"] == "user_limit_exceeded"
        c = await h.counters(sid)
        assert (c["held"], c["remaining"]) == (1, 9)
        check_invariant(c)

    with_app(body)


def test_two_transactions_for_one_buyer_cannot_both_pass_the_limit(with_app) -> None:
    """The database's own check, without the gate: the second waits for the first, then sees its hold."""

    async def body(h: Harness) -> None:
        sid = (await h.create_sale(total_stock=10, per_user_limit=1))["id"]
        sale = await store.get_sale(h.runtime.pool, sid)
        assert sale is not None
        expires = datetime.now(UTC) + timedelta(minutes=5)

        def hold(key: str) -> Reservation:
            return Reservation(str(uuid.uuid4()), sid, "grace", 1, Status.HELD, key, expires)

        async with h.runtime.pool.acquire() as first, h.runtime.pool.acquire() as second:
            tx = first.transaction()
            await tx.start()
            assert len(await store.insert_held(first, [(hold("g-1"), sale.redis_epoch)])) == 1
            blocked = asyncio.create_task(store.insert_held(second, [(hold("g-2"), sale.redis_epoch)]))
            await asyncio.sleep(0.3)
            assert not blocked.done()  # waiting for the first transaction's lock on this buyer
            await tx.commit()
            with pytest.raises(asyncpg.CheckViolationError) as refused:
                await blocked
        assert store.is_oversell(refused.value)
        assert (await h.counters(sid))["held"] == 1

    with_app(body)


def test_concurrent_rebuild_triggers_rebuild_once(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=5)
        await h.reserve(sale["id"], "alice")
        await h.flush_redis()
        results = await asyncio.gather(*(rebuild_sale(h.runtime.pool, h.runtime.gate, sale["id"]) for _ in range(8)))
        assert sum(results) == 1
        await h.runtime.reaper.tick()  # the periodic check (it reloads other tests' flushed sales)
        row = await store.get_sale(h.runtime.pool, sale["id"])
        assert row is not None and row.redis_epoch == 2  # ...but leaves this current one alone
        check_invariant(await h.counters(sale["id"]))

    with_app(body)


def test_one_failing_commit_does_not_fail_its_batch(with_app) -> None:
    """Concurrent winners share one transaction; a failing row is retried alone and only it gets 503."""

    async def body(h: Harness) -> None:
        good = await h.create_sale(total_stock=20, per_user_limit=1)
        bad = await h.create_sale(total_stock=20, per_user_limit=1)
        await _fail_inserts(h, bad["id"])
        attempts = [(good["id"], f"g{i}") for i in range(20)] + [(bad["id"], f"b{i}") for i in range(20)]
        responses = await asyncio.gather(*(h.reserve(sale_id, user) for sale_id, user in attempts))
        assert [r.status_code for r in responses] == [201] * 20 + [503] * 20
        assert (await h.counters(good["id"]))["held"] == 20
        bad_counters = await h.counters(bad["id"])
        assert (bad_counters["remaining"], bad_counters["held"]) == (20, 0)
        check_invariant(bad_counters)

    with_app(body)


def test_no_oversell_when_redis_is_flushed_under_load(with_app) -> None:
    """Attempts keep coming while Redis loses everything twice; the rebuilt gate still sells exactly the stock."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=250, per_user_limit=2)  # 150 buyers want up to 300
        sid = sale["id"]
        stop = asyncio.Event()
        won: dict[str, int] = {}
        won_at_flush: list[int] = []
        refused_while_loading = 0

        async def buyer(n: int) -> None:
            nonlocal refused_while_loading
            i = 0
            while not stop.is_set():
                i += 1
                r = await h.reserve(sid, f"user-{n}", key=f"{n}-{i}")
                if r.status_code == 201:
                    won[r.json()["id"]] = 1
                elif r.status_code == 503:
                    refused_while_loading += 1
                await asyncio.sleep(0.02)

        async def chaos() -> None:
            try:
                async with asyncio.timeout(20):
                    for sold in (60, 160):  # flush while the sale is in progress, whatever the machine's speed
                        while len(won) < sold:
                            await asyncio.sleep(0.001)
                        won_at_flush.append(len(won))
                        await h.flush_redis()
                await asyncio.sleep(1.5)
            finally:
                stop.set()

        await asyncio.gather(chaos(), *(buyer(n) for n in range(150)))
        assert refused_while_loading > 0 and won_at_flush[0] < 250  # the flushes hit a sale in progress
        c = await h.counters(sid)
        check_invariant(c)
        assert c["held"] == len(won) == 250 and c["remaining"] == 0
        per_user = await h.runtime.pool.fetch(
            "SELECT user_id, sum(quantity) AS n FROM reservations WHERE sale_id = $1 GROUP BY user_id", sid
        )
        assert max(r["n"] for r in per_user) <= 2

    with_app(body)


def test_concurrent_retries_with_one_key_make_one_reservation(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=10, per_user_limit=5)
        responses = await asyncio.gather(*(h.reserve(sale["id"], "alice", 1, key="retry-me") for _ in range(30)))
        assert {r.status_code for r in responses} == {201}
        assert len({r.json()["id"] for r in responses}) == 1
        assert (await h.counters(sale["id"]))["held"] == 1

    with_app(body)


def test_redis_connection_loss_is_503_then_recovers(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=5, per_user_limit=5)
        assert (await h.reserve(sale["id"], "alice")).status_code == 201
        await h.runtime.redis.client_kill_filter(_type="normal", skipme=True)  # drops the gate's connections
        statuses = [(await h.reserve(sale["id"], "alice")).status_code for _ in range(3)]
        assert set(statuses) <= {201, 503} and statuses[-1] == 201, statuses  # reconnects by itself
        check_invariant(await h.counters(sale["id"]))
        await h.runtime.redis.config_set("requirepass", "locked-out")  # new connections now fail
        try:
            await h.runtime.redis.client_kill_filter(_type="normal", skipme=False)
            r = await h.reserve(sale["id"], "alice")
            assert r.status_code == 503 and r.json()["error"] == "unavailable", r.text
        finally:
            admin = redis.Redis.from_url(h.redis_url, password="locked-out")
            await admin.config_set("requirepass", "")
            await admin.aclose()

    with_app(body)


def test_serve_runs_the_reaper_in_the_background(with_app) -> None:
    """With background=True (as `reservation serve` runs), expiry and rebuild need no outside help."""

    async def body(h: Harness) -> None:
        sale = await h.create_sale(total_stock=1, per_user_limit=1, hold_seconds=1)
        held = (await h.reserve(sale["id"], "alice")).json()
        await h.flush_redis()
        for _ in range(200):  # the reaper ticks every second: rebuild, then expiry (20 s at most)
            await asyncio.sleep(0.1)
            got = (await h.client.get(f"/reservations/{held['id']}", headers=bearer("alice"))).json()
            snap = await h.runtime.gate.snapshot(sale["id"])
            if got["status"] == "expired" and snap is not None and snap.remaining == 1:
                break
        else:
            raise AssertionError(f"hold not expired by the background reaper: {got}, {snap}")
        check_invariant(await h.counters(sale["id"]))

    with_app(body, background=True)
