"""The container definitions of one service's task, per docs/runtime-contract.md.

Two containers from the same image: `migrate` (non-essential, runs to completion) and the service's
own command, which starts only after migrate exited 0. Both run read-only as a non-root user with
an ephemeral /tmp; credentials arrive as `secrets` (valueFrom), endpoints as environment. Each
container gets only what its command uses: the database for all, Redis and the JWT key for `serve`,
Kafka for `relay`. The database password rotates, so it is no task-start secret: the app reads it
from DB_LOGIN_ARN when it connects (the task role may read that one secret).
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
    """One `secrets` entry: the variable, the secret it comes from, that secret's customer key, and the
    version it is pinned to (None: whatever is AWSCURRENT when a task starts)."""

    name: str
    arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None
    version_id: pulumi.Input[str] | None = None

    @property
    def value_from(self) -> pulumi.Input[str]:
        if self.version_id is None:
            return self.arn
        # <secret ARN>:<json-key>:<version-stage>:<version-id>, key and stage empty: the whole secret at that
        # version. docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
        return pulumi.Output.concat(self.arn, ":::", self.version_id)


def topic_prefix(topics: Sequence[str]) -> str:
    """`flashsale.` for flashsale.reservations, flashsale.orders, ...: the app appends the logical name."""
    names = sorted(topics)
    common = names[0] if names else ""
    for name in names[1:]:
        while not name.startswith(common):
            common = common[:-1]
    return common[: common.rfind(".") + 1] if "." in common else ""


def environment(spec: ContainerSpec, command: str) -> list[dict[str, pulumi.Input[str]]]:
    data = spec.data
    values: dict[str, pulumi.Input[str]] = {
        "DB_HOST": data.database_host,
        "DB_PORT": pulumi.Output.from_input(data.database_port).apply(str),
        "DB_NAME": data.database_name,
        "DB_SSLMODE": "require",
        # An ARN, not a secret: the app reads user and password from it per connection. No "SECRET" in
        # the name, which the policy pack (credentials-in-secrets-manager) takes for a plaintext credential.
        "DB_LOGIN_ARN": data.database_secret_arn,
    }
    if data.database_proxy:
        # Every container talks to PostgreSQL through the proxy: the app then uses unnamed statements
        # (asyncpg statement_cache_size=0), because named prepared statements pin the client to one
        # database connection and defeat the proxy's multiplexing. docs.aws.amazon.com/AmazonRDS/latest/
        # UserGuide/rds-proxy-pinning.html
        values["DB_PROXY"] = "true"
    if command == SERVE and data.database_read_host is not None:
        values["DB_READ_HOST"] = data.database_read_host
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
    """What the execution role may read at task start: exactly the secrets the containers reference."""
    return secret_refs(spec, MIGRATE) + secret_refs(spec, spec.command[0])


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
