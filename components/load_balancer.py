"""LoadBalancer: the public ALB, its production and test listeners, access logs, and the ECS
infrastructure role that lets ECS shift this ALB's traffic during blue/green deployments.

With a certificate (alb.certificateArn, or one issued for alb.domainName): HTTPS 443 (HTTP 80
redirects to it) and a test listener on HTTPS 8443.
Without one: HTTP 80 and a test listener on HTTP 8080. Unmatched paths get a fixed 404; services
add their own path rules. The test listener is reachable only from `alb.testListenerCidrs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.network import cidr_key

HTTPS_TEST_PORT = 8443
HTTP_TEST_PORT = 8080
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ACCESS_LOG_PREFIX = "alb"
# AWS managed policy reference: this one lives at the root path, not under service-role/ (unlike
# AmazonECSTaskExecutionRolePolicy): docs.aws.amazon.com/aws-managed-policy/latest/reference/
# AmazonECSInfrastructureRolePolicyForLoadBalancers.html
ECS_INFRASTRUCTURE_LB_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: pulumi.Input[str]
    """The VPC of the ALB. Required."""
    public_subnet_ids: pulumi.Input[list[str]]
    """The public subnets the ALB spans. Required."""
    security_group_id: pulumi.Input[str]
    """The ALB's security group (its ingress from the internet is the network's). Required."""
    certificate_arn: pulumi.Input[str] | None = None
    """The ACM certificate for HTTPS 443 (HTTP 80 then redirects). Default None: HTTP only."""
    deletion_protection: bool = True
    """ELB deletion protection. Default True."""
    access_logs: bool = True
    """Access logs to an S3 bucket of their own (SSE-S3, TLS only, no public access). Default True."""
    access_log_retention_days: int = 90
    """Days the access logs are kept. Default 90."""
    force_destroy_logs: bool = False
    """Let `pulumi destroy` delete the log bucket with its objects. Default False."""
    reserved_capacity_units: int = 0
    """Load balancer capacity units reserved ahead of a burst. Default 0: none."""
    test_listener_cidrs: tuple[str, ...] = ()
    """CIDR blocks that may reach the blue/green test listener. Default none."""
    domain_name: str | None = None
    """A Route 53 alias record for the ALB under this name (with hosted_zone_id). Default None."""
    hosted_zone_id: str | None = None
    """The hosted zone of domain_name. Default None."""


def _not_found() -> aws.lb.ListenerDefaultActionArgs:
    return aws.lb.ListenerDefaultActionArgs(
        type="fixed-response",
        fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
            content_type="application/json", message_body='{"error":"not found"}', status_code="404"
        ),
    )


class LoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    url: pulumi.Output[str]
    production_listener_arn: pulumi.Output[str]
    test_listener_arn: pulumi.Output[str]
    infrastructure_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:edge:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        https = args.certificate_arn is not None

        access_logs = None
        depends: list[pulumi.Resource] = []
        if args.access_logs:
            bucket, policy = self._log_bucket(name, args, child)
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.id, prefix=ACCESS_LOG_PREFIX, enabled=True)
            depends.append(policy)  # ELB checks it may write before it accepts the bucket

        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            minimum_load_balancer_capacity=(
                aws.lb.LoadBalancerMinimumLoadBalancerCapacityArgs(capacity_units=args.reserved_capacity_units)
                if args.reserved_capacity_units > 0
                else None
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )

        if https:
            production = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=[_not_found()],
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="redirect",
                        redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                            protocol="HTTPS", port="443", status_code="HTTP_301"
                        ),
                    )
                ],
                opts=child,
            )
        else:
            production = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[_not_found()],
                opts=child,
            )
        test_port = HTTPS_TEST_PORT if https else HTTP_TEST_PORT
        test = aws.lb.Listener(
            f"{name}-test",
            load_balancer_arn=alb.arn,
            port=test_port,
            protocol="HTTPS" if https else "HTTP",
            ssl_policy=TLS_POLICY if https else None,
            certificate_arn=args.certificate_arn,
            default_actions=[_not_found()],
            opts=child,
        )
        # Keyed by CIDR; the alias adopts the rule the index-named version created.
        for i, cidr in enumerate(args.test_listener_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-test-in-{cidr_key(cidr)}",
                security_group_id=args.security_group_id,
                ip_protocol="tcp",
                from_port=test_port,
                to_port=test_port,
                cidr_ipv4=cidr if ":" not in cidr else None,
                cidr_ipv6=cidr if ":" in cidr else None,
                description=f"blue/green test listener {test_port} from {cidr}",
                opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-test-in-{i}")]),
            )

        role = aws.iam.Role(
            f"{name}-ecs-infrastructure",
            description="ECS shifts blue/green traffic on this load balancer's listener rules",
            assume_role_policy=assume_role_policy("ecs.amazonaws.com"),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-ecs-infrastructure",
            role=role.name,
            policy_arn=ECS_INFRASTRUCTURE_LB_POLICY_ARN,
            opts=child,
        )

        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        host: pulumi.Input[str] = alb.dns_name
        if args.domain_name and args.hosted_zone_id:
            record = aws.route53.Record(
                f"{name}-alias",
                zone_id=args.hosted_zone_id,
                name=args.domain_name,
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True)
                ],
                opts=child,
            )
            host = record.fqdn
        self.url = pulumi.Output.concat("https://" if https else "http://", host)
        self.production_listener_arn = production.arn
        self.test_listener_arn = test.arn
        # Services use the role only once its policy is attached: ECS checks it when the service is created.
        self.infrastructure_role_arn = pulumi.Output.all(role.arn, attachment.id).apply(lambda v: v[0])
        self.register_outputs(
            {
                "arn": self.arn,
                "url": self.url,
                "productionListenerArn": self.production_listener_arn,
                "testListenerArn": self.test_listener_arn,
                "infrastructureRoleArn": self.infrastructure_role_arn,
            }
        )

    def _log_bucket(
        self, name: str, args: LoadBalancerArgs, child: pulumi.ResourceOptions
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        bucket = aws.s3.Bucket(f"{name}-access-logs", force_destroy=args.force_destroy_logs, opts=child)
        # ALB access logs support SSE-S3 only (not SSE-KMS).
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-access-logs",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.access_log_retention_days
                    ),
                )
            ],
            opts=child,
        )
        elb_account = aws.elb.get_service_account_output(opts=pulumi.InvokeOutputOptions(parent=self))
        policy = aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ElbWritesAccessLogs",
                            "Effect": "Allow",
                            "Principal": {"AWS": elb_account.arn},
                            "Action": "s3:PutObject",
                            "Resource": pulumi.Output.concat(bucket.arn, f"/{ACCESS_LOG_PREFIX}/AWSLogs/*"),
                        },
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        return bucket, policy
