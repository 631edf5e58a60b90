"""The pack's registration: every rule wrapped as a pulumi-policy policy, with its name, description,
the resource types it governs and its config schema, grouped by the domain module it comes from.

`policy/__main__.py` hands ALL_POLICIES to PolicyPack at ENFORCEMENT; a stack's
policy/config.<stack>.json may relax single rules (dev does, for the cost-driven ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from allowed_values import DEPLOY_STRATEGIES, MIN_AVAILABILITY_ZONES, MIN_BACKUP_RETENTION_DAYS, REQUIRED_TAGS
from policy.rules import encryption, exposure, iam, operations, resilience
from policy.rules.props import ResourceRule, StackRule, Subject
from policy.rules.resource_types import (
    AWSX_VPC,
    DATA_STORES,
    ECR_REPOSITORIES,
    ECS_SERVICE,
    IAM_ATTACHMENT,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    KMS_KEY,
    LOG_GROUP,
    MSK,
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_INSTANCE,
    RDS_PROXY,
    REDIS,
    SECURITY_GROUP,
    SG_INGRESS,
    SG_RULE,
    TAGGABLE,
    TASK_DEFINITION,
)

# Strict unless a stack's config (policy/config.<stack>.json) relaxes a rule.
ENFORCEMENT = EnforcementLevel.MANDATORY

Policy = ResourceValidationPolicy | StackValidationPolicy


def _resource_policy(
    name: str,
    description: str,
    types: Iterable[str],
    rule: ResourceRule,
    schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    applies_to = frozenset(types)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in applies_to:
            return
        subject = Subject(
            type=args.resource_type,
            props=args.props,
            protect=bool(args.opts.protect) if args.opts is not None else False,
            provider_props=args.provider.props if args.provider is not None else None,
            config=args.get_config(),
        )
        for message in rule(subject):
            report(message)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, config_schema=schema)


def _stack_policy(
    name: str, description: str, rule: StackRule, schema: PolicyConfigSchema | None = None
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for urn, message in rule(args.resources, args.get_config()):
            report(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, config_schema=schema)


def _schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


_ZONES = {"type": "integer", "minimum": 1, "default": MIN_AVAILABILITY_ZONES}

ENCRYPTION: tuple[Policy, ...] = (
    _resource_policy(
        "database-encryption",
        "Databases are encrypted at rest and RDS Proxy requires TLS.",
        (RDS_INSTANCE, RDS_CLUSTER, RDS_PROXY),
        encryption.database_encryption,
    ),
    _resource_policy(
        "cache-encryption", "Redis is encrypted at rest and in transit.", (REDIS,), encryption.cache_encryption
    ),
    _resource_policy(
        "kafka-encryption",
        "MSK encrypts at rest with a customer key and speaks TLS only.",
        (MSK,),
        encryption.kafka_encryption,
    ),
    _resource_policy("kms-key-rotation", "KMS keys rotate yearly.", (KMS_KEY,), encryption.kms_key_rotation),
    _resource_policy(
        "credentials-in-secrets-manager",
        "Credentials live in Secrets Manager, never in plaintext inputs.",
        (RDS_INSTANCE, RDS_CLUSTER, RDS_PROXY, TASK_DEFINITION),
        encryption.credentials_in_secrets_manager,
    ),
)

EXPOSURE: tuple[Policy, ...] = (
    _resource_policy(
        "no-public-data-stores",
        "Databases and brokers are not reachable from the internet.",
        (RDS_INSTANCE, RDS_CLUSTER_INSTANCE, MSK),
        exposure.no_public_data_stores,
    ),
    _resource_policy(
        "public-ingress-web-ports-only",
        "Ingress from 0.0.0.0/0 or ::/0 is allowed only on TCP 80/443.",
        (SG_INGRESS, SG_RULE, SECURITY_GROUP),
        exposure.public_ingress_web_ports_only,
    ),
    _resource_policy(
        "tasks-without-public-ip", "ECS tasks get no public IP.", (ECS_SERVICE,), exposure.tasks_without_public_ip
    ),
    _stack_policy(
        "public-ingress-on-load-balancer-only",
        "Only a public load balancer's security group is open to the internet.",
        exposure.public_ingress_on_load_balancer_only,
    ),
    _stack_policy(
        "http-redirects-to-https",
        "With a certificate, HTTP :80 listeners only redirect to HTTPS.",
        exposure.http_redirects_to_https,
    ),
)

RESILIENCE: tuple[Policy, ...] = (
    _resource_policy(
        "redis-automatic-failover",
        "Redis fails over automatically to a replica in another AZ.",
        (REDIS,),
        resilience.redis_automatic_failover,
    ),
    _resource_policy(
        "kafka-brokers-across-azs",
        "MSK runs at least 3 brokers spread across AZs.",
        (MSK,),
        resilience.kafka_brokers_across_azs,
        _schema(
            minBrokers={"type": "integer", "minimum": 1, "default": resilience.DEFAULT_MIN_BROKERS}, minZones=_ZONES
        ),
    ),
    _resource_policy(
        "deletion-protection",
        "Data stores, their keys and secrets are protected from deletion.",
        DATA_STORES,
        resilience.deletion_protection,
    ),
    _resource_policy(
        "backup-retention",
        "Databases keep automated backups long enough.",
        (RDS_INSTANCE, RDS_CLUSTER),
        resilience.backup_retention,
        _schema(minDays={"type": "integer", "minimum": 1, "default": MIN_BACKUP_RETENTION_DAYS}),
    ),
    _resource_policy(
        "network-high-availability",
        "The VPC spans enough AZs with a NAT gateway in each.",
        (AWSX_VPC,),
        resilience.network_high_availability,
        _schema(minZones=_ZONES),
    ),
    _stack_policy(
        "database-multi-az",
        "Databases survive an AZ outage (Multi-AZ instance, or Aurora writer plus reader).",
        resilience.database_multi_az,
    ),
    _stack_policy(
        "database-cross-region-backup",
        "Database backups are copied to a second region (disaster recovery).",
        resilience.database_cross_region_backup,
    ),
)

OPERATIONS: tuple[Policy, ...] = (
    _resource_policy(
        "log-group-retention", "Every log group has a retention.", (LOG_GROUP,), operations.log_group_retention
    ),
    _resource_policy(
        "ecr-scan-and-immutable-tags",
        "ECR scans images on push and tags are immutable.",
        ECR_REPOSITORIES,
        operations.ecr_scan_and_immutable_tags,
    ),
    _resource_policy(
        "ecs-blue-green-rollback",
        "ECS services deploy blue/green (or canary/linear) with circuit-breaker rollback.",
        (ECS_SERVICE,),
        operations.ecs_blue_green_rollback,
        _schema(strategies={"type": "array", "items": {"type": "string"}, "default": list(DEPLOY_STRATEGIES)}),
    ),
    _resource_policy(
        "required-tags",
        "Resources carry the required tags (own tags or the provider's defaultTags).",
        TAGGABLE,
        operations.required_tags,
        _schema(requiredTags={"type": "array", "items": {"type": "string"}, "default": list(REQUIRED_TAGS)}),
    ),
    _stack_policy(
        "ecs-service-autoscaled",
        "Every ECS service has an autoscaling target.",
        operations.ecs_service_autoscaled,
    ),
)

IAM: tuple[Policy, ...] = (
    _resource_policy(
        "iam-no-wildcard-statements",
        "No IAM statement allows every action on every resource.",
        (IAM_ROLE, IAM_ROLE_POLICY, IAM_POLICY),
        iam.iam_no_wildcard_statements,
    ),
    _resource_policy(
        "iam-no-admin-policies",
        "Roles get no administrator policy, attached or inline.",
        (IAM_ROLE, IAM_ROLE_POLICY, IAM_ATTACHMENT),
        iam.iam_no_admin_policies,
    ),
)

# Keyed by the rules module each group wraps (policy/rules/<domain>.py); tests/policy/rules mirror them.
BY_DOMAIN: dict[str, tuple[Policy, ...]] = {
    "encryption": ENCRYPTION,
    "exposure": EXPOSURE,
    "resilience": RESILIENCE,
    "operations": OPERATIONS,
    "iam": IAM,
}

RESOURCE_POLICIES: tuple[ResourceValidationPolicy, ...] = tuple(
    p for group in BY_DOMAIN.values() for p in group if isinstance(p, ResourceValidationPolicy)
)
STACK_POLICIES: tuple[StackValidationPolicy, ...] = tuple(
    p for group in BY_DOMAIN.values() for p in group if isinstance(p, StackValidationPolicy)
)
ALL_POLICIES = (*RESOURCE_POLICIES, *STACK_POLICIES)
