"""The container definitions of one service's task, per docs/runtime-contract.md.

Two containers from the same image: `migrate` (non-essential, runs to completion) and the service's
own command, which starts only after migrate exited 0. Both run read-only as a non-root user with
an ephemeral /tmp; credentials arrive as `secrets` (valueFrom), endpoints as environment. Each
container gets only what its command uses: the database for all, Redis and the JWT key for `serve`,
Kafka for `relay`.

Database logins (docs/runtime-contract.md, "Database credentials"): migrate gets the master's and the
application role's user and password as `secrets`, which the execution role reads at task start, so
the task role (which the service's own process holds) never reads the master secret; it connects to
the database's own endpoint. serve and relay log in as the application role: through RDS Proxy with an
IAM token where there is a proxy, else with the app secret read per connection (DB_LOGIN_ARN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from reservation.shared import cloudwatch_metrics as cw

from components.data_endpoints import DataEndpoints

APP_USER = "10001:10001"  # app/Dockerfile's USER; never root
TMP_VOLUME = "tmp"
METRICS_NAMESPACE = cw.DEFAULT_NAMESPACE  # the one the dashboard and the sale alarms read
MIGRATE = "migrate"
SERVE = "serve"
RELAY = "relay"


@dataclass(frozen=True)
class ContainerSpec:
    service_name: str
    command: tuple[str, ...]
    port: int
    image_uri: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    region: str
    data: DataEndpoints
    jwt_secret_arn: pulumi.Input[str]
    jwt_secret_version: pulumi.Input[str]  # pinned: a rotated keyset is a new task definition

    def __post_init__(self) -> None:
        if self.command[:1] not in ((SERVE,), (RELAY,)):
            raise ValueError(f"{self.service_name}: command {list(self.command)} is not in docs/runtime-contract.md")


@dataclass(frozen=True)
class SecretRef:
    """One `secrets` entry: the variable, the secret it comes from, that secret's customer key, the JSON key
    it takes (None: the whole secret) and the version it is pinned to (None: whatever is AWSCURRENT when a
    task starts)."""

    name: str
    arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None
    version_id: pulumi.Input[str] | None = None
    json_key: str | None = None

    @property
    def value_from(self) -> pulumi.Input[str]:
        if self.version_id is None and self.json_key is None:
            return self.arn
        # <secret ARN>:<json-key>:<version-stage>:<version-id>, the stage always empty (a version id names one
        # version already). docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
        return pulumi.Output.concat(self.arn, ":", self.json_key or "", "::", self.version_id or "")


def topic_prefix(topics: Sequence[str]) -> str:
    """`flashsale.` for flashsale.reservations, flashsale.orders, ...: the app appends the logical name."""
    names = sorted(topics)
    common = names[0] if names else ""
    for name in names[1:]:
        while not name.startswith(common):
            common = common[:-1]
    return common[: common.rfind(".") + 1] if "." in common else ""


def database_environment(spec: ContainerSpec, command: str) -> dict[str, pulumi.Input[str]]:
    """Where and how each command logs in to PostgreSQL (its user and password, if any, come as secrets)."""
    data = spec.data
    values: dict[str, pulumi.Input[str]] = {
        "DB_PORT": pulumi.Output.from_input(data.database_port).apply(str),
        "DB_NAME": data.database_name,
        "DB_SSLMODE": "require",
    }
    if command == MIGRATE or not data.database_proxy:
        # migrate always goes to the database itself: the proxy holds only the application role's secret,
        # and migrate's session advisory lock would pin a proxy session anyway.
        values["DB_HOST"] = data.database_host
    if command == MIGRATE:
        return values
    if data.database_proxy:
        values |= {
            "DB_HOST": data.database_proxy_host,
            # Each connection's password is an IAM token for DB_USER, signed with the task role for AWS_REGION
            # (the proxy requires it: components/database.py).
            "DB_IAM_AUTH": "true",
            "DB_USER": data.database_app_username,
            "AWS_REGION": spec.region,
            # The app then uses unnamed statements (asyncpg statement_cache_size=0): named prepared statements
            # pin the client to one database connection and defeat the proxy's multiplexing.
            # docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html
            "DB_PROXY": "true",
        }
    else:
        # An ARN, not a secret: the app reads the application role's user and password from it per
        # connection. No "SECRET" in the name, which the policy pack (credentials-in-secrets-manager) takes
        # for a plaintext credential.
        values["DB_LOGIN_ARN"] = data.database_app_secret_arn
    if command == SERVE and data.database_read_host is not None:
        values["DB_READ_HOST"] = data.database_read_host
    return values


def environment(spec: ContainerSpec, command: str) -> list[dict[str, pulumi.Input[str]]]:
    data = spec.data
    values = database_environment(spec, command)
    if command == SERVE:
        port = pulumi.Output.from_input(data.cache_port).apply(str)
        values |= {
            # No password in the URL: it comes as REDIS_PASSWORD from Secrets Manager.
            "REDIS_URL": pulumi.Output.concat("rediss://", data.cache_endpoint, ":", port),
            "REDIS_CLUSTER": "true" if data.cache_cluster_mode else "false",
            "PORT": str(spec.port),
        }
    if command in (SERVE, RELAY):  # both write EMF lines (the relay: outbox lag, published, publish errors)
        values |= {"EMF_ENABLED": "true", "METRICS_NAMESPACE": METRICS_NAMESPACE}
    if command == RELAY:
        values |= {
            "KAFKA_BOOTSTRAP_SERVERS": data.kafka_bootstrap_brokers,
            "KAFKA_AUTH": "iam",
            "KAFKA_TOPIC_PREFIX": topic_prefix(data.kafka_topic_names),
            "AWS_REGION": spec.region,
        }
    return [{"name": k, "value": v} for k, v in sorted(values.items())]


def secret_refs(spec: ContainerSpec, command: str) -> list[SecretRef]:
    data = spec.data
    if command == MIGRATE:
        key = data.database_secret_kms_key_arn
        return [
            # The master login: RDS rotates it, so no pinned version (migrate runs for seconds after task start).
            SecretRef("DB_USER", data.database_secret_arn, key, json_key="username"),
            SecretRef("DB_PASSWORD", data.database_secret_arn, key, json_key="password"),
            # The application role's: pinned, so a new password is a new task definition whose migrate sets it.
            SecretRef("DB_APP_USER", data.database_app_secret_arn, key, data.database_app_secret_version, "username"),
            SecretRef(
                "DB_APP_PASSWORD", data.database_app_secret_arn, key, data.database_app_secret_version, "password"
            ),
        ]
    if command != SERVE:
        return []
    return [
        SecretRef(
            "REDIS_PASSWORD",
            spec.data.cache_auth_secret_arn,
            spec.data.cache_secret_kms_key_arn,
            spec.data.cache_auth_secret_version,
        ),
        # The keyset by kid (components/jwt_key.py); JwtSigningKey uses the AWS managed key.
        SecretRef("JWT_KEYS", spec.jwt_secret_arn, None, spec.jwt_secret_version),
    ]


def referenced_secrets(spec: ContainerSpec) -> list[SecretRef]:
    """What the execution role may read at task start: exactly the secrets the containers reference, each
    once (several variables come from one secret's JSON keys)."""
    unique: dict[object, SecretRef] = {}
    for ref in secret_refs(spec, MIGRATE) + secret_refs(spec, spec.command[0]):
        unique.setdefault(_identity(ref.arn), ref)
    return list(unique.values())


def referenced_keys(spec: ContainerSpec) -> list[pulumi.Input[str]]:
    """The customer keys of those secrets, each once (the master's and the app's secret share the database's)."""
    keys = {_identity(r.kms_key_arn): r.kms_key_arn for r in referenced_secrets(spec) if r.kms_key_arn is not None}
    return list(keys.values())


def _identity(value: pulumi.Input[str] | None) -> object:
    """A plain string is its own identity; an Output is the one object its producer hands everyone."""
    return value if isinstance(value, str) or value is None else id(value)


def _container(spec: ContainerSpec, name: str, command: Sequence[str], *, essential: bool) -> dict:
    refs = secret_refs(spec, command[0])
    return {
        "name": name,
        "image": spec.image_uri,
        "command": list(command),
        "essential": essential,
        "user": APP_USER,
        "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}],
        "environment": environment(spec, command[0]),
        **({"secrets": [{"name": r.name, "valueFrom": r.value_from} for r in refs]} if refs else {}),
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": spec.log_group_name,
                "awslogs-region": spec.region,
                "awslogs-stream-prefix": name,
            },
        },
    }


def container_definitions(spec: ContainerSpec, *, web: bool) -> pulumi.Output[str]:
    app = _container(spec, spec.service_name, spec.command, essential=True) | {
        "dependsOn": [{"containerName": MIGRATE, "condition": "SUCCESS"}],
        # The image's own probe: /health/live on PORT (API) or RELAY_HEALTH_PORT (relay).
        "healthCheck": {
            "command": ["CMD", "python", "-m", "reservation.healthcheck"],
            "interval": 10,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 30,
        },
        "stopTimeout": 30,
    }
    if web:
        app["portMappings"] = [{"containerPort": spec.port, "protocol": "tcp"}]
    return pulumi.Output.json_dumps([_container(spec, MIGRATE, [MIGRATE], essential=False), app])
