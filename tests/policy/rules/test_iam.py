"""policy/rules/iam.py: no statement allows everything, no administrator policy, attached or inline."""

from __future__ import annotations

import json
from typing import Any

from policy_harness import UNKNOWN_ARRAY, UNKNOWN_STRING, Case, case_tests, domain_policies


def _policy_doc(action: Any, resource: Any = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


CASES = [
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


# Every case: its passing resource passes, its failing one is reported, unknown values are no violation.
test_passing_resource_has_no_violation, test_failing_resource_is_reported, test_unknown_props_are_not_a_violation = (
    case_tests(CASES)
)


def test_every_iam_policy_is_tested() -> None:
    resource, stack = domain_policies("iam")
    assert {c.policy for c in CASES} == resource
    assert stack == set()
