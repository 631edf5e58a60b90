"""IAM documents of one Fargate service: who may assume its roles, what the task may do (MSK IAM for
Kafka producers only; the rotating database secret), and what ECS may do to start it (pull this image,
write this log group, read the secrets its containers reference). Built from Inputs, so no statement
ever needs `*` as a resource except ecr:GetAuthorizationToken, which AWS defines only on `*`."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.iam import account_id, account_scoped_trust_policy, assume_role_policy

# The task execution role: ECS's documented trust policy has no condition (task_execution_IAM_role.html),
# and ECS does not document sending aws:SourceAccount when the agent assumes it.
ECS_TASKS_TRUST = assume_role_policy("ecs-tasks.amazonaws.com")


def task_role_trust(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The task role: ECS recommends aws:SourceAccount (or aws:SourceArn) in its trust policy against
    the confused deputy (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html)."""
    return account_scoped_trust_policy("ecs-tasks.amazonaws.com", account_id(parent))


def topic_arn(cluster_arn: pulumi.Input[str], topic: str) -> pulumi.Output[str]:
    """arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> -> ...:topic/<name>/<uuid>/<topic>."""
    return pulumi.Output.from_input(cluster_arn).apply(lambda arn: f"{arn.replace(':cluster/', ':topic/', 1)}/{topic}")


def kafka_producer_policy(cluster_arn: pulumi.Input[str], topics: Sequence[str]) -> pulumi.Output[str]:
    """MSK IAM for an idempotent producer of exactly these topics; no consumer group, no admin."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Connect",
                    "Effect": "Allow",
                    "Action": [
                        "kafka-cluster:Connect",
                        "kafka-cluster:DescribeCluster",
                        "kafka-cluster:WriteDataIdempotently",
                    ],
                    "Resource": cluster_arn,
                },
                {
                    "Sid": "Produce",
                    "Effect": "Allow",
                    "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
                    "Resource": [topic_arn(cluster_arn, t) for t in topics],
                },
            ],
        }
    )


def _decrypt_via_secrets_manager(key_arns: Sequence[pulumi.Input[str]], region: str) -> dict:
    """kms:Decrypt on these keys, only for Secrets Manager decrypting a secret on the caller's behalf."""
    return {
        "Sid": "DecryptSecrets",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": list(key_arns),
        "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
    }


def database_secret_policy(
    secret_arn: pulumi.Input[str], kms_key_arn: pulumi.Input[str] | None, region: str
) -> pulumi.Output[str]:
    """The task reads the RDS-managed database secret itself, per connection, because RDS rotates it."""
    read = {"Sid": "ReadDatabaseSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue"}
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                read | {"Resource": secret_arn},
                *([_decrypt_via_secrets_manager([kms_key_arn], region)] if kms_key_arn is not None else []),
            ],
        }
    )


def execution_policy(
    repository_arn: pulumi.Input[str],
    log_group_arn: pulumi.Input[str],
    secret_arns: Sequence[pulumi.Input[str]],
    secret_kms_key_arns: Sequence[pulumi.Input[str]],
    region: str,
) -> pulumi.Output[str]:
    """AmazonECSTaskExecutionRolePolicy, scoped to this service's repository, log group and secrets
    (and the customer keys of those secrets, only through Secrets Manager). A service whose containers
    reference no secret gets no secret statement at all (IAM rejects an empty Resource list)."""
    read = {"Sid": "ReadSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue"}
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                {
                    "Sid": "PullImage",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": repository_arn,
                },
                {
                    "Sid": "WriteLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
                },
                *([read | {"Resource": list(secret_arns)}] if secret_arns else []),
                *([_decrypt_via_secrets_manager(secret_kms_key_arns, region)] if secret_kms_key_arns else []),
            ],
        }
    )
