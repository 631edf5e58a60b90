"""Cache: the ElastiCache Redis (or Valkey) replication group that gates every reservation attempt.

One node in dev; in prod cluster mode with shards x replicas and Multi-AZ failover. Always encrypted
at rest (customer KMS key) and in transit (TLS required), with an AUTH token generated here, kept in
Secrets Manager, and `noeviction`: a stock counter must never be evicted under memory pressure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.kms import data_key

REDIS_PORT = 6379
# The printable characters ElastiCache accepts in an AUTH token besides letters and digits
# (it refuses spaces, '/', '"' and '@').
AUTH_TOKEN_SPECIALS = "!&#$^<>-"
AUTH_TOKEN_LENGTH = 64


def parameter_group_family(engine: str, version: str) -> str:
    """redis 7.x -> redis7, valkey 7.2 -> valkey7, valkey 8.x -> valkey8."""
    return f"{engine}{version.split('.')[0]}"


def auth_token_update_strategy(generation: int, finalized: int) -> str | None:
    """How ElastiCache applies the token (ModifyReplicationGroup AuthTokenUpdateStrategy; botocore's
    AuthTokenUpdateStrategyType): ROTATE keeps the old token valid beside the new one, SET (allowed only
    after ROTATE) then leaves the new one alone. None before the first rotation: the provider modifies the
    group when the token or the strategy changes (terraform-provider-aws replication_group.go), and a SET
    that no ROTATE preceded is refused. Config validation keeps finalized at generation or one below.
    docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html "Modifying the AUTH token on an existing cluster"
    """
    if generation == 0:
        return None
    return "SET" if finalized == generation else "ROTATE"


@dataclass(frozen=True)
class CacheArgs:
    subnet_ids: pulumi.Input[Sequence[str]]
    """The isolated subnets of the cache nodes. Required."""
    security_group_id: pulumi.Input[str]
    """The cache's security group. Required."""
    engine: str = "valkey"
    """valkey or redis (Redis OSS). Default valkey."""
    engine_version: str = "8.2"
    """Engine version, <major>.<minor>; the parameter-group family follows its major. Default "8.2"."""
    node_type: str = "cache.t4g.micro"
    """ElastiCache node type. Default cache.t4g.micro."""
    cluster_mode: bool = False
    """Cluster mode (shards x replicas). Default False: one primary with its replicas."""
    shards: int = 1
    """Node groups in cluster mode. Default 1."""
    replicas_per_shard: int = 1
    """Replicas per shard (>= 1: automatic failover and Multi-AZ). Default 1."""
    snapshot_retention_days: int = 1
    """Daily snapshots kept, days. Default 1."""
    auth_token_generation: int = 0
    """The current AUTH token's generation; raise by one to rotate. Default 0."""
    auth_token_finalized_generation: int = 0
    """The generation whose predecessor is dropped (SET after ROTATE). Default 0."""
    protect_data: bool = True
    """protect=True on the group, its key and its secret, and the secret's 30-day recovery. Default True."""
    log_retention_days: int = 90
    """Retention of the slow-log group, days. Default 90."""


class Cache(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    cluster_mode: bool
    auth_secret_arn: pulumi.Output[str]
    auth_secret_version: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    replication_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:data:Cache", name, None, opts)
        protect = args.protect_data
        child = pulumi.ResourceOptions(parent=self)
        data = pulumi.ResourceOptions(parent=self, protect=protect)

        key = data_key(f"{name}-key", f"{name}: cache data and its AUTH secret", protect=protect, parent=self)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"{name}: isolated subnets only",
            subnet_ids=args.subnet_ids,
            opts=child,
        )
        params = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=parameter_group_family(args.engine, args.engine_version),
            description=f"{name}: noeviction, cluster mode {'on' if args.cluster_mode else 'off'}",
            parameters=[
                # A full cache must refuse writes, never drop stock counters or holds.
                aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="noeviction"),
                aws.elasticache.ParameterGroupParameterArgs(
                    name="cluster-enabled", value="yes" if args.cluster_mode else "no"
                ),
            ],
            opts=child,
        )
        slow_log = aws.cloudwatch.LogGroup(
            f"{name}-slow-log",
            name=f"/flashsale/{name}/slow-log",
            retention_in_days=args.log_retention_days,
            opts=child,
        )

        # Not protected: a rotation replaces it (the secret and the group stay protected). Generation 0 has
        # no keepers, as the token made before rotation existed, so adopting it replaces nothing.
        generation = args.auth_token_generation
        token = random.RandomPassword(
            f"{name}-auth-token",
            length=AUTH_TOKEN_LENGTH,
            special=True,
            override_special=AUTH_TOKEN_SPECIALS,
            keepers={"generation": str(generation)} if generation else None,
            opts=child,
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-auth-token",
            description=f"{name}: Redis AUTH token (the whole secret string is the token)",
            kms_key_id=key.arn,
            # Dev: delete at once so a re-created stack can reuse the name; prod: the 30-day window.
            recovery_window_in_days=30 if protect else 0,
            opts=data,
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-auth-token",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(token.result),
            opts=child,
        )

        # Cluster mode always fails over automatically; without it a replica is needed to fail over to.
        failover = args.cluster_mode or args.replicas_per_shard >= 1
        shape = (
            {"num_node_groups": args.shards, "replicas_per_node_group": args.replicas_per_shard}
            if args.cluster_mode
            else {"num_cache_clusters": 1 + args.replicas_per_shard}
        )
        group = aws.elasticache.ReplicationGroup(
            f"{name}-replication-group",
            description=f"{name}: reservation gate ({args.engine})",
            engine=args.engine,
            engine_version=args.engine_version,
            node_type=args.node_type,
            port=REDIS_PORT,
            cluster_mode="enabled" if args.cluster_mode else "disabled",
            **shape,
            automatic_failover_enabled=failover,
            multi_az_enabled=args.replicas_per_shard >= 1,
            subnet_group_name=subnets.name,
            security_group_ids=[args.security_group_id],
            parameter_group_name=params.name,
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=pulumi.Output.secret(token.result),
            auth_token_update_strategy=auth_token_update_strategy(generation, args.auth_token_finalized_generation),
            log_delivery_configurations=[
                aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                    destination=slow_log.name,
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                )
            ],
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window="03:00-04:00",
            maintenance_window="sun:04:30-sun:05:30",
            final_snapshot_identifier=f"{name}-final" if protect else None,
            auto_minor_version_upgrade=True,
            apply_immediately=not protect,
            opts=data,
        )

        self.cluster_mode = args.cluster_mode
        # Cluster-mode clients discover shards through the configuration endpoint.
        self.endpoint = group.configuration_endpoint_address if args.cluster_mode else group.primary_endpoint_address
        self.port = group.port
        self.auth_secret_arn = secret.arn
        # Tasks read the token at this version: a rotated token is a new task definition, so tasks roll.
        self.auth_secret_version = version.version_id
        self.kms_key_arn = key.arn
        self.replication_group_id = group.id
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "port": self.port,
                "clusterMode": self.cluster_mode,
                "authSecretArn": self.auth_secret_arn,
                "kmsKeyArn": self.kms_key_arn,
                "replicationGroupId": self.replication_group_id,
            }
        )
