"""DB_IAM_AUTH: every new connection logs in with a fresh RDS IAM token for the host it goes to.

The tokens are botocore's real generate_db_auth_token, signed offline with fake credentials from the
environment; the connections are real, to the local PostgreSQL (which trusts 127.0.0.1 and so ignores the
token, and has no TLS: the login's inner connect goes there instead of the proxy host the token names).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from reservation.shared.settings import Command, Settings, SettingsError, load_settings
from reservation.store.db_credentials import database_connect
from reservation.store.db_iam import IamTokenLogin
from reservation.store.pg_pool import reader_options

PROXY = "flashsale.proxy-c0ffee123456.eu-west-1.rds.amazonaws.com"
READER = "flashsale-ro.endpoint.proxy-c0ffee123456.eu-west-1.rds.amazonaws.com"
ENV = {
    "DB_IAM_AUTH": "true",
    "DB_HOST": PROXY,
    "DB_PORT": "5432",
    "DB_NAME": "app",
    "DB_USER": "flashsale_app",
    "DB_SSLMODE": "require",
    "AWS_REGION": "eu-west-1",
    "DB_READ_HOST": READER,
    "REDIS_URL": "rediss://cache:6379",
    "JWT_SECRET": "x" * 32,
}


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's default credential chain finds these first; no profile, no instance metadata."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def _token(password: str) -> tuple[str, dict[str, list[str]]]:
    """A token is a presigned URL without its scheme: host:port/?Action=connect&DBUser=...&X-Amz-...."""
    parts = urlsplit(f"https://{password}")
    return parts.netloc, parse_qs(parts.query)


def test_iam_settings_put_the_user_in_the_url_and_no_password() -> None:
    s = load_settings(ENV, command=Command.SERVE)
    assert s.db_iam_auth and s.aws_region == "eu-west-1"
    assert s.database_url == f"postgresql://flashsale_app@{PROXY}:5432/app?sslmode=require"


def test_database_connect_uses_iam_tokens_when_db_iam_auth_is_set(fake_aws: None) -> None:
    connect = database_connect(load_settings(ENV, command=Command.SERVE))
    assert isinstance(getattr(connect, "__self__", None), IamTokenLogin)


def test_each_new_connection_gets_a_fresh_token_for_its_own_host(fake_aws: None, database_url: str) -> None:
    settings: Settings = load_settings(ENV, command=Command.SERVE)
    seen: list[tuple[str | None, str]] = []

    async def local(dsn: str | None = None, *, password: str, **kwargs: Any) -> asyncpg.Connection:
        seen.append((kwargs.get("host"), password))
        keep = {k: kwargs[k] for k in ("connection_class", "record_class") if k in kwargs}
        return await asyncpg.connect(database_url, **keep)

    login = IamTokenLogin(settings, connect=local)

    async def body() -> None:
        writer = await asyncpg.create_pool(settings.database_url, connect=login.connect, min_size=2, max_size=3)
        reader_kwargs = {k: v for k, v in reader_options(settings).items() if k != "server_settings"}
        reader = await asyncpg.create_pool(settings.database_url, connect=login.connect, min_size=1, **reader_kwargs)
        try:
            time.sleep(1.1)  # a token made a second later carries a later X-Amz-Date: no token is reused
            async with writer.acquire(), writer.acquire(), writer.acquire():  # the third opens a connection
                pass
        finally:
            await reader.close()
            await writer.close()

    asyncio.run(body())
    assert [host for host, _ in seen] == [None, None, READER, None]  # None: the DSN's host, the proxy
    tokens = [_token(password) for _, password in seen]
    assert [netloc for netloc, _ in tokens] == [f"{PROXY}:5432", f"{PROXY}:5432", f"{READER}:5432", f"{PROXY}:5432"]
    for _, query in tokens:
        assert query["Action"] == ["connect"] and query["DBUser"] == ["flashsale_app"]
        assert query["X-Amz-Expires"] == ["900"]  # 15 minutes
        assert query["X-Amz-Credential"][0].endswith("/eu-west-1/rds-db/aws4_request")
    # Signed when the connection opened, not cached from the pool's start (two signed within the same second
    # are the same string: the signature covers the second, the host, the user and the credentials).
    assert tokens[3][1]["X-Amz-Date"] > tokens[0][1]["X-Amz-Date"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DB_SSLMODE": "disable"}, "DB_SSLMODE: 'disable' with DB_IAM_AUTH; IAM authentication needs TLS"),
        ({"DB_SSLMODE": ""}, "DB_SSLMODE: None with DB_IAM_AUTH; IAM authentication needs TLS"),
        ({"DB_SSLMODE": "prefer"}, "DB_SSLMODE: 'prefer' with DB_IAM_AUTH"),
        ({"AWS_REGION": ""}, "AWS_REGION: required with DB_IAM_AUTH=true"),
        ({"DB_USER": ""}, "DB_USER: required with DB_IAM_AUTH"),
        ({"DB_PASSWORD": "static"}, "DB_IAM_AUTH: the password of each connection is an IAM token; unset DB_PASSWORD"),
        (
            {"DB_LOGIN_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf"},
            "DB_IAM_AUTH: the password of each connection is an IAM token; unset DB_LOGIN_ARN",
        ),
        ({"DATABASE_URL": "postgresql://u@h/d"}, "unset DATABASE_URL"),
        ({"DB_IAM_AUTH": "maybe"}, "DB_IAM_AUTH: 'maybe' is not a boolean"),
    ],
)
def test_iam_auth_configuration_errors(override: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(ENV | override, command=Command.SERVE)
    assert any(message in p for p in caught.value.problems), caught.value.problems
