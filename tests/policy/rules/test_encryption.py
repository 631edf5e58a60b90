"""policy/rules/encryption.py: every encryption rule passes a good resource, reports a bad one and
stays quiet on props a preview leaves unknown."""

from __future__ import annotations

import json

from policy_harness import (
    MSK_GOOD,
    UNKNOWN_ARRAY,
    UNKNOWN_BOOL,
    UNKNOWN_OBJECT,
    UNKNOWN_STRING,
    Case,
    case_tests,
    domain_policies,
)


def _containers(env: list[dict[str, str]]) -> str:
    return json.dumps([{"name": "api", "image": "x", "environment": env, "secrets": []}])


CASES = [
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
]


# Every case: its passing resource passes, its failing one is reported, unknown values are no violation.
test_passing_resource_has_no_violation, test_failing_resource_is_reported, test_unknown_props_are_not_a_violation = (
    case_tests(CASES)
)


def test_every_encryption_policy_is_tested() -> None:
    resource, stack = domain_policies("encryption")
    assert {c.policy for c in CASES} == resource
    assert stack == set()
