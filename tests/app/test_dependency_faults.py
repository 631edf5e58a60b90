"""PostgreSQL connections lost under the service: every request answers 503 with Retry-After or succeeds,
never 500; a dead connection is discarded; a commit whose answer was lost is resolved from PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import redis.exceptions
from reservation.domain.errors import is_dependency_error
from reservation.domain.models import NewSale
from reservation.http.app import _keep_session  # the app's pools keep session settings, as a failover's do
from reservation.shared.settings import Settings
from reservation.store import store
from reservation.store.pg_pool import connection_options

from .conftest import ADMIN, Harness, bearer, check_invariant

KILLER = "test-killer"


async def _terminate_idle(killer: asyncpg.Connection) -> int:
    """pg_terminate_backend on every idle connection of the app's pool (this test database only)."""
    return len(
        await killer.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )
    )


def _no_server_error(r: httpx.Response) -> None:
    assert r.status_code != 500, r.text
    if r.status_code == 503:
        assert r.json()["error"] in ("unavailable", "sale_loading") and r.headers["Retry-After"] == "1", r.text


def test_idle_connections_killed_under_every_endpoint_give_503_never_500(with_app, migrated: str) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=1000, per_user_limit=1000))["id"]
        # A sale over hours ago: never loaded into Redis, so availability and attempts read PostgreSQL.
        closed = await h.runtime.service.create_sale(_over_hours_ago())
        won = await h.reserve(sale, "alice", key="alice-won")
        assert won.status_code == 201
        holds = [(await h.reserve(sale, "alice")).json()["id"] for _ in range(80)]
        killer = await asyncpg.connect(migrated, server_settings={"application_name": KILLER})
        statuses: Counter[int] = Counter()
        try:
            for n in range(40):
                await _terminate_idle(killer)
                alice = bearer("alice")
                calls = [
                    h.client.get(f"/reservations/{holds[n]}", headers=alice),
                    h.client.post(f"/reservations/{holds[2 * n]}/confirm", headers=alice),
                    h.client.post(f"/reservations/{holds[2 * n + 1]}/release", headers=alice),
                    h.client.get(f"/admin/sales/{sale}/counters", headers=ADMIN),
                    h.client.get(f"/sales/{closed.id}/availability", headers=alice),
                    h.reserve(sale, "alice", key="alice-won"),  # the replay reads PostgreSQL
                    h.reserve(closed.id, "alice", key="late"),  # the closed-sale reads
                ]
                for r in await asyncio.gather(*calls):
                    _no_server_error(r)
                    statuses[r.status_code] += 1
                await asyncio.sleep(0.005)
        finally:
            await killer.close()
        assert statuses[503] > 0, statuses  # the terminations did hit requests
        # Every broken connection was discarded: with PostgreSQL up, nothing fails any more.
        for _ in range(3):
            for r in await asyncio.gather(
                *(h.client.get(f"/admin/sales/{sale}/counters", headers=ADMIN) for _ in range(20)),
                *(h.client.get(f"/sales/{closed.id}/availability", headers=bearer("bob")) for _ in range(20)),
            ):
                assert r.status_code == 200, r.text
        check_invariant(await h.counters(sale))

    with_app(body)


def _over_hours_ago() -> NewSale:
    now = datetime.now(UTC)
    return NewSale("Closed", "SKU-C", 5, 2, now - timedelta(hours=6), now - timedelta(hours=5), 60)


def test_a_connection_to_a_node_that_refuses_writes_is_discarded(settings: Settings) -> None:
    """After a failover the old writer refuses writes on the connections it keeps: the pool must open a new
    one (which finds the new writer) instead of handing the refusing one out again."""

    async def main() -> None:
        pool = await asyncpg.create_pool(
            settings.database_url, min_size=1, max_size=1, reset=_keep_session, **connection_options(settings)
        )
        try:
            async with pool.acquire() as conn:
                await conn.execute("SET SESSION default_transaction_read_only = on")  # the node became a reader
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError) as refused:
                await pool.execute("UPDATE sales SET redis_epoch = redis_epoch WHERE id = $1", -1)
            assert is_dependency_error(refused.value)
            assert await pool.fetchval("SHOW default_transaction_read_only") == "off"  # a fresh connection
        finally:
            await pool.close()

    asyncio.run(main())


# One of each kind of failure the libraries raise when the dependency is down or the connection unusable.
DEPENDENCY_FAILURES = [
    asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.TooManyConnectionsError("too many clients already"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.ReadOnlySQLTransactionError("cannot execute UPDATE in a read-only transaction"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    TimeoutError(),
    ConnectionRefusedError(111, "Connection refused"),
    redis.exceptions.ConnectionError("Connection reset by peer"),
    redis.exceptions.TimeoutError("Timeout reading from socket"),
    redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
    redis.exceptions.ClusterDownError("The cluster is down"),
    redis.exceptions.MasterDownError("Link with MASTER is down"),
    redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
    redis.exceptions.SlotNotCoveredError("Slot 42 is not covered by the cluster"),
]


def test_every_kind_of_dependency_failure_is_503_with_retry_after(with_app, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the Starlette endpoints and on the hot path alike."""

    async def body(h: Harness) -> None:
        sale = (await h.create_sale())["id"]
        for failure in DEPENDENCY_FAILURES:

            async def fail(*_: object, failure: Exception = failure) -> None:
                raise failure

            with monkeypatch.context() as m:
                m.setattr(store, "get_reservation", fail)
                m.setattr(h.runtime.gate, "reserve", fail)
                read = await h.client.get(f"/reservations/{uuid.uuid4()}", headers=bearer("alice"))
                attempt = await h.reserve(sale, "alice")
            for r in (read, attempt):
                assert r.status_code == 503, (failure, r.text)
                assert r.json()["error"] == "unavailable" and r.headers["Retry-After"] == "1", (failure, r.text)

    with_app(body)


async def _slow_commits(h: Harness, sale_id: int) -> None:
    """Every reservation insert of this sale sleeps a second first: time to cut its connection."""
    await h.runtime.pool.execute(
        f"""
        CREATE OR REPLACE FUNCTION slow_commit_{sale_id}() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$;
        CREATE TRIGGER slow_commit_{sale_id} BEFORE INSERT ON reservations
            FOR EACH ROW WHEN (NEW.sale_id = {sale_id}) EXECUTE FUNCTION slow_commit_{sale_id}();
        """
    )


async def _committing_backend(h: Harness) -> int:
    """The pid of the backend running a commit (sleeping in the trigger)."""
    async with asyncio.timeout(10):
        while True:
            pid = await h.runtime.pool.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'"
            )
            if pid is not None:
                return pid
            await asyncio.sleep(0.01)


def test_a_commit_whose_answer_was_lost_is_read_back_from_postgresql(with_app) -> None:
    """The client side of the connection dies while PostgreSQL goes on to commit: the attempt is a 201,
    the units stay held, and a retry with the same key gets the same reservation."""

    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=3, per_user_limit=3))["id"]
        await _slow_commits(h, sale)
        attempt = asyncio.create_task(h.reserve(sale, "alice", 2, key="alice-1"))
        pid = await _committing_backend(h)
        (conn,) = [c._con for c in h.runtime.pool._holders if c._con and c._con.get_server_pid() == pid]
        conn.terminate()  # the answer is lost; the backend does not notice while it sleeps, and commits
        r = await attempt
        assert r.status_code == 201, r.text
        c = await h.counters(sale)
        assert (c["held"], c["gate"]["held"]) == (2, 2), c
        check_invariant(c)
        await h.runtime.pool.execute(f"DROP TRIGGER slow_commit_{sale} ON reservations")
        again = await h.reserve(sale, "alice", 2, key="alice-1")
        assert again.status_code == 201 and again.json()["id"] == r.json()["id"], again.text
        assert again.headers["Idempotent-Replayed"] == "true"

    with_app(body)


def test_a_commit_killed_with_its_backend_returns_the_units_and_frees_the_key(with_app) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=3, per_user_limit=3))["id"]
        await _slow_commits(h, sale)
        attempt = asyncio.create_task(h.reserve(sale, "alice", 2, key="alice-1"))
        pid = await _committing_backend(h)
        await h.runtime.pool.execute("SELECT pg_terminate_backend($1)", pid)  # rolls the commit back
        r = await attempt
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
        c = await h.counters(sale)
        assert (c["remaining"], c["held"], c["gate"]["held"]) == (3, 0, 0), c
        await h.runtime.pool.execute(f"DROP TRIGGER slow_commit_{sale} ON reservations")
        assert (await h.reserve(sale, "alice", 2, key="alice-1")).status_code == 201

    with_app(body)


def test_a_commit_nobody_can_read_back_keeps_its_units_held_for_a_retry(with_app, monkeypatch: pytest.MonkeyPatch):
    """While PostgreSQL cannot say whether the commit landed, nothing is given back: the attempt is a 503
    that asks for a retry with the same key, which then gets the reservation that did commit."""

    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=3, per_user_limit=3))["id"]
        await _slow_commits(h, sale)

        async def unreadable(*_: object) -> set[str]:
            raise ConnectionRefusedError(111, "Connection refused")

        monkeypatch.setattr(store, "committed_among", unreadable)
        monkeypatch.setattr("reservation.store.committer._RESOLVE_WAIT", (0.0, 0.0))
        attempt = asyncio.create_task(h.reserve(sale, "alice", 2, key="alice-1"))
        pid = await _committing_backend(h)
        (conn,) = [c._con for c in h.runtime.pool._holders if c._con and c._con.get_server_pid() == pid]
        conn.terminate()
        r = await attempt
        assert r.status_code == 503 and "same Idempotency-Key" in r.json()["detail"], r.text
        assert (await h.counters(sale))["gate"]["held"] == 2  # not given back
        async with asyncio.timeout(10):  # the lost backend wakes and commits
            while (await h.counters(sale))["held"] != 2:
                await asyncio.sleep(0.05)
        again = await h.reserve(sale, "alice", 2, key="alice-1")
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true", again.text
        check_invariant(await h.counters(sale))
        await h.runtime.pool.execute(f"DROP TRIGGER slow_commit_{sale} ON reservations")

    with_app(body)
