"""The data tier: PostgreSQL (RDS or Aurora), its disaster recovery, Redis/Valkey, Kafka (MSK)."""

from __future__ import annotations

from typing import Annotated, Literal

import boto3
from pydantic import AfterValidator, BeforeValidator
from reservation.shared.role_login import username_problem

from stackconfig.allowed import CACHE_ENGINES, DATABASE_ENGINES, MSK_MONITORING, MSK_TOPIC_API_VERSION
from stackconfig.base import Bool, Float, Int, Model, Str, between, blank_is_none, matches, objects, problem


def _app_role_name(name: str) -> str:
    # The service's own rule (migrate refuses any other name), so a bad name fails the plan, not the deploy.
    if username_problem(name):
        allowed = "must be 1-63 lowercase letters, digits or _, not starting with a digit or pg_, nor a reserved name"
        raise problem(allowed, name)
    return name


def _insights_retention(days: int) -> int:
    # Performance Insights keeps 7 days (free), 731, or whole months of 31 days.
    if days not in (7, 731) and days % 31:
        raise problem("must be 7, 731 or a multiple of 31", days)
    return days


class DatabaseConfig(Model):
    engine: Literal[DATABASE_ENGINES] = "postgres"
    engine_version: Annotated[
        Str,
        matches(
            r"^1[6-9](\.\d+)?$",
            "must be a PostgreSQL major version (16 or later, e.g. 16) or major.minor (e.g. 16.11)",
        ),
    ] = "16"
    instance_class: Annotated[
        Str, matches(r"^db\.[a-z0-9]+\.[a-z0-9]+$", "must be an RDS instance class such as db.t4g.micro")
    ] = "db.t4g.micro"
    allocated_storage_gb: Annotated[Int, between(20, 65536)] = 20
    max_allocated_storage_gb: Annotated[Int, between(20, 65536)] = 100
    multi_az: Bool = False
    aurora_min_acu: Annotated[Float, between(0, 256)] = 0.5
    aurora_max_acu: Annotated[Float, between(1, 256)] = 4.0
    aurora_readers: Annotated[Int, between(0, 15)] = 0
    backup_retention_days: Annotated[Int, between(1, 35)] = 1
    proxy: Bool = False
    name: Annotated[Str, matches(r"^[a-z][a-z0-9_]{0,62}$", "must be a lowercase PostgreSQL identifier")] = "flashsale"
    username: Annotated[
        Str,
        matches(r"^[a-z][a-z0-9_]{0,15}$", "must be a lowercase identifier of at most 16 characters, not 'postgres'"),
    ] = "flashsale"
    # The application role serve and relay log in as (docs/runtime-contract.md); migrate creates it.
    app_username: Annotated[Str, AfterValidator(_app_role_name)] = "flashsale_app"
    slow_statement_ms: Annotated[Int, between(10, 60000)] = 250
    performance_insights_retention_days: Annotated[Int, between(7, 731), AfterValidator(_insights_retention)] = 7


def _rds_region(value: str | None) -> str | None:
    # botocore's endpoint data lists the regions RDS runs in: a typo fails here, not at `pulumi up`.
    if value is not None and value not in boto3.session.Session().get_available_regions("rds"):
        raise problem("must be empty or an AWS region where RDS runs, such as eu-central-1", value)
    return value


class DisasterRecoveryConfig(Model):
    # None: backups stay in the stack's region.
    region: Annotated[str | None, blank_is_none(), AfterValidator(_rds_region)] = None
    backup_retention_days: Annotated[Int, between(1, 35)] = 7
    # A recovery stack only: the replicated automated backups to restore the database from, and the key
    # they are encrypted with (the restored instance keeps that key). Both None in normal operation; their
    # format and region are checked against aws:region by stackconfig/rules.py.
    restore_from_backup_arn: Annotated[str | None, blank_is_none()] = None
    restore_kms_key_arn: Annotated[str | None, blank_is_none()] = None


class CacheConfig(Model):
    # Valkey: AWS's engine for new ElastiCache clusters, the Redis OSS 7.2 command set (Lua included) at up to
    # 20% less per node than Redis OSS (aws.amazon.com/elasticache/faqs, "Valkey features").
    engine: Literal[CACHE_ENGINES] = "valkey"
    # <major>.<minor>: the provider refuses a bare major (terraform-provider-aws, validValkeyVersionString).
    engine_version: Annotated[
        Str, matches(r"^[78]\.\d+$", "must be a Redis/Valkey version <major>.<minor> such as 8.2 or 7.1")
    ] = "8.2"
    node_type: Annotated[
        Str, matches(r"^cache\.[a-z0-9]+\.[a-z0-9]+$", "must be an ElastiCache node type such as cache.t4g.micro")
    ] = "cache.t4g.micro"
    cluster_mode: Bool = False
    shards: Annotated[Int, between(1, 500)] = 1
    replicas_per_shard: Annotated[Int, between(0, 5)] = 0
    snapshot_retention_days: Annotated[Int, between(0, 35)] = 0
    # AUTH token rotation (components/cache.py): generation N is the current token; finalized N-1 means
    # the previous one is still valid (ROTATE), finalized N that it has been dropped (SET).
    auth_token_generation: Annotated[Int, between(0, 1_000_000)] = 0
    auth_token_finalized_generation: Annotated[Int, between(0, 1_000_000)] = 0


class TopicConfig(Model):
    name: Annotated[Str, matches(r"^[a-zA-Z0-9._-]{1,249}$", "must be a Kafka topic name (letters, digits, . _ -)")]
    partitions: Annotated[Int, between(1, 1000)] = 6
    retention_hours: Annotated[Int, between(1, 87600)] = 168


def _topic_api(version: str) -> str:
    # The topics are aws.msk.Topic, i.e. MSK's topic APIs, which need Kafka 3.6.0 or later:
    # docs.aws.amazon.com/msk/latest/developerguide/msk-topic-operations-information.html
    if tuple(int(p) for p in version.split(".")[:2]) < MSK_TOPIC_API_VERSION:
        raise problem("must be 3.6 or later: the topics are created through MSK's topic API", version)
    return version


def _platform_topics(topics: tuple[TopicConfig, ...]) -> tuple[TopicConfig, ...]:
    if not topics:
        raise problem("must declare the platform's topics", [])
    names = [t.name for t in topics]
    for name in names:
        if names.count(name) > 1:
            raise problem("topic names must be unique", name)
    return topics


class KafkaConfig(Model):
    version: Annotated[
        Str,
        matches(r"^[34]\.\d+\.(\d+|x)(\.kraft)?$", "must be an MSK Kafka version such as 3.8.x"),
        AfterValidator(_topic_api),
    ] = "3.8.x"
    instance_type: Annotated[
        Str, matches(r"^(kafka|express)\.[a-z0-9]+\.[a-z0-9]+$", "must be an MSK broker type such as kafka.m7g.large")
    ] = "kafka.t3.small"
    brokers_per_az: Annotated[Int, between(1, 10)] = 1
    volume_size_gb: Annotated[Int, between(1, 16384)] = 20
    max_volume_size_gb: Annotated[Int, between(1, 16384)] = 100
    log_retention_hours: Annotated[Int, between(1, 87600)] = 168
    enhanced_monitoring: Literal[MSK_MONITORING] = "DEFAULT"
    topics: Annotated[tuple[TopicConfig, ...], BeforeValidator(objects), AfterValidator(_platform_topics)] = (
        TopicConfig(name="flashsale.reservations", partitions=12),
        TopicConfig(name="flashsale.inventory-updates", partitions=6),
        TopicConfig(name="flashsale.orders", partitions=6, retention_hours=336),
    )

    def broker_count(self, az_count: int) -> int:
        """MSK places the same number of brokers in each of the network's zones."""
        return az_count * self.brokers_per_az
