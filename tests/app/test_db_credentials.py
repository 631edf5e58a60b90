"""Database credentials from the RDS-managed secret (DB_LOGIN_ARN), read when a connection opens.

Secrets Manager is botocore's Stubber (no network): each stubbed response is one GetSecretValue, and
`assert_no_pending_responses` proves how many reads happened. The connections are real, to the local
PostgreSQL, as a dedicated role. That server trusts 127.0.0.1 (pg_hba `trust`), so it never checks a
password: the tests that need a refused password put a password check in front of asyncpg.connect
and say so in their names.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import botocore.session
import pytest
from botocore.stub import Stubber
from reservation.shared.settings import Command, load_settings
from reservation.store import db_credentials
from reservation.store.db_credentials import DbCredentials, SecretCredentials, database_connect
from reservation.store.migrate import bundled_migrations, migrate

from .conftest import ADMIN_URL, JWT_SECRET, _admin, harness

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-AbCdEf"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets() -> Iterator[tuple[Any, Stubber]]:
    client = botocore.session.get_session().create_client(
        "secretsmanager", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    with Stubber(client) as stubber:
        yield client, stubber


def serve_secret(stubber: Stubber, username: str, password: str) -> None:
    """One GetSecretValue answer, in the JSON shape RDS writes its managed secret."""
    value = json.dumps({"username": username, "password": password})
    stubber.add_response("get_secret_value", {"ARN": ARN, "Name": "rds!db", "SecretString": value}, {"SecretId": ARN})


@pytest.fixture
def role(database_url: str) -> Iterator[str]:
    """A login role of its own; cluster-wide, so uniquely named and dropped afterwards."""
    name = f"fs_secret_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f"CREATE ROLE {name} LOGIN PASSWORD 'first-password'"))
    try:
        yield name
    finally:
        asyncio.run(_admin(f"DROP ROLE IF EXISTS {name}"))


def without_user(url: str) -> str:
    """postgresql://postgres@host:port/db -> postgresql://host:port/db: the user must come from the secret."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('@', 1)[-1]}"


def test_credentials_are_cached_for_the_ttl_then_read_again(secrets: tuple[Any, Stubber]) -> None:
    client, stubber = secrets
    clock = Clock()
    provider = SecretCredentials(ARN, client=client, ttl=300, clock=clock)
    serve_secret(stubber, "svc", "first")
    serve_secret(stubber, "svc", "rotated")

    async def body() -> list[DbCredentials]:
        seen = [await provider.credentials()]
        clock.now += 299
        seen.append(await provider.credentials())
        clock.now += 1
        seen.append(await provider.credentials())
        return seen

    assert [c.password for c in asyncio.run(body())] == ["first", "first", "rotated"]
    stubber.assert_no_pending_responses()


def test_many_connections_opening_at_once_read_the_secret_once(secrets: tuple[Any, Stubber]) -> None:
    client, stubber = secrets
    provider = SecretCredentials(ARN, client=client)
    serve_secret(stubber, "svc", "only-one-read")

    async def body() -> set[DbCredentials]:
        return set(await asyncio.gather(*(provider.credentials() for _ in range(20))))

    assert asyncio.run(body()) == {DbCredentials("svc", "only-one-read")}
    stubber.assert_no_pending_responses()


def test_connect_and_pool_log_in_as_the_secrets_user_on_real_postgresql(
    secrets: tuple[Any, Stubber], database_url: str, role: str
) -> None:
    client, stubber = secrets
    provider = SecretCredentials(ARN, client=client)
    serve_secret(stubber, role, "first-password")
    dsn = without_user(database_url)

    async def body() -> list[str]:
        conn = await provider.connect(dsn)
        try:
            users = [await conn.fetchval("SELECT current_user")]
        finally:
            await conn.close()
        async with asyncpg.create_pool(dsn, connect=provider.connect, min_size=3, max_size=3) as pool:
            conns = [await pool.acquire() for _ in range(3)]
            users += [await c.fetchval("SELECT current_user") for c in conns]
            for c in conns:
                await pool.release(c)
        return users

    assert asyncio.run(body()) == [role] * 4
    stubber.assert_no_pending_responses()  # one read served the direct connection and the whole pool


def test_migrate_connects_as_the_secrets_user(secrets: tuple[Any, Stubber], role: str) -> None:
    client, stubber = secrets
    serve_secret(stubber, role, "first-password")
    db = f"flashsale_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{db}" OWNER {role}'))
    dsn = without_user(ADMIN_URL.rsplit("/", 1)[0] + "/" + db)

    async def owner() -> str:
        conn = await asyncpg.connect(ADMIN_URL.rsplit("/", 1)[0] + "/" + db)
        try:
            return await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'schema_migrations'")
        finally:
            await conn.close()

    try:
        applied = asyncio.run(migrate(dsn, connect=SecretCredentials(ARN, client=client).connect))
        assert applied == [m.version for m in bundled_migrations()]
        assert asyncio.run(owner()) == role
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


def checked_by_password(server: dict[str, str]) -> db_credentials.Connect:
    """asyncpg.connect behind the password check the local trust-auth server does not do itself."""

    async def connect(dsn: str | None = None, *, user: str, password: str, **kwargs: Any) -> asyncpg.Connection:
        if password != server["password"]:
            raise asyncpg.InvalidPasswordError(f'password authentication failed for user "{user}"')
        return await asyncpg.connect(dsn, user=user, password=password, **kwargs)

    return connect


def test_rotation_simulated_password_check_refused_password_rereads_the_secret_and_reconnects(
    secrets: tuple[Any, Stubber], database_url: str, role: str
) -> None:
    client, stubber = secrets
    server = {"password": "first-password"}
    provider = SecretCredentials(ARN, client=client, ttl=3600, connect=checked_by_password(server))
    serve_secret(stubber, role, "first-password")
    dsn = without_user(database_url)

    async def body() -> str:
        # Holding the pool's first connection makes the second acquire open a new one.
        async with asyncpg.create_pool(dsn, connect=provider.connect, min_size=1, max_size=2) as pool, pool.acquire():
            # RDS rotates: PostgreSQL gets the new password, then the secret does.
            await _admin(f"ALTER ROLE {role} PASSWORD 'second-password'")
            server["password"] = "second-password"
            serve_secret(stubber, role, "second-password")
            # A new connection inside the TTL: the cached password is refused, the secret read again.
            async with pool.acquire() as fresh:
                return await fresh.fetchval("SELECT current_user")

    assert asyncio.run(body()) == role
    stubber.assert_no_pending_responses()
    assert asyncio.run(provider.credentials()).password == "second-password"  # cached now, no further read


def test_simulated_password_check_a_wrong_secret_fails_after_one_reread_and_is_read_again_next_time(
    secrets: tuple[Any, Stubber], database_url: str, role: str
) -> None:
    client, stubber = secrets
    provider = SecretCredentials(ARN, client=client, ttl=3600, connect=checked_by_password({"password": "right"}))
    dsn = without_user(database_url)

    async def attempt() -> None:
        with pytest.raises(asyncpg.InvalidPasswordError):
            await provider.connect(dsn)

    # A read beyond the stubbed ones would raise UnStubbedResponseError instead of InvalidPasswordError.
    serve_secret(stubber, role, "wrong")
    serve_secret(stubber, role, "wrong")
    asyncio.run(attempt())  # the first read, then one re-read after the refusal, and no further retry
    stubber.assert_no_pending_responses()
    serve_secret(stubber, role, "wrong")
    asyncio.run(attempt())  # the refused value is not trusted for the TTL: read again, once
    stubber.assert_no_pending_responses()


def test_without_secret_arn_connections_use_the_url_as_before() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://u:p@db/app"}, command=Command.MIGRATE)
    assert database_connect(settings) is asyncpg.connect


def test_serve_pool_connects_through_the_secret_when_db_secret_arn_is_set(
    secrets: tuple[Any, Stubber],
    database_url: str,
    redis_url: str,
    role: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, stubber = secrets
    regions: list[str] = []

    def secretsmanager(service: str, region_name: str) -> Any:
        assert service == "secretsmanager"
        regions.append(region_name)
        return client

    monkeypatch.setattr(db_credentials.boto3, "client", secretsmanager)
    serve_secret(stubber, role, "first-password")
    env = {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "5432",
        "DB_NAME": database_url.rsplit("/", 1)[1],
        "DB_SSLMODE": "disable",
        "DB_LOGIN_ARN": ARN,
        "REDIS_URL": redis_url,
        "JWT_SECRET": JWT_SECRET,
    }
    settings = load_settings(env, command=Command.SERVE)

    async def body() -> str:
        async with harness(settings, redis_url) as h:
            return await h.runtime.pool.fetchval("SELECT current_user")

    assert asyncio.run(body()) == role
    assert regions == ["eu-west-1"]  # the client is made for the secret's own region, taken from its ARN
    stubber.assert_no_pending_responses()
