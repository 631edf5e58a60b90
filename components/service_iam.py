"""IAM documents of one Fargate service: who may assume its roles, what the task may do (MSK IAM for
Kafka producers only; log in to PostgreSQL as the application role), and what ECS may do to start it
(pull this image, write this log group, read the secrets its containers reference). Built from Inputs, so no statement
ever needs `*` as a resource except ecr:GetAuthorizationToken, which AWS defines only on `*`."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.data_endpoints import DataEndpoints
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


def proxy_db_user(proxy_arn: str, username: str) -> str:
    """arn:<partition>:rds:<region>:<account>:db-proxy:prx-... -> the `rds-db:connect` resource of `username`
    at that proxy: arn:<partition>:rds-db:<region>:<account>:dbuser:prx-.../<username>. Through a proxy the
    resource id is the proxy's, not the database's (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
    rds-proxy-connecting.html, "Connecting to a database using IAM authentication"; the db-user resource type:
    docs.aws.amazon.com/service-authorization/latest/reference/list_rds-db.html)."""
    parts = proxy_arn.split(":")
    if len(parts) != 7 or parts[2] != "rds" or parts[5] != "db-proxy" or not parts[6].startswith("prx-"):
        raise ValueError(
            f"{proxy_arn!r} is not an RDS Proxy ARN (arn:<partition>:rds:<region>:<account>:db-proxy:prx-...)"
        )
    partition, region, account, resource_id = parts[1], parts[3], parts[4], parts[6]
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{username}"


def database_login_policy(data: DataEndpoints, region: str) -> pulumi.Output[str]:
    """What the service's own process needs to log in as the application role, and nothing of the master's:
    with a proxy, `rds-db:connect` as that role at that proxy only (IAM authentication); without one, the
    app secret, which the app reads per connection (DB_LOGIN_ARN)."""
    if data.database_proxy_arn is not None:
        statements = [
            {
                "Sid": "ConnectAsAppRole",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": pulumi.Output.from_input(data.database_proxy_arn).apply(
                    lambda arn: proxy_db_user(arn, data.database_app_username)
                ),
            }
        ]
    else:
        key = data.database_secret_kms_key_arn
        statements = [
            {
                "Sid": "ReadAppLogin",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": data.database_app_secret_arn,
            },
            *([_decrypt_via_secrets_manager([key], region)] if key is not None else []),
        ]
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


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
