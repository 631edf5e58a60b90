"""Confused-deputy protection: every role an AWS service assumes carries aws:SourceAccount = this
account in its trust policy, unless the service does not document sending it (a condition on a key
the service never sends would deny every AssumeRole, and the deploy would break)."""

from __future__ import annotations

import json

from tooling import mock_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource

# (service principal, role) pairs whose AWS documentation gives a trust policy without conditions and
# does not say the service sends aws:SourceAccount when it assumes the role.
WITHOUT_SOURCE_ACCOUNT = {
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
    "ecs.amazonaws.com": "the ECS infrastructure role for load balancers",
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-iam-setup.html
    "rds.amazonaws.com": "the RDS Proxy role",
}
# The ECS task *execution* role (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html)
# is documented without a condition; only the task role's page recommends aws:SourceAccount / aws:SourceArn.


def _trusted_services(role: RecordedResource) -> list[tuple[str, dict]]:
    found = []
    for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
        services = statement.get("Principal", {}).get("Service") or []
        found += [(s, statement) for s in ([services] if isinstance(services, str) else services)]
    return found


def _execution_role_arns(run: ProgramRun) -> set[str]:
    return {str(td.inputs["executionRoleArn"]) for td in run.of_type("aws:ecs/taskDefinition:TaskDefinition")}


def _arn(role: RecordedResource) -> str:
    return mock_outputs.resource_outputs(role.type, role.name, role.inputs)[1]["arn"]


def test_roles_assumed_by_services_are_scoped_to_this_account(run: ProgramRun) -> None:
    execution_roles = _execution_role_arns(run)
    assert execution_roles
    checked, missing = 0, []
    for role in run.of_type("aws:iam/role:Role"):
        for service, statement in _trusted_services(role):
            exempt = service in WITHOUT_SOURCE_ACCOUNT or (
                service == "ecs-tasks.amazonaws.com" and _arn(role) in execution_roles
            )
            condition = statement.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
            if exempt:
                assert condition is None, f"{role.name}: {service} is not documented to send aws:SourceAccount"
                continue
            checked += 1
            if condition != mock_outputs.ACCOUNT:
                missing.append(f"{role.name} ({service}): aws:SourceAccount = {condition!r}")
    assert not missing, "\n".join(missing)
    assert checked >= 3  # the flow-logs role and at least two task roles


def test_task_roles_and_the_flow_logs_role_name_this_account(run: ProgramRun) -> None:
    task_role_arns = {str(td.inputs["taskRoleArn"]) for td in run.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    task_roles = [r for r in run.of_type("aws:iam/role:Role") if _arn(r) in task_role_arns]
    flow_logs = [r for r in run.of_type("aws:iam/role:Role") if r.name.endswith("-flow-logs")]
    assert task_roles and len(flow_logs) == 1
    for role in [*task_roles, *flow_logs]:
        ((_, statement),) = _trusted_services(role)
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": mock_outputs.ACCOUNT}}
