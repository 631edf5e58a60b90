"""IAM documents more than one component needs."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal (e.g. ecs-tasks.amazonaws.com) assume a role.

    For services that do not document sending aws:SourceAccount when they assume a role (a condition
    on a key the service never sends denies every AssumeRole). Where they do, use
    `account_scoped_trust_policy`."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
        }
    )


def account_scoped_trust_policy(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Trust policy for a service that assumes the role only on this account's behalf: aws:SourceAccount
    is confused-deputy protection (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html),
    so another account cannot get the service to act with this role."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"Service": service},
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


def account_id(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The deploying account's id, through the parent's provider."""
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
