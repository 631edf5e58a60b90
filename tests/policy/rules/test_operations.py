"""policy/rules/operations.py: log retention, ECR, deployments that roll back, autoscaling and the
required tags (own or the provider's defaultTags, configurable)."""

from __future__ import annotations

import json

from policy_harness import (
    POLICIES,
    UNKNOWN_BOOL,
    UNKNOWN_NUMBER,
    UNKNOWN_OBJECT,
    UNKNOWN_STRING,
    Case,
    Res,
    case_tests,
    check_resource,
    check_stack,
    domain_policies,
)

TAGS = {"project": "flashsale", "environment": "prod", "managed-by": "pulumi"}
ROLLBACK = {"enable": True, "rollback": True}

CASES = [
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
]


# Every case: its passing resource passes, its failing one is reported, unknown values are no violation.
test_passing_resource_has_no_violation, test_failing_resource_is_reported, test_unknown_props_are_not_a_violation = (
    case_tests(CASES)
)


def test_every_operations_policy_is_tested() -> None:
    resource, stack = domain_policies("operations")
    assert {c.policy for c in CASES} == resource
    assert stack == {"ecs-service-autoscaled"}


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


def test_required_tags_from_provider_default_tags_alone() -> None:
    policy = POLICIES["required-tags"]
    tags = {"project": "flashsale", "environment": "dev", "managed-by": "pulumi"}
    provider = {"defaultTags": json.dumps({"tags": tags})}
    assert check_resource(policy, "aws:ecs/service:Service", {}, provider_props=provider) == []
    assert check_resource(policy, "aws:ecs/service:Service", {}, provider_props={}) != []


SERVICE = "aws:ecs/service:Service"
TARGET = "aws:appautoscaling/target:Target"


def test_service_with_scaling_target_passes() -> None:
    stack = [Res(SERVICE, "api", {"name": "api"}), Res(TARGET, "api-scaling", {"resourceId": UNKNOWN_STRING}, ("api",))]
    assert check_stack(POLICIES["ecs-service-autoscaled"], stack) == []


def test_service_matched_by_resource_id() -> None:
    stack = [Res(SERVICE, "api", {"name": "api"}), Res(TARGET, "t", {"resourceId": "service/flashsale/api"})]
    assert check_stack(POLICIES["ecs-service-autoscaled"], stack) == []


def test_service_without_scaling_target_fails() -> None:
    stack = [
        Res(SERVICE, "api", {"name": UNKNOWN_STRING}),
        Res(SERVICE, "relay", {"name": "relay"}),
        Res(TARGET, "api-scaling", {"resourceId": UNKNOWN_STRING}, ("api",)),
    ]
    found = check_stack(POLICIES["ecs-service-autoscaled"], stack)
    assert [urn for urn, _ in found] == [stack[1].urn]
