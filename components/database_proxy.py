"""The RDS Proxy in front of a Database: it caps the connections that Fargate scale-out multiplies,
holds the application role's secret and admits clients only with IAM authentication.

Clients reach it on 5432 and it reaches the database on 5432. The database group admits the client
(service) group only, so the proxy carries that group for its way to the database, and a group of its own
that admits the clients. Clients log in as the application role with an IAM token; the proxy checks it and
logs in to PostgreSQL with the role's password from the app secret, so the role needs no rds_iam grant
(docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connecting.html, "Connecting to a database using
IAM authentication"). migrate goes to the database directly, as the master user.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy

POSTGRES_PORT = 5432


@dataclass(frozen=True)
class ProxyPlacement:
    """Where the proxy goes and whom it serves (a Database's own arguments, passed on)."""

    name: str
    identifier: str
    app_username: str
    app_secret_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    client_security_group_id: pulumi.Input[str]
    target: dict  # db_instance_identifier or db_cluster_identifier
    members: Sequence[pulumi.Resource]  # what must exist before the target is registered
    with_readers: bool  # Aurora readers: a READ_ONLY endpoint too


@dataclass(frozen=True)
class ProxyEndpoints:
    arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    read_endpoint: pulumi.Output[str] | None


def database_proxy(parent: pulumi.Resource, at: ProxyPlacement) -> ProxyEndpoints:
    """The proxy and its security group, role, target group and target, as children of `parent`."""
    name = at.name
    child = pulumi.ResourceOptions(parent=parent)
    group = aws.ec2.SecurityGroup(
        f"{name}-proxy",
        vpc_id=at.vpc_id,
        description="RDS Proxy: 5432 from the ECS tasks only",
        tags={"Name": f"{name}-proxy"},
        opts=child,
    )
    # Rules by group reference, as in Network, which stays untouched.
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-proxy-in",
        security_group_id=group.id,
        referenced_security_group_id=at.client_security_group_id,
        ip_protocol="tcp",
        from_port=POSTGRES_PORT,
        to_port=POSTGRES_PORT,
        description=f"{POSTGRES_PORT} from the ECS tasks",
        opts=child,
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-client-out-proxy",
        security_group_id=at.client_security_group_id,
        referenced_security_group_id=group.id,
        ip_protocol="tcp",
        from_port=POSTGRES_PORT,
        to_port=POSTGRES_PORT,
        description=f"{POSTGRES_PORT} to the RDS Proxy",
        opts=child,
    )

    role = aws.iam.Role(
        f"{name}-proxy",
        assume_role_policy=assume_role_policy("rds.amazonaws.com"),
        opts=child,
    )
    # The proxy reads the application role's secret and nothing else (never the master's).
    aws.iam.RolePolicy(
        f"{name}-proxy",
        role=role.id,
        policy=pulumi.Output.all(at.app_secret_arn, at.key_arn).apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                            "Resource": a[0],
                        },
                        {
                            "Effect": "Allow",
                            "Action": "kms:Decrypt",
                            "Resource": a[1],
                            "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
                        },
                    ],
                }
            )
        ),
        opts=child,
    )
    proxy = aws.rds.Proxy(
        f"{name}-proxy",
        engine_family="POSTGRESQL",
        require_tls=True,
        role_arn=role.arn,
        vpc_subnet_ids=at.subnet_ids,
        vpc_security_group_ids=[group.id, at.client_security_group_id],
        idle_client_timeout=1800,
        auths=[
            # The application role only, and only with an IAM token (rds-db:connect on
            # dbuser:<prx- id>/<app user>): no password of it is any use at the proxy.
            aws.rds.ProxyAuthArgs(
                auth_scheme="SECRETS",
                secret_arn=at.app_secret_arn,
                iam_auth="REQUIRED",
                client_password_auth_type="POSTGRES_SCRAM_SHA_256",
                description=f"{at.app_username}: IAM authentication only",
            )
        ],
        opts=child,
    )
    target_group = aws.rds.ProxyDefaultTargetGroup(
        f"{name}-proxy",
        db_proxy_name=proxy.name,
        connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
            # Leave headroom for migrations and operators connecting directly.
            max_connections_percent=90,
            max_idle_connections_percent=50,
            connection_borrow_timeout=30,
        ),
        opts=child,
    )
    registered = aws.rds.ProxyTarget(
        f"{name}-proxy",
        db_proxy_name=proxy.name,
        target_group_name=target_group.name,
        **at.target,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(at.members)),
    )
    read_endpoint = None
    if at.with_readers:
        # The service's reads (DB_READ_HOST) log in with IAM too, so they must go through the proxy: a
        # READ_ONLY endpoint balances over the Aurora readers, like the cluster's reader endpoint. RDS
        # Proxy offers read-only endpoints for Aurora clusters only, and requires readers for them
        # (docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-endpoints.html; connecting
        # through one works as through the default endpoint: AuroraUserGuide/rds-proxy-connecting.html).
        read_only = aws.rds.ProxyEndpoint(
            f"{name}-proxy-read-only",
            db_proxy_name=proxy.name,
            db_proxy_endpoint_name=f"{at.identifier}-read-only",
            vpc_subnet_ids=at.subnet_ids,
            vpc_security_group_ids=[group.id, at.client_security_group_id],
            target_role="READ_ONLY",
            # It needs the cluster, with its readers, registered as the proxy's target.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[registered]),
        )
        read_endpoint = read_only.endpoint
    return ProxyEndpoints(proxy.arn, proxy.endpoint, read_endpoint)
