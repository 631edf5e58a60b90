"""Every resource policy: a passing resource, a failing one, and one whose deciding props are
unknown (as under `pulumi preview`), which must not produce a violation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from policies import RESOURCE_POLICIES
from policy_harness import (
    UNKNOWN_ARRAY,
    UNKNOWN_BOOL,
    UNKNOWN_NUMBER,
    UNKNOWN_OBJECT,
    UNKNOWN_STRING,
    check_resource,
)

POLICIES = {p.name: p for p in RESOURCE_POLICIES}
TAGS = {"project": "flashsale", "environment": "prod", "managed-by": "pulumi"}


@dataclass(frozen=True)
class Case:
    policy: str
    type: str
    passing: dict[str, Any]
    failing: dict[str, Any]
    unknown: dict[str, Any]
    expect: str  # a fragment of the failing message
    options: dict[str, Any] = field(default_factory=dict)  # protect / provider_props / config

    @property
    def id(self) -> str:
        return f"{self.policy}:{self.type.split(':')[-1]}:{self.expect[:24]}"


def _containers(env: list[dict[str, str]]) -> str:
    return json.dumps([{"name": "api", "image": "x", "environment": env, "secrets": []}])


def _policy_doc(action: Any, resource: Any = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


MSK_GOOD = {
    "numberOfBrokerNodes": 3.0,
    "brokerNodeGroupInfo": {
        "clientSubnets": ["a", "b", "c"],
        "connectivityInfo": {"publicAccess": {"type": "DISABLED"}},
    },
    "encryptionInfo": {
        "encryptionAtRestKmsKeyArn": "arn:aws:kms:k",
        "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True},
    },
}

ROLLBACK = {"enable": True, "rollback": True}

CASES = [
    # encryption
    Case(
        "database-encryption",
        "aws:rds/instance:Instance",
        {"storageEncrypted": True},
        {"storageEncrypted": False},
        {"storageEncrypted": UNKNOWN_BOOL},
        "storageEncrypted",
    ),
    Case(
        "database-encryption",
        "aws:rds/cluster:Cluster",
        {"storageEncrypted": True},
        {"engine": "aurora-postgresql"},
        {"storageEncrypted": UNKNOWN_BOOL},
        "storageEncrypted",
    ),
    Case(
        "database-encryption",
        "aws:rds/proxy:Proxy",
        {"requireTls": True},
        {"requireTls": False},
        {"requireTls": UNKNOWN_BOOL},
        "requireTls",
    ),
    Case(
        "cache-encryption",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"atRestEncryptionEnabled": True, "transitEncryptionEnabled": True, "transitEncryptionMode": "required"},
        {"atRestEncryptionEnabled": True, "transitEncryptionEnabled": True, "transitEncryptionMode": "preferred"},
        {"atRestEncryptionEnabled": UNKNOWN_BOOL, "transitEncryptionEnabled": UNKNOWN_BOOL},
        "preferred",
    ),
    Case(
        "cache-encryption",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"atRestEncryptionEnabled": True, "transitEncryptionEnabled": True},
        {"atRestEncryptionEnabled": True},
        {"atRestEncryptionEnabled": True, "transitEncryptionEnabled": UNKNOWN_BOOL},
        "transitEncryptionEnabled",
    ),
    Case(
        "kafka-encryption",
        "aws:msk/cluster:Cluster",
        MSK_GOOD,
        {
            "encryptionInfo": {
                "encryptionAtRestKmsKeyArn": "k",
                "encryptionInTransit": {"clientBroker": "TLS_PLAINTEXT"},
            }
        },
        {"encryptionInfo": UNKNOWN_OBJECT},
        "TLS_PLAINTEXT",
    ),
    Case(
        "kafka-encryption",
        "aws:msk/cluster:Cluster",
        {"encryptionInfo": {"encryptionAtRestKmsKeyArn": "k"}},
        {},
        {"encryptionInfo": {"encryptionAtRestKmsKeyArn": UNKNOWN_STRING}},
        "customer-managed",
    ),
    Case(
        "kafka-encryption",
        "aws:msk/cluster:Cluster",
        MSK_GOOD,
        {"encryptionInfo": {"encryptionAtRestKmsKeyArn": "k", "encryptionInTransit": {"inCluster": False}}},
        {"encryptionInfo": {"encryptionAtRestKmsKeyArn": "k", "encryptionInTransit": {"inCluster": UNKNOWN_BOOL}}},
        "inCluster",
    ),
    Case(
        "kms-key-rotation",
        "aws:kms/key:Key",
        {"enableKeyRotation": True},
        {"description": "msk"},
        {"enableKeyRotation": UNKNOWN_BOOL},
        "enableKeyRotation",
    ),
    Case(
        "credentials-in-secrets-manager",
        "aws:rds/instance:Instance",
        {"manageMasterUserPassword": True},
        {"password": "hunter2", "manageMasterUserPassword": False},
        {"manageMasterUserPassword": UNKNOWN_BOOL, "password": UNKNOWN_STRING},
        "manageMasterUserPassword",
    ),
    Case(
        "credentials-in-secrets-manager",
        "aws:rds/cluster:Cluster",
        {"manageMasterUserPassword": True},
        {"masterPassword": "hunter2"},
        {"manageMasterUserPassword": UNKNOWN_BOOL},
        "masterPassword is set",
    ),
    Case(
        "credentials-in-secrets-manager",
        "aws:rds/proxy:Proxy",
        {"auths": [{"secretArn": "arn:s"}]},
        {"auths": [{"authScheme": "SECRETS"}]},
        {"auths": UNKNOWN_ARRAY},
        "secretArn",
    ),
    Case(
        "credentials-in-secrets-manager",
        "aws:ecs/taskDefinition:TaskDefinition",
        {"containerDefinitions": _containers([{"name": "REDIS_URL", "value": "rediss://cache:6379"}])},
        {"containerDefinitions": _containers([{"name": "JWT_SECRET", "value": "abc"}])},
        {"containerDefinitions": UNKNOWN_STRING},
        "JWT_SECRET",
    ),
    Case(
        "credentials-in-secrets-manager",
        "aws:ecs/taskDefinition:TaskDefinition",
        {"containerDefinitions": _containers([{"name": "DB_HOST", "value": "db"}])},
        {"containerDefinitions": _containers([{"name": "DATABASE_URL", "value": "postgresql://u:p@db/x"}])},
        {"containerDefinitions": UNKNOWN_STRING},
        "DATABASE_URL",
    ),
    # exposure
    Case(
        "no-public-data-stores",
        "aws:rds/instance:Instance",
        {"publiclyAccessible": False},
        {"publiclyAccessible": True},
        {"publiclyAccessible": UNKNOWN_BOOL},
        "publiclyAccessible",
    ),
    Case(
        "no-public-data-stores",
        "aws:rds/clusterInstance:ClusterInstance",
        {},
        {"publiclyAccessible": True},
        {"publiclyAccessible": UNKNOWN_BOOL},
        "publiclyAccessible",
    ),
    Case(
        "no-public-data-stores",
        "aws:msk/cluster:Cluster",
        MSK_GOOD,
        {"brokerNodeGroupInfo": {"connectivityInfo": {"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}}}},
        {"brokerNodeGroupInfo": UNKNOWN_OBJECT},
        "public access",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0},
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0},
        {"cidrIpv4": UNKNOWN_STRING, "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0},
        "5432",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "10.0.0.0/16", "ipProtocol": "-1"},
        {"cidrIpv6": "::/0", "ipProtocol": "-1"},
        {"cidrIpv6": "::/0", "ipProtocol": UNKNOWN_STRING},
        "::/0",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:ec2/securityGroup:SecurityGroup",
        {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 80.0, "toPort": 80.0}]},
        {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 0.0, "toPort": 65535.0}]},
        {"ingress": UNKNOWN_ARRAY},
        "0-65535",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "-1", "fromPort": 0.0, "toPort": 0.0},
        {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 22.0, "toPort": 22.0},
        {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": UNKNOWN_NUMBER, "toPort": 22.0},
        "22-22",
    ),
    Case(
        "tasks-without-public-ip",
        "aws:ecs/service:Service",
        {"networkConfiguration": {"assignPublicIp": False}},
        {"networkConfiguration": {"assignPublicIp": True}},
        {"networkConfiguration": {"assignPublicIp": UNKNOWN_BOOL}},
        "assignPublicIp",
    ),
    # resilience
    Case(
        "redis-automatic-failover",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"automaticFailoverEnabled": True, "multiAzEnabled": True},
        {"numCacheClusters": 1.0},
        {"automaticFailoverEnabled": UNKNOWN_BOOL, "multiAzEnabled": UNKNOWN_BOOL},
        "automaticFailoverEnabled",
    ),
    Case(
        "kafka-brokers-across-azs",
        "aws:msk/cluster:Cluster",
        MSK_GOOD,
        {"numberOfBrokerNodes": 2.0, "brokerNodeGroupInfo": {"clientSubnets": ["a", "b"]}},
        {"numberOfBrokerNodes": UNKNOWN_NUMBER, "brokerNodeGroupInfo": {"clientSubnets": UNKNOWN_ARRAY}},
        "at least 3",
    ),
    Case(
        "deletion-protection",
        "aws:rds/instance:Instance",
        {"deletionProtection": True, "skipFinalSnapshot": False},
        {"deletionProtection": True, "skipFinalSnapshot": True},
        {"deletionProtection": UNKNOWN_BOOL, "skipFinalSnapshot": UNKNOWN_BOOL},
        "skipFinalSnapshot",
        {"protect": True},
    ),
    Case(
        "deletion-protection",
        "aws:rds/cluster:Cluster",
        {"deletionProtection": True},
        {"deletionProtection": False},
        {"deletionProtection": UNKNOWN_BOOL},
        "deletionProtection",
        {"protect": True},
    ),
    Case(
        "deletion-protection",
        "aws:secretsmanager/secret:Secret",
        {"recoveryWindowInDays": 30.0},
        {"recoveryWindowInDays": 0.0},
        {"recoveryWindowInDays": UNKNOWN_NUMBER},
        "cannot be undone",
    ),
    Case(
        "backup-retention",
        "aws:rds/instance:Instance",
        {"backupRetentionPeriod": 7.0},
        {"backupRetentionPeriod": 1.0},
        {"backupRetentionPeriod": UNKNOWN_NUMBER},
        "at least 7",
    ),
    Case(
        "backup-retention",
        "aws:rds/cluster:Cluster",
        {"backupRetentionPeriod": 14.0},
        {},
        {"backupRetentionPeriod": UNKNOWN_NUMBER},
        "not set",
    ),
    Case(
        "network-high-availability",
        "awsx:ec2:Vpc",
        {"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": 3.0},
        {"natGateways": {"strategy": "Single"}, "numberOfAvailabilityZones": 3.0},
        {"natGateways": UNKNOWN_OBJECT, "numberOfAvailabilityZones": 3.0},
        "Single",
    ),
    Case(
        "network-high-availability",
        "awsx:ec2:Vpc",
        {"availabilityZoneNames": ["a", "b", "c"]},
        {"numberOfAvailabilityZones": 2.0},
        {"availabilityZoneNames": UNKNOWN_ARRAY},
        "2 AZ",
    ),
    # operations
    Case(
        "log-group-retention",
        "aws:cloudwatch/logGroup:LogGroup",
        {"retentionInDays": 14.0},
        {"name": "/ecs/api"},
        {"retentionInDays": UNKNOWN_NUMBER},
        "retentionInDays",
    ),
    Case(
        "ecr-scan-and-immutable-tags",
        "aws:ecr/repository:Repository",
        {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE"},
        {"imageScanningConfiguration": {"scanOnPush": True}},
        {"imageScanningConfiguration": {"scanOnPush": UNKNOWN_BOOL}, "imageTagMutability": UNKNOWN_STRING},
        "MUTABLE",
    ),
    Case(
        "ecr-scan-and-immutable-tags",
        "aws:ecr/repository:Repository",
        {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE"},
        {"imageTagMutability": "IMMUTABLE"},
        {"imageScanningConfiguration": UNKNOWN_OBJECT, "imageTagMutability": "IMMUTABLE"},
        "scanOnPush",
    ),
    Case(
        "ecs-blue-green-rollback",
        "aws:ecs/service:Service",
        {"deploymentConfiguration": {"strategy": "BLUE_GREEN"}, "deploymentCircuitBreaker": ROLLBACK},
        {"deploymentCircuitBreaker": ROLLBACK},
        {"deploymentConfiguration": {"strategy": UNKNOWN_STRING}, "deploymentCircuitBreaker": ROLLBACK},
        "ROLLING",
    ),
    Case(
        "ecs-blue-green-rollback",
        "aws:ecs/service:Service",
        {"deploymentConfiguration": {"strategy": "CANARY"}, "deploymentCircuitBreaker": ROLLBACK},
        {"deploymentConfiguration": {"strategy": "LINEAR"}, "deploymentCircuitBreaker": {"enable": True}},
        {"deploymentConfiguration": {"strategy": "LINEAR"}, "deploymentCircuitBreaker": UNKNOWN_OBJECT},
        "rollback",
    ),
    Case(
        "required-tags",
        "aws:rds/instance:Instance",
        {"tags": {"managed-by": "pulumi"}},
        {"tags": {}},
        {"tags": UNKNOWN_OBJECT},
        "managed-by",
        {"provider_props": {"defaultTags": json.dumps({"tags": {"project": "flashsale", "environment": "dev"}})}},
    ),
    Case(
        "required-tags",
        "aws:msk/cluster:Cluster",
        {"tags": TAGS},
        {"tags": {"project": "flashsale"}},
        {"tags": UNKNOWN_OBJECT},
        "environment",
    ),
    # IAM
    Case(
        "iam-no-wildcard-statements",
        "aws:iam/rolePolicy:RolePolicy",
        {"policy": _policy_doc(["kafka-cluster:Connect"], "arn:aws:kafka:x")},
        {"policy": _policy_doc("*")},
        {"policy": UNKNOWN_STRING},
        "every action",
    ),
    Case(
        "iam-no-wildcard-statements",
        "aws:iam/policy:Policy",
        {"policy": _policy_doc("s3:GetObject")},
        {"policy": _policy_doc(["*:*"])},
        {"policy": UNKNOWN_STRING},
        "every action",
    ),
    Case(
        "iam-no-admin-policies",
        "aws:iam/role:Role",
        {"managedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]},
        {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
        {"managedPolicyArns": UNKNOWN_ARRAY},
        "AdministratorAccess",
    ),
    Case(
        "iam-no-admin-policies",
        "aws:iam/rolePolicy:RolePolicy",
        {"policy": _policy_doc("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:x")},
        {"policy": _policy_doc("iam:*", "arn:aws:iam::1:role/x")},
        {"policy": UNKNOWN_STRING},
        "administrator",
    ),
    Case(
        "iam-no-admin-policies",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"},
        {"policyArn": "arn:aws:iam::aws:policy/IAMFullAccess"},
        {"policyArn": UNKNOWN_STRING},
        "IAMFullAccess",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_passing_resource_has_no_violation(case: Case) -> None:
    assert check_resource(POLICIES[case.policy], case.type, case.passing, **case.options) == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_failing_resource_is_reported(case: Case) -> None:
    messages = check_resource(POLICIES[case.policy], case.type, case.failing, **case.options)
    assert any(case.expect in m for m in messages), messages


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unknown_props_are_not_a_violation(case: Case) -> None:
    assert check_resource(POLICIES[case.policy], case.type, case.unknown, **case.options) == []


def test_every_resource_policy_has_cases() -> None:
    assert {c.policy for c in CASES} == set(POLICIES)


def test_unprotected_data_store_is_reported() -> None:
    props = {"deletionProtection": True, "skipFinalSnapshot": False}
    messages = check_resource(POLICIES["deletion-protection"], "aws:rds/instance:Instance", props, protect=False)
    assert messages == ["data resources must be created with protect=True"]


def test_protected_secret_needs_no_recovery_window() -> None:
    props = {"recoveryWindowInDays": 0.0}
    assert (
        check_resource(POLICIES["deletion-protection"], "aws:secretsmanager/secret:Secret", props, protect=True) == []
    )


def test_secret_with_default_recovery_window_passes() -> None:
    assert check_resource(POLICIES["deletion-protection"], "aws:secretsmanager/secret:Secret", {}) == []


def test_policy_ignores_types_it_does_not_govern() -> None:
    assert check_resource(POLICIES["log-group-retention"], "aws:s3/bucket:Bucket", {}) == []


def test_required_tags_accept_unknown_provider_default_tags() -> None:
    found = check_resource(
        POLICIES["required-tags"], "aws:kms/key:Key", {}, provider_props={"defaultTags": UNKNOWN_STRING}
    )
    assert found == []


def test_required_tags_are_configurable() -> None:
    messages = check_resource(
        POLICIES["required-tags"], "aws:kms/key:Key", {"tags": TAGS}, config={"requiredTags": ["cost-center"]}
    )
    assert messages and "cost-center" in messages[0]


def test_backup_minimum_is_configurable() -> None:
    props = {"backupRetentionPeriod": 7.0}
    assert check_resource(POLICIES["backup-retention"], "aws:rds/instance:Instance", props, config={"minDays": 14})
