"""The application role `reservation migrate` sets up: on the real PostgreSQL, what it may not do and that
the service works with what it may.

Roles are cluster-wide and other sessions test on the same server, so every role here has a unique name
and is dropped after the databases it has grants in.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import botocore.session
import pytest
from botocore.stub import Stubber
from reservation.relay.kafka_producer import KafkaSettings, make_producer
from reservation.relay.relay import OutboxRelay, RelayConfig
from reservation.relay.relay_metrics import BACKLOG_QUERY
from reservation.shared.settings import AppLogin, Command, load_settings
from reservation.store import app_role as app_role_module
from reservation.store import db_credentials
from reservation.store.app_role import MIGRATE_ONLY_TABLES, TABLE_PRIVILEGES, AppRole, AppRoleError, scram_sha_256
from reservation.store.migrate import bundled_migrations, load_app_role, migrate

from .conftest import ADMIN_URL, JWT_SECRET, _admin, bearer, check_invariant, harness
from .private_postgres import private_postgres
from .relay_support import mock_kafka, pg_database, unpublished_ids

HOST = ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]  # 127.0.0.1:5432


def _url(user: str, database_url: str) -> str:
    return f"postgresql://{user}@{HOST}/{database_url.rsplit('/', 1)[1]}"


@pytest.fixture(scope="module")
def role_name() -> Iterator[str]:
    name = f"fs_app_{uuid.uuid4().hex[:10]}"
    yield name
    asyncio.run(_admin(f"DROP ROLE IF EXISTS {name}"))  # after the module's databases (fixture order)


@pytest.fixture(scope="module")
def role(role_name: str) -> AppRole:
    return AppRole(role_name, "app-password-1")


@pytest.fixture(scope="module")
def app_db(role: AppRole) -> Iterator[str]:
    """A migrated database whose application role migrate has set up; the URL logs in as postgres."""
    with pg_database("approle") as url:
        asyncio.run(migrate(url, app_role=role))
        yield url


async def _as(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE public.intruder (i int)",
        "CREATE TEMPORARY TABLE intruder (i int)",
        "CREATE SCHEMA intruder",
        "CREATE FUNCTION public.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE INDEX intruder ON outbox (created_at)",
        "ALTER TABLE sales ADD COLUMN intruder int",
        "DROP TABLE outbox",
        "TRUNCATE outbox",
        "DELETE FROM reservations",
        "SELECT setval('outbox_id_seq', 1)",
        "CREATE ROLE intruder",
        "CREATE DATABASE intruder",
    ],
)
def test_the_app_role_runs_no_ddl(app_db: str, role: AppRole, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(_as(_url(role.username, app_db), sql))


def test_the_app_role_reads_nothing_outside_its_grants(app_db: str, role: AppRole) -> None:
    asyncio.run(
        _admin_in(
            app_db, "CREATE TABLE IF NOT EXISTS private_notes (note text); INSERT INTO private_notes VALUES ('x')"
        )
    )
    for sql in ("SELECT * FROM private_notes", "SELECT * FROM schema_migrations", "SELECT * FROM pg_authid"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            asyncio.run(_as(_url(role.username, app_db), sql))


def test_the_app_role_is_a_plain_login_of_no_other_role(app_db: str, role: AppRole) -> None:
    [row] = asyncio.run(
        _as(
            app_db,
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolcanlogin,"
            " (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)"
            f" FROM pg_roles r WHERE rolname = '{role.username}'",
        )
    )
    assert tuple(row) == (False, False, False, False, False, False, True, 0)
    [setting] = asyncio.run(_as(_url(role.username, app_db), "SELECT current_setting('is_superuser')"))
    assert setting[0] == "off"


def test_grants_are_exactly_the_declared_ones(app_db: str, role: AppRole) -> None:
    rows = asyncio.run(
        _as(
            app_db,
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            f" WHERE grantee = '{role.username}' ORDER BY 1, 2",
        )
    )
    granted: dict[str, set[str]] = {}
    for table, privilege in rows:
        granted.setdefault(table, set()).add(privilege)
    assert granted == {t: set(p) for t, p in TABLE_PRIVILEGES.items()}


def test_every_table_of_the_schema_is_granted_or_migrate_only(app_db: str) -> None:
    """A migration that adds a table fails this until app_role.py says whether the service may use it."""
    rows = asyncio.run(
        _as(app_db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'private_notes'")
    )
    assert {r[0] for r in rows} == set(TABLE_PRIVILEGES) | MIGRATE_ONLY_TABLES


def test_the_service_and_the_relay_work_as_the_app_role(app_db: str, role: AppRole, redis_url: str) -> None:
    env = {"DATABASE_URL": _url(role.username, app_db), "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET}
    settings = dataclasses.replace(load_settings(env, command=Command.SERVE), internal_port=0)

    async def api() -> None:
        async with harness(settings, redis_url) as h:
            assert await h.runtime.pool.fetchval("SELECT current_user") == role.username
            sale = (await h.create_sale(total_stock=5, per_user_limit=3))["id"]
            held = [(await h.reserve(sale, "alice")).json() for _ in range(3)]
            assert all(r["status"] == "held" for r in held), held
            confirmed = await h.client.post(f"/reservations/{held[0]['id']}/confirm", headers=bearer("alice"))
            released = await h.client.post(f"/reservations/{held[1]['id']}/release", headers=bearer("alice"))
            assert (confirmed.json()["status"], released.json()["status"]) == ("confirmed", "released")
            avail = await h.client.get(f"/sales/{sale}/availability", headers=bearer("bob"))
            assert avail.status_code == 200, avail.text
            # The reaper's paths: expiry of a due hold, a rebuild of an emptied gate, reconciliation.
            await _as(
                app_db, f"UPDATE reservations SET expires_at = now() - interval '1 s' WHERE id = '{held[2]['id']}'"
            )
            await h.flush_redis()
            report = await h.runtime.reaper.tick()
            assert report.expired == 1, report
            check_invariant(await h.counters(sale))
            ended = (datetime.now(UTC) - timedelta(days=1)).isoformat()
            await h.create_sale(starts_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(), ends_at=ended)
            assert (await h.runtime.reaper.tick()).retired >= 1  # the closed sale's gate is retired

    asyncio.run(api())
    assert asyncio.run(unpublished_ids(app_db)), "the API wrote outbox rows"

    async def relay(bootstrap: str) -> None:
        pool = await asyncpg.create_pool(_url(role.username, app_db), min_size=1, max_size=2)
        kafka = KafkaSettings(tuple(bootstrap.split(",")), topic_prefix="approle.", delivery_timeout_ms=10_000)
        relay = OutboxRelay(pool, make_producer(kafka, log_level=0), kafka, RelayConfig())
        try:
            while (await relay.publish_batch()).selected:
                pass
            assert (await pool.fetchrow(BACKLOG_QUERY))[0] == 0  # the relay's backlog figure
        finally:
            await pool.close()

    with mock_kafka() as bootstrap:
        asyncio.run(relay(bootstrap))
    assert asyncio.run(unpublished_ids(app_db)) == []


async def _migrate_concurrently(url: str, role: AppRole, n: int) -> list[list[str]]:
    return await asyncio.gather(*(migrate(url, app_role=role) for _ in range(n)))


def test_many_migrates_at_once_create_the_role_once_and_all_succeed(redis_url: str) -> None:
    name = f"fs_app_{uuid.uuid4().hex[:10]}"
    db = f"flashsale_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{db}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    try:
        env = {**os.environ, "DATABASE_URL": url, "DB_APP_USER": name, "DB_APP_PASSWORD": "concurrent-pw"}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "reservation", "migrate"], env=env, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        in_process = asyncio.run(_migrate_concurrently(url, AppRole(name, "concurrent-pw"), 4))
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), errors
        applied = [v for run in in_process for v in run]
        assert len(applied) == len(set(applied)) <= len(bundled_migrations())  # every version applied once in all
        [row] = asyncio.run(_as(url, f"SELECT count(*) FROM pg_roles WHERE rolname = '{name}'"))
        assert row[0] == 1
        assert asyncio.run(_as(_url(name, url), "SELECT count(*) FROM sales"))[0][0] == 0
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        asyncio.run(_admin(f"DROP ROLE IF EXISTS {name}"))


def _scram_matches(stored: str, password: str) -> bool:
    _, params, _ = stored.split("$")
    iterations, salt = params.split(":")
    return scram_sha_256(password, salt=base64.b64decode(salt), iterations=int(iterations)) == stored


def test_a_second_migrate_changes_nothing_and_a_new_password_is_applied(app_db: str, role: AppRole) -> None:
    grants = (
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = '{}' ORDER BY 1, 2"
    )
    before = asyncio.run(_as(app_db, grants.format(role.username)))
    assert asyncio.run(migrate(app_db, app_role=role)) == []
    assert asyncio.run(_as(app_db, grants.format(role.username))) == before
    rotated = AppRole(role.username, "app-password-2")
    asyncio.run(migrate(app_db, app_role=rotated))
    [row] = asyncio.run(_as(app_db, f"SELECT rolpassword FROM pg_authid WHERE rolname = '{role.username}'"))
    assert _scram_matches(row[0], "app-password-2") and not _scram_matches(row[0], "app-password-1")
    asyncio.run(migrate(app_db, app_role=role))  # back, for the module's other tests


def test_scram_secret_is_what_postgresql_checks_a_login_against(role_name: str) -> None:
    """A private server that asks passwords (SCRAM) for everyone but postgres: the app role logs in with the
    password of the latest migrate, and no longer with the previous one."""
    with private_postgres() as pg:
        hba = Path(pg.directory) / "pg_hba.conf"
        hba.write_text("host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        pg._pg_ctl("reload")
        db = pg.url

        async def login(password: str) -> str:
            conn = await asyncpg.connect(db, user=role_name, password=password)
            try:
                return await conn.fetchval("SELECT current_user")
            finally:
                await conn.close()

        asyncio.run(migrate(db, app_role=AppRole(role_name, "first-password")))
        assert asyncio.run(login("first-password")) == role_name
        asyncio.run(migrate(db, app_role=AppRole(role_name, "rotated-password")))
        assert asyncio.run(login("rotated-password")) == role_name
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(login("first-password"))


def test_migrate_refuses_a_role_given_powers_or_memberships(app_db: str, role: AppRole) -> None:
    asyncio.run(_admin_in(app_db, f"GRANT pg_read_all_data TO {role.username}"))
    try:
        with pytest.raises(AppRoleError, match="is a member of pg_read_all_data"):
            asyncio.run(migrate(app_db, app_role=role))
    finally:
        asyncio.run(_admin_in(app_db, f"REVOKE pg_read_all_data FROM {role.username}"))
    asyncio.run(_admin_in(app_db, f"ALTER ROLE {role.username} BYPASSRLS"))
    try:
        with pytest.raises(AppRoleError, match="has BYPASSRLS"):
            asyncio.run(migrate(app_db, app_role=role))
    finally:
        asyncio.run(_admin_in(app_db, f"ALTER ROLE {role.username} NOBYPASSRLS"))
    with pytest.raises(AppRoleError, match="must not be the migrating user postgres"):
        asyncio.run(migrate(app_db, app_role=AppRole("postgres", "x")))


async def _admin_in(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_an_rds_like_master_without_superuser_sets_up_the_role() -> None:
    """On RDS the master user is no superuser: CREATEROLE, and owner of the database it migrates."""
    master, app = f"fs_master_{uuid.uuid4().hex[:10]}", f"fs_app_{uuid.uuid4().hex[:10]}"
    db = f"flashsale_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f"CREATE ROLE {master} LOGIN CREATEROLE CREATEDB"))
    asyncio.run(_admin(f'CREATE DATABASE "{db}" OWNER {master}'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    try:
        asyncio.run(migrate(_url(master, url), app_role=AppRole(app, "pw-1")))
        asyncio.run(migrate(_url(master, url), app_role=AppRole(app, "pw-2")))  # ALTER ROLE as a non-superuser
        assert asyncio.run(_as(_url(app, url), "SELECT count(*) FROM outbox"))[0][0] == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            asyncio.run(_as(_url(app, url), "CREATE TABLE public.intruder (i int)"))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        asyncio.run(_admin(f"DROP ROLE IF EXISTS {app}"))
        asyncio.run(_admin(f"DROP ROLE IF EXISTS {master}"))


@pytest.mark.parametrize(
    ("username", "password", "wrong"),
    [
        ('app"; DROP TABLE sales; --', "pw", "is not allowed"),
        ("App", "pw", "is not allowed"),
        ("pg_app", "pw", "reserves"),
        ("public", "pw", "reserves"),
        ("a" * 64, "pw", "is not allowed"),
        ("app", "", "must not be empty"),
        ("app", "pässwort", "printable ASCII"),
    ],
)
def test_app_role_names_and_passwords_are_checked(username: str, password: str, wrong: str) -> None:
    with pytest.raises(AppRoleError, match=wrong):
        AppRole(username, password)


def test_the_password_never_shows_in_the_roles_repr() -> None:
    assert "secret-pw" not in repr(AppRole("app", "secret-pw"))
    assert app_role_module.quote_ident('a"b') == '"a""b"'


APP_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:flashsale-app-db-AbCdEf"


def _secret_holding(monkeypatch: pytest.MonkeyPatch, username: str, password: str) -> Stubber:
    client = botocore.session.get_session().create_client(
        "secretsmanager", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    stubber = Stubber(client)
    value = json.dumps({"username": username, "password": password})
    stubber.add_response("get_secret_value", {"ARN": APP_ARN, "SecretString": value}, {"SecretId": APP_ARN})
    stubber.activate()
    monkeypatch.setattr(db_credentials.boto3, "client", lambda service, region_name: client)
    return stubber


def test_the_role_comes_from_its_own_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    stubber = _secret_holding(monkeypatch, "flashsale_app", "from-the-secret")
    role = asyncio.run(load_app_role(AppLogin(secret_arn=APP_ARN)))
    assert role == AppRole("flashsale_app", "from-the-secret")
    stubber.assert_no_pending_responses()
    assert asyncio.run(load_app_role(AppLogin(username="local_app", password="pw"))) == AppRole("local_app", "pw")
    assert asyncio.run(load_app_role(AppLogin())) is None


def test_a_bad_name_in_the_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _secret_holding(monkeypatch, "Flash-Sale", "pw")
    with pytest.raises(AppRoleError, match="DB_APP_LOGIN_ARN: the secret's application role: 'Flash-Sale' is not"):
        asyncio.run(load_app_role(AppLogin(secret_arn=APP_ARN)))


def test_migrate_command_stops_with_a_configuration_error_for_a_bad_role(app_db: str) -> None:
    env = {**os.environ, "DATABASE_URL": app_db, "DB_APP_USER": "postgres", "DB_APP_PASSWORD": "pw"}
    done = subprocess.run([sys.executable, "-m", "reservation", "migrate"], env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "configuration error: the application role must not be the migrating user postgres" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_role_created_meanwhile_by_another_databases_migrate_is_updated_not_an_error() -> None:
    """Roles are cluster-wide but the migration lock is per database: another database's migrate may create
    the role between this one's look-up and its CREATE ROLE, which then fails as a duplicate."""
    name = f"fs_app_{uuid.uuid4().hex[:10]}"

    async def body(url: str) -> None:
        other, conn = await asyncpg.connect(ADMIN_URL), await asyncpg.connect(url)
        try:
            tx = other.transaction()
            await tx.start()
            await other.execute(f"CREATE ROLE {name}")  # not yet committed: invisible to `conn`
            ensuring = asyncio.create_task(app_role_module.ensure_app_role(conn, AppRole(name, "pw")))
            await asyncio.sleep(0.5)  # its CREATE ROLE now waits on the other transaction's row
            assert not ensuring.done()
            await tx.commit()
            await ensuring  # a duplicate: updated with ALTER ROLE, in a transaction still usable
            assert await conn.fetchval("SELECT has_table_privilege($1, 'outbox', 'INSERT')", name)
        finally:
            await conn.close()
            await other.close()

    try:
        with pg_database("approle_race") as url:
            asyncio.run(body(url))
    finally:
        asyncio.run(_admin(f"DROP ROLE IF EXISTS {name}"))
