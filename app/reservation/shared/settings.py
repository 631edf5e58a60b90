"""Configuration from the environment (names per docs/runtime-contract.md), checked once at start-up."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, urlsplit

from .role_login import password_problem, username_problem

# Only for `make app`: a fixed, obviously fake key so nobody mistakes it for a real one.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-do-not-deploy"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
_TLS_SSLMODES = {"require", "verify-ca", "verify-full"}  # the modes that never fall back to plaintext
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+")


class Command(StrEnum):
    """The image's commands; each validates only the variables it uses (docs/runtime-contract.md)."""

    SERVE = "serve"
    RELAY = "relay"
    MIGRATE = "migrate"


class SettingsError(Exception):
    """All problems found in the environment, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Settings:
    """What one command needs; the fields another command uses are left empty (None, "", ())."""

    command: Command
    database_url: str  # without user and password when db_secret_arn is set
    db_secret_arn: str | None  # RDS-managed secret: credentials are read per connection (db_credentials)
    db_iam_auth: bool  # each connection's password is an RDS IAM auth token (through RDS Proxy)
    db_proxy: bool  # behind RDS Proxy: no named prepared statements (they pin the proxy's sessions)
    db_read_host: str | None  # a reader endpoint (same port, database, credentials) for lag-tolerant reads
    app_login: AppLogin  # migrate: the application role it creates and grants (app_role.py)
    redis_url: str
    redis_password: str | None
    redis_cluster: bool
    jwt_secret: str  # the current signing key
    jwt_key_id: str | None  # the current key's `kid`; None with a single JWT_SECRET
    jwt_keys: Mapping[str, str]  # every key a token may name by `kid` (the current and the previous one)
    jwt_issuer: str | None
    jwt_audience: str | None
    kafka_bootstrap_servers: tuple[str, ...]
    kafka_auth: str | None
    kafka_topic_prefix: str
    aws_region: str | None  # the relay's MSK IAM token, and DB_IAM_AUTH's tokens
    metrics_namespace: str
    emf_enabled: bool
    port: int
    internal_port: int  # serve: /metrics, /health/ready detail, /openapi.json; the ALB never routes here
    dev_mode: bool


def _bool(env: Mapping[str, str], name: str, problems: list[str]) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw not in _FALSE:
        problems.append(f"{name}: {env[name]!r} is not a boolean; use true or false")
    return False


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _iam_auth(env: Mapping[str, str], problems: list[str]) -> bool:
    """DB_IAM_AUTH: log in as DB_USER with a fresh IAM token per connection, over TLS (db_credentials)."""
    if not _bool(env, "DB_IAM_AUTH", problems):
        return False
    clashing = [p for p in ("DATABASE_URL", "DB_PASSWORD", "DB_LOGIN_ARN") if _optional(env, p)]
    if clashing:
        problems.append(f"DB_IAM_AUTH: the password of each connection is an IAM token; unset {', '.join(clashing)}")
    sslmode = _optional(env, "DB_SSLMODE")
    if sslmode not in _TLS_SSLMODES and (sslmode is None or sslmode in _SSLMODES):
        problems.append(
            f"DB_SSLMODE: {sslmode!r} with DB_IAM_AUTH; IAM authentication needs TLS: use require, verify-ca"
            " or verify-full"
        )
    if not _optional(env, "AWS_REGION"):
        problems.append("AWS_REGION: required with DB_IAM_AUTH=true (the region the IAM token is signed for)")
    return True


def _database_url(env: Mapping[str, str], iam: bool, problems: list[str]) -> str:
    url = _optional(env, "DATABASE_URL")
    secret_arn = _optional(env, "DB_LOGIN_ARN")  # the RDS-managed secret's ARN (the name avoids "SECRET": policy/)
    parts = ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_SSLMODE"]
    given = [p for p in parts if _optional(env, p)]
    if secret_arn:
        # The secret is the only source of credentials, so a stale copy can never shadow a rotation.
        clashing = [p for p in ("DATABASE_URL", "DB_USER", "DB_PASSWORD") if _optional(env, p)]
        if clashing:
            problems.append(f"DB_LOGIN_ARN: the user and password come from the secret; unset {', '.join(clashing)}")
        if not _SECRET_ARN.fullmatch(secret_arn):
            problems.append(f"DB_LOGIN_ARN: {secret_arn!r} is not a Secrets Manager secret ARN")
    elif url and not iam:
        if given:
            problems.append(f"DATABASE_URL: set either DATABASE_URL or DB_* parts, not both (got {given})")
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            problems.append("DATABASE_URL: must look like postgresql://user:pass@host:port/db")
        return url
    required = ("DB_HOST", "DB_NAME") if secret_arn else ("DB_HOST", "DB_NAME", "DB_USER")
    missing = [p for p in required if not _optional(env, p)]
    if missing and not given and not secret_arn and not iam:
        problems.append("DATABASE_URL: required (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD parts, or DB_LOGIN_ARN)")
        return ""
    why = "with DB_LOGIN_ARN" if secret_arn else "with DB_IAM_AUTH" if iam else "when DATABASE_URL is not set"
    for name in missing:
        problems.append(f"{name}: required {why}")
    port = _optional(env, "DB_PORT") or "5432"
    if not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(f"DB_PORT: {port!r} is not a port number (1-65535)")
    sslmode = _optional(env, "DB_SSLMODE")
    if sslmode and sslmode not in _SSLMODES:
        problems.append(f"DB_SSLMODE: {sslmode!r} is not one of {', '.join(sorted(_SSLMODES))}")
    if secret_arn:
        auth = ""
    else:
        user = quote(env.get("DB_USER", ""), safe="")
        password = "" if iam else env.get("DB_PASSWORD", "")
        auth = (f"{user}:{quote(password, safe='')}" if password else user) + "@"
    query = f"?sslmode={sslmode}" if sslmode else ""
    return f"postgresql://{auth}{env.get('DB_HOST', '')}:{port}/{quote(env.get('DB_NAME', ''), safe='')}{query}"


@dataclass(frozen=True, slots=True)
class AppLogin:
    """Where migrate takes the application role's name and password from: a secret, or the environment."""

    secret_arn: str | None = None  # DB_APP_LOGIN_ARN: JSON username/password, like DB_LOGIN_ARN's secret
    username: str | None = None  # DB_APP_USER, for local use
    password: str | None = field(default=None, repr=False)  # DB_APP_PASSWORD

    @property
    def configured(self) -> bool:
        return bool(self.secret_arn or self.username)


def _app_login(env: Mapping[str, str], problems: list[str]) -> AppLogin:
    arn, user, password = (_optional(env, n) for n in ("DB_APP_LOGIN_ARN", "DB_APP_USER", "DB_APP_PASSWORD"))
    if arn:
        if user or password:
            problems.append(
                "DB_APP_LOGIN_ARN: the user and password come from the secret; unset DB_APP_USER, DB_APP_PASSWORD"
            )
        if not _SECRET_ARN.fullmatch(arn):
            problems.append(f"DB_APP_LOGIN_ARN: {arn!r} is not a Secrets Manager secret ARN")
        return AppLogin(secret_arn=arn)
    if not user and not password:
        return AppLogin()
    if not user:
        problems.append("DB_APP_USER: required with DB_APP_PASSWORD (the application role's name)")
    elif problem := username_problem(user):
        problems.append(f"DB_APP_USER: {problem}")
    if not password:
        problems.append("DB_APP_PASSWORD: required with DB_APP_USER (the application role's password)")
    elif problem := password_problem(env["DB_APP_PASSWORD"]):
        problems.append(f"DB_APP_PASSWORD: {problem}")
    return AppLogin(username=user, password=env.get("DB_APP_PASSWORD"))


# A bare DNS name or IPv4 address: the reader shares the writer's port, database and credentials.
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")


def _read_host(env: Mapping[str, str], problems: list[str]) -> str | None:
    host = _optional(env, "DB_READ_HOST")
    if host and not _HOST.fullmatch(host):
        problems.append(f"DB_READ_HOST: {host!r} is not a host name; give the reader endpoint's host only, no port")
    return host


@dataclass(frozen=True, slots=True)
class _Redis:
    url: str = ""
    password: str | None = None
    cluster: bool = False


@dataclass(frozen=True, slots=True)
class _Kafka:
    servers: tuple[str, ...] = ()
    auth: str | None = None
    region: str | None = None
    topic_prefix: str = ""


def _redis(env: Mapping[str, str], problems: list[str]) -> _Redis:
    url = _optional(env, "REDIS_URL") or ""
    if not url:
        problems.append("REDIS_URL: required, e.g. redis://host:6379/0 or rediss://host:6379")
    elif urlsplit(url).scheme not in ("redis", "rediss"):
        problems.append(f"REDIS_URL: scheme must be redis:// or rediss://, got {url.split(':')[0]!r}")
    return _Redis(url, _optional(env, "REDIS_PASSWORD"), _bool(env, "REDIS_CLUSTER", problems))


@dataclass(frozen=True, slots=True)
class _JwtKeys:
    secret: str = ""
    current: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)


_MIN_KEY_BYTES = 32  # HS256: a key shorter than the hash output weakens it (RFC 7518 section 3.2)


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    names = [name for name, _ in pairs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} appears more than once; each kid may appear once")
    return dict(pairs)


def _jwt_keyset(raw: str, problems: list[str]) -> _JwtKeys:
    """JWT_KEYS: {"current": "<kid>", "keys": {"<kid>": "<key>", ...}}, the rotation keyset."""
    shape = 'JWT_KEYS: must be {"current": "<kid>", "keys": {"<kid>": "<key of at least 32 bytes>", ...}}'
    try:
        keyset = json.loads(raw, object_pairs_hook=_unique_pairs)
    except ValueError as exc:
        problems.append(f"JWT_KEYS: not valid JSON ({exc}); {shape}")
        return _JwtKeys()
    keys = keyset.get("keys") if isinstance(keyset, dict) else None
    current = keyset.get("current") if isinstance(keyset, dict) else None
    if not isinstance(keys, dict) or not keys or not isinstance(current, str):
        problems.append(shape)
        return _JwtKeys()
    bad = [kid for kid, key in keys.items() if not kid or not isinstance(key, str)]
    short = [kid for kid, key in keys.items() if isinstance(key, str) and len(key.encode()) < _MIN_KEY_BYTES]
    if bad:
        problems.append(f"JWT_KEYS: kid must be non-empty and each key a string; check {bad}")
    if short:
        problems.append(f"JWT_KEYS: the keys of kid {short} are shorter than {_MIN_KEY_BYTES} bytes")
    if current not in keys:
        problems.append(f"JWT_KEYS: current kid {current!r} is not among the keys {sorted(keys)}")
    if bad or short or current not in keys:
        return _JwtKeys()
    return _JwtKeys(keys[current], current, keys)


def _jwt_keys(env: Mapping[str, str], dev_mode: bool, problems: list[str]) -> _JwtKeys:
    keyset, secret = env.get("JWT_KEYS", ""), env.get("JWT_SECRET", "")
    if keyset and secret:
        problems.append("JWT_SECRET: set either JWT_SECRET (one key) or JWT_KEYS (a keyset by kid), not both")
        return _JwtKeys()
    if keyset:
        return _jwt_keyset(keyset, problems)
    if not secret and dev_mode:
        secret = DEV_JWT_SECRET
    if not secret:
        problems.append("JWT_SECRET: required (HS256 key, at least 32 bytes), or JWT_KEYS (a keyset by kid)")
    elif len(secret.encode()) < _MIN_KEY_BYTES:
        problems.append(f"JWT_SECRET: must be at least {_MIN_KEY_BYTES} bytes, got {len(secret.encode())}")
    return _JwtKeys(secret)


def _kafka(env: Mapping[str, str], problems: list[str]) -> _Kafka:
    servers = tuple(s.strip() for s in env.get("KAFKA_BOOTSTRAP_SERVERS", "").split(",") if s.strip())
    if not servers:
        problems.append("KAFKA_BOOTSTRAP_SERVERS: required, comma-separated brokers (host:port)")
    auth = _optional(env, "KAFKA_AUTH")
    if auth not in (None, "iam"):
        problems.append(f"KAFKA_AUTH: {auth!r} is not allowed; use iam or leave unset for plaintext")
    region = _optional(env, "AWS_REGION")
    if auth == "iam" and not region:
        problems.append("AWS_REGION: required when KAFKA_AUTH=iam")
    return _Kafka(servers, auth, region, env.get("KAFKA_TOPIC_PREFIX", "flashsale."))


def _port(env: Mapping[str, str], name: str, default: str, problems: list[str]) -> int:
    raw = _optional(env, name) or default
    if raw.isdigit() and 0 < int(raw) < 65536:
        return int(raw)
    problems.append(f"{name}: {raw!r} is not a port number (1-65535)")
    return 0


DEFAULT_INTERNAL_PORT = 8001  # the task definition leaves it unset; the ALB's security group never opens it


def _ports(env: Mapping[str, str], problems: list[str]) -> tuple[int, int]:
    """PORT (the API, behind the ALB) and INTERNAL_PORT (never routed by the ALB): two distinct ports."""
    port = _port(env, "PORT", "8000", problems)
    internal = _port(env, "INTERNAL_PORT", str(DEFAULT_INTERNAL_PORT), problems)
    if port and port == internal:
        problems.append(f"INTERNAL_PORT: {internal} is also PORT; the internal endpoints need a port of their own")
    return port, internal


def load_settings(env: Mapping[str, str] | None = None, *, command: Command | str) -> Settings:
    """Parse what `command` uses from the environment; raise SettingsError listing every problem at once.

    Every command needs the database; only `serve` reads Redis, the JWT key and the HTTP settings, only
    `relay` reads Kafka. A command never requires, or even looks at, another command's secrets.
    """
    env = os.environ if env is None else env
    command = Command(command)
    serve, relay = command is Command.SERVE, command is Command.RELAY
    problems: list[str] = []
    dev_mode = _bool(env, "RESERVATION_DEV_MODE", problems)
    iam = _iam_auth(env, problems)
    database_url = _database_url(env, iam, problems)
    redis = _redis(env, problems) if serve else _Redis()
    jwt = _jwt_keys(env, dev_mode, problems) if serve else _JwtKeys()
    kafka = _kafka(env, problems) if relay else _Kafka()
    port, internal_port = _ports(env, problems) if serve else (0, 0)
    settings = Settings(
        command=command,
        database_url=database_url,
        db_secret_arn=_optional(env, "DB_LOGIN_ARN"),
        db_iam_auth=iam,
        db_proxy=_bool(env, "DB_PROXY", problems),
        db_read_host=_read_host(env, problems) if serve else None,
        app_login=_app_login(env, problems) if command is Command.MIGRATE else AppLogin(),
        redis_url=redis.url,
        redis_password=redis.password,
        redis_cluster=redis.cluster,
        jwt_secret=jwt.secret,
        jwt_key_id=jwt.current,
        jwt_keys=jwt.keys,
        jwt_issuer=_optional(env, "JWT_ISSUER") if serve else None,
        jwt_audience=_optional(env, "JWT_AUDIENCE") if serve else None,
        kafka_bootstrap_servers=kafka.servers,
        kafka_auth=kafka.auth,
        kafka_topic_prefix=kafka.topic_prefix,
        aws_region=kafka.region or (_optional(env, "AWS_REGION") if iam else None),
        metrics_namespace=_optional(env, "METRICS_NAMESPACE") or "FlashSale",
        emf_enabled=_bool(env, "EMF_ENABLED", problems) if serve or relay else False,
        port=port,
        internal_port=internal_port,
        dev_mode=dev_mode,
    )
    if problems:
        raise SettingsError(problems)
    return settings
