"""Start-up configuration: exactly the runtime contract's variables per command, every problem named at once."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from reservation.shared.settings import DEV_JWT_SECRET, Command, SettingsError, load_settings

DB = {"DATABASE_URL": "postgresql://u:p@db:5432/app"}
BASE = DB | {"REDIS_URL": "redis://cache:6379/0", "JWT_SECRET": "x" * 32}
KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "b-1:9098,b-2:9098"}
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c-AbCdEf"
# On AWS: endpoint parts plus the RDS-managed secret, no user or password in the environment.
AWS_DB = {"DB_HOST": "proxy", "DB_NAME": "app", "DB_SSLMODE": "require", "DB_LOGIN_ARN": SECRET_ARN}


def _problems(env: dict[str, str], command: Command = Command.SERVE) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, command=command)
    return caught.value.problems


def _names(env: dict[str, str], command: Command = Command.SERVE) -> list[str]:
    return [p.split(":")[0] for p in _problems(env, command)]


def test_minimal_environment_and_defaults() -> None:
    s = load_settings(BASE, command=Command.SERVE)
    assert (s.port, s.internal_port, s.metrics_namespace, s.command) == (8000, 8001, "FlashSale", Command.SERVE)
    assert not s.redis_cluster and not s.emf_enabled and not s.dev_mode and s.db_secret_arn is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]


def test_internal_port_is_a_port_of_its_own() -> None:
    assert load_settings(BASE | {"INTERNAL_PORT": "9100"}, command=Command.SERVE).internal_port == 9100
    assert _problems(BASE | {"INTERNAL_PORT": "metrics"}) == ["INTERNAL_PORT: 'metrics' is not a port number (1-65535)"]
    clash = _problems(BASE | {"PORT": "8080", "INTERNAL_PORT": "8080"})
    assert clash == ["INTERNAL_PORT: 8080 is also PORT; the internal endpoints need a port of their own"]


def test_database_from_parts_as_on_aws() -> None:
    env = {k: v for k, v in BASE.items() if k != "DATABASE_URL"}
    env |= {"DB_HOST": "rds", "DB_NAME": "app", "DB_USER": "svc", "DB_PASSWORD": "p@ss/w", "DB_SSLMODE": "require"}
    s = load_settings(env | {"REDIS_CLUSTER": "true"}, command=Command.SERVE)
    assert s.database_url == "postgresql://svc:p%40ss%2Fw@rds:5432/app?sslmode=require"
    assert s.redis_cluster


def test_database_credentials_from_the_secret_leave_the_url_without_user_or_password() -> None:
    s = load_settings(AWS_DB, command=Command.MIGRATE)
    assert s.database_url == "postgresql://proxy:5432/app?sslmode=require"
    assert s.db_secret_arn == SECRET_ARN


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"DB_PASSWORD": "old"}, "DB_LOGIN_ARN: the user and password come from the secret; unset DB_PASSWORD"),
        ({"DB_USER": "u", "DATABASE_URL": "postgresql://u@h/d"}, "unset DATABASE_URL, DB_USER"),
        ({"DB_LOGIN_ARN": "rds!db-0a1b2c"}, "DB_LOGIN_ARN: 'rds!db-0a1b2c' is not a Secrets Manager secret ARN"),
        ({"DB_HOST": ""}, "DB_HOST: required with DB_LOGIN_ARN"),
    ],
)
def test_secret_arn_excludes_static_credentials(override: dict[str, str], message: str) -> None:
    problems = _problems(AWS_DB | override, Command.MIGRATE)
    assert len(problems) == 1 and message in problems[0]


def test_each_command_requires_only_what_it_uses() -> None:
    assert _names({}, Command.MIGRATE) == ["DATABASE_URL"]
    assert _names({}, Command.RELAY) == ["DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"]
    assert _names({}, Command.SERVE) == ["DATABASE_URL", "REDIS_URL", "JWT_SECRET"]
    # No Redis, no JWT key for the relay; no Kafka for the API; the database alone for migrate.
    relay = load_settings(DB | KAFKA | {"KAFKA_AUTH": "iam", "AWS_REGION": "eu-west-1"}, command=Command.RELAY)
    assert relay.kafka_bootstrap_servers == ("b-1:9098", "b-2:9098") and relay.kafka_auth == "iam"
    assert (relay.redis_url, relay.jwt_secret, relay.redis_password) == ("", "", None)
    serve = load_settings(BASE | KAFKA, command=Command.SERVE)
    assert serve.kafka_bootstrap_servers == () and serve.redis_url == BASE["REDIS_URL"]
    migrate = load_settings(DB, command="migrate")
    assert migrate.command is Command.MIGRATE and (migrate.redis_url, migrate.jwt_secret) == ("", "")


def test_a_command_ignores_the_variables_of_the_others() -> None:
    # Malformed values of another command's variables must not stop this one from starting.
    other = {"REDIS_URL": "http://x", "JWT_SECRET": "short", "PORT": "x", "KAFKA_AUTH": "sasl", "EMF_ENABLED": "?"}
    assert load_settings(DB | other, command=Command.MIGRATE).database_url == DB["DATABASE_URL"]
    assert load_settings(DB | KAFKA | other | {"KAFKA_AUTH": "", "EMF_ENABLED": ""}, command=Command.RELAY).port == 0
    assert _names(BASE | other | {"REDIS_URL": BASE["REDIS_URL"], "JWT_SECRET": "x" * 32}) == ["PORT", "EMF_ENABLED"]


def test_every_problem_is_reported_with_its_variable() -> None:
    problems = _problems({"PORT": "eighty", "REDIS_CLUSTER": "maybe", "EMF_ENABLED": "maybe"})
    names = [p.split(":")[0] for p in problems]
    assert names == ["DATABASE_URL", "REDIS_URL", "REDIS_CLUSTER", "JWT_SECRET", "PORT", "EMF_ENABLED"]
    assert all(len(p) > len(n) + 10 for p, n in zip(problems, names, strict=True))
    relay = _problems({"KAFKA_AUTH": "sasl"}, Command.RELAY)
    assert [p.split(":")[0] for p in relay] == ["DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_AUTH"]


@pytest.mark.parametrize(
    ("override", "variable", "command"),
    [
        ({"JWT_SECRET": "short"}, "JWT_SECRET", Command.SERVE),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL", Command.SERVE),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", Command.MIGRATE),
        ({"PORT": "70000"}, "PORT", Command.SERVE),
        ({"KAFKA_AUTH": "iam"}, "AWS_REGION", Command.RELAY),
        ({"DB_HOST": "also-set"}, "DATABASE_URL", Command.RELAY),
        ({"REDIS_CLUSTER": "yes please"}, "REDIS_CLUSTER", Command.SERVE),
        ({"DB_PROXY": "rds"}, "DB_PROXY", Command.RELAY),
        ({"DB_READ_HOST": "reader.example:5432"}, "DB_READ_HOST", Command.SERVE),
        ({"DB_READ_HOST": "postgresql://reader.example"}, "DB_READ_HOST", Command.SERVE),
    ],
)
def test_malformed_values(override: dict[str, str], variable: str, command: Command) -> None:
    assert _names(BASE | KAFKA | override, command) == [variable]


def test_rds_proxy_and_reader_endpoint() -> None:
    assert not load_settings(BASE, command=Command.SERVE).db_proxy
    assert load_settings(BASE, command=Command.SERVE).db_read_host is None
    reader = "app.cluster-ro-abc123.eu-west-1.rds.amazonaws.com"
    serve = load_settings(BASE | {"DB_PROXY": "true", "DB_READ_HOST": reader}, command=Command.SERVE)
    assert serve.db_proxy and serve.db_read_host == reader
    # The relay's pool goes through the proxy too; only the API reads from the reader.
    relay = load_settings(DB | KAFKA | {"DB_PROXY": "true", "DB_READ_HOST": reader}, command=Command.RELAY)
    assert relay.db_proxy and relay.db_read_host is None


def test_dev_secret_only_with_explicit_dev_mode() -> None:
    env = {k: v for k, v in BASE.items() if k != "JWT_SECRET"}
    assert _names(env) == ["JWT_SECRET"]
    assert load_settings(env | {"RESERVATION_DEV_MODE": "1"}, command=Command.SERVE).jwt_secret == DEV_JWT_SECRET


def _cli(command: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    contract = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_AUTH", "PORT")
    env = {k: v for k, v in os.environ.items() if k not in contract and not k.startswith(("DB_", "RESERVATION_"))}
    cmd = [sys.executable, "-m", "reservation", command]
    return subprocess.run(cmd, env=env | extra, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("command", "missing"),
    [
        ("serve", ["DATABASE_URL", "REDIS_URL", "JWT_SECRET", "PORT"]),
        ("relay", ["DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"]),
        ("migrate", ["DATABASE_URL"]),
    ],
)
def test_cli_exits_with_one_line_per_problem_of_its_command_and_no_traceback(command: str, missing: list[str]) -> None:
    done = _cli(command, {"PORT": "x"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines] == missing
    assert "Traceback" not in done.stderr


APP_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:flashsale-app-db-AbCdEf"


def test_migrate_reads_the_application_role_from_a_secret_or_the_environment() -> None:
    from_secret = load_settings(AWS_DB | {"DB_APP_LOGIN_ARN": APP_ARN}, command=Command.MIGRATE).app_login
    assert (from_secret.secret_arn, from_secret.username, from_secret.configured) == (APP_ARN, None, True)
    local = load_settings(DB | {"DB_APP_USER": "flashsale_app", "DB_APP_PASSWORD": "pw"}, command=Command.MIGRATE)
    assert (local.app_login.username, local.app_login.password) == ("flashsale_app", "pw")
    assert "pw" not in repr(local.app_login)
    assert not load_settings(DB, command=Command.MIGRATE).app_login.configured  # no role: local use as one user
    # Only migrate looks at them: serve and relay log in as the role, they never manage it.
    serve = load_settings(BASE | {"DB_APP_USER": "Not Valid"}, command=Command.SERVE)
    assert not serve.app_login.configured


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"DB_APP_LOGIN_ARN": APP_ARN, "DB_APP_USER": "a"},
            "DB_APP_LOGIN_ARN: the user and password come from the secret",
        ),
        (
            {"DB_APP_LOGIN_ARN": "flashsale-app-db"},
            "DB_APP_LOGIN_ARN: 'flashsale-app-db' is not a Secrets Manager secret ARN",
        ),
        ({"DB_APP_USER": "app"}, "DB_APP_PASSWORD: required with DB_APP_USER"),
        ({"DB_APP_PASSWORD": "pw"}, "DB_APP_USER: required with DB_APP_PASSWORD"),
        ({"DB_APP_USER": "app; DROP", "DB_APP_PASSWORD": "pw"}, "DB_APP_USER: 'app; DROP' is not allowed"),
        ({"DB_APP_USER": "pg_app", "DB_APP_PASSWORD": "pw"}, "DB_APP_USER: 'pg_app' is a name PostgreSQL reserves"),
        ({"DB_APP_USER": "app", "DB_APP_PASSWORD": "mot-de-passe-é"}, "DB_APP_PASSWORD: must be printable ASCII"),
    ],
)
def test_application_role_variables_are_checked(override: dict[str, str], message: str) -> None:
    problems = _problems(DB | override, Command.MIGRATE)
    assert len(problems) == 1 and message in problems[0], problems
