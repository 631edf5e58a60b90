"""Network: the VPC, its endpoints and flow logs, and the platform's security groups.

Security groups carry no inline rules: every rule is its own resource, by security-group reference
wherever the peer is ours, so a rule change never replaces a group and each rule shows in a plan.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from components.iam import account_id, account_scoped_trust_policy

POSTGRES_PORT = 5432
REDIS_PORT = 6379
KAFKA_IAM_PORT = 9098
HTTPS_PORT = 443
HTTP_PORT = 80
# Interface endpoints keep image pulls, logs, secrets and IAM-auth token exchange off the NAT.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts")


@dataclass(frozen=True)
class NetworkArgs:
    region: str
    """Region of the VPC, for the endpoint service names (com.amazonaws.<region>.<service>). Required."""
    app_ports: tuple[int, ...]
    """Ports the services listen on: the ALB may reach the tasks on these only. Required."""
    cidr: str = "10.0.0.0/16"
    """VPC IPv4 CIDR block (private). Default 10.0.0.0/16."""
    az_count: int = 2
    """Availability zones the subnets spread over. Default 2."""
    nat_strategy: str = "Single"
    """awsx NAT gateway strategy: Single, OnePerAz or None. Default Single."""
    interface_endpoints: bool = False
    """Interface endpoints for ECR, CloudWatch Logs, Secrets Manager and STS. Default False."""
    flow_log_retention_days: int = 14
    """Retention of the VPC flow-log group, days. Default 14."""
    alb_ingress_cidrs: tuple[str, ...] = ()
    """CIDR blocks that may reach the load balancer on 80/443. Default none: the ALB is closed until opened."""


def cidr_key(cidr: str) -> str:
    """A CIDR block as the key in a resource name (10.0.0.0/8 -> 10.0.0.0-8): `::` would split the URN,
    and a `/` ends up in ids and ARNs derived from the name, so both become dashes."""
    return cidr.replace(":", "-").replace("/", "-")


def subnet_masks(cidr: str) -> dict[str, int]:
    """Private subnets get 1/16 of the VPC each (Fargate takes one IP per task); the rest 1/256."""
    prefix = ipaddress.IPv4Network(cidr).prefixlen
    small = min(prefix + 8, 28)
    return {"Public": small, "Private": prefix + 4, "Isolated": small}


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    isolated_subnet_ids: pulumi.Output[list[str]]
    security_group_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        masks = subnet_masks(args.cidr)

        vpc = awsx.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            number_of_availability_zones=args.az_count,
            # Auto from day one: switching from Legacy later moves every subnet.
            subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
            subnet_specs=[
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, name="public", cidr_mask=masks["Public"]),
                awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, name="private", cidr_mask=masks["Private"]),
                awsx.ec2.SubnetSpecArgs(
                    type=awsx.ec2.SubnetType.ISOLATED, name="isolated", cidr_mask=masks["Isolated"]
                ),
            ],
            nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy(args.nat_strategy)),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            # Auto wires the gateway endpoint into every route table the VPC creates.
            vpc_endpoint_strategy=awsx.ec2.VpcEndpointStrategy.AUTO,
            vpc_endpoint_specs=[
                awsx.ec2.VpcEndpointSpecArgs(
                    service_name=f"com.amazonaws.{args.region}.s3", vpc_endpoint_type="Gateway"
                )
            ],
            opts=child,
        )
        self.vpc_id = vpc.vpc_id
        self.public_subnet_ids = vpc.public_subnet_ids
        self.private_subnet_ids = vpc.private_subnet_ids
        self.isolated_subnet_ids = vpc.isolated_subnet_ids

        groups = {
            role: aws.ec2.SecurityGroup(
                f"{name}-{role}",
                vpc_id=vpc.vpc_id,
                description=description,
                tags={"Name": f"{name}-{role}"},
                opts=child,
            )
            for role, description in (
                ("alb", "Load balancer: HTTP/HTTPS from the allowed CIDR blocks"),
                ("service", "ECS tasks: app ports from the load balancer only"),
                ("database", "PostgreSQL: 5432 from the ECS tasks only"),
                ("cache", "Redis: 6379 from the ECS tasks only"),
                ("kafka", "MSK: 9098 (IAM) from the ECS tasks only"),
                ("endpoints", "VPC interface endpoints: 443 from the ECS tasks only"),
            )
        }
        self.security_group_ids = {role: sg.id for role, sg in groups.items()}

        def ingress(
            rule: str,
            group: str,
            port: int,
            *,
            source: str | None = None,
            cidr: str | None = None,
            former: str | None = None,
        ) -> None:
            ip = ipaddress.ip_network(cidr) if cidr else None
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{rule}",
                security_group_id=groups[group].id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=groups[source].id if source else None,
                cidr_ipv4=cidr if ip and ip.version == 4 else None,
                cidr_ipv6=cidr if ip and ip.version == 6 else None,
                description=f"{port} from {source or cidr}",
                opts=pulumi.ResourceOptions(
                    parent=self, aliases=[pulumi.Alias(name=f"{name}-{former}")] if former else None
                ),
            )

        def egress(rule: str, group: str, port: int, *, target: str | None = None, cidr: str | None = None) -> None:
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-{rule}",
                security_group_id=groups[group].id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                referenced_security_group_id=groups[target].id if target else None,
                cidr_ipv4=cidr,
                description=f"{port} to {target or cidr}",
                opts=child,
            )

        # Keyed by port and CIDR: removing a block leaves the others' rules alone. The alias adopts the
        # rule the index-named version created (same list, first deploy after the rename).
        for i, cidr in enumerate(args.alb_ingress_cidrs):
            for port in (HTTP_PORT, HTTPS_PORT):
                ingress(f"alb-in-{port}-{cidr_key(cidr)}", "alb", port, cidr=cidr, former=f"alb-in-{port}-{i}")
        for port in args.app_ports:
            ingress(f"service-in-{port}", "service", port, source="alb")
            egress(f"alb-out-{port}", "alb", port, target="service")
        for group, port in (
            ("database", POSTGRES_PORT),
            ("cache", REDIS_PORT),
            ("kafka", KAFKA_IAM_PORT),
            ("endpoints", HTTPS_PORT),
        ):
            ingress(f"{group}-in-{port}", group, port, source="service")
            egress(f"service-out-{group}", "service", port, target=group)
        # Tasks call AWS APIs (ECR, STS, Secrets Manager, CloudWatch) over HTTPS, via NAT when no endpoint exists.
        egress("service-out-https", "service", HTTPS_PORT, cidr="0.0.0.0/0")

        self.interface_endpoint_ids: dict[str, pulumi.Output[str]] = {}
        if args.interface_endpoints:
            for service in INTERFACE_ENDPOINT_SERVICES:
                endpoint = aws.ec2.VpcEndpoint(
                    f"{name}-{service.replace('.', '-')}",
                    vpc_id=vpc.vpc_id,
                    service_name=f"com.amazonaws.{args.region}.{service}",
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=vpc.private_subnet_ids,
                    security_group_ids=[groups["endpoints"].id],
                    opts=child,
                )
                self.interface_endpoint_ids[service] = endpoint.id

        self._flow_logs(name, vpc.vpc_id, args.flow_log_retention_days, child)

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "isolatedSubnetIds": self.isolated_subnet_ids,
                "securityGroupIds": self.security_group_ids,
            }
        )

    def _flow_logs(self, name: str, vpc_id: pulumi.Input[str], retention: int, child: pulumi.ResourceOptions) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/flashsale/{name}/vpc-flow-logs",
            retention_in_days=retention,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            # aws:SourceAccount, as the flow-logs role docs recommend against the confused deputy
            # (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html).
            assume_role_policy=account_scoped_trust_policy("vpc-flow-logs.amazonaws.com", account_id(self)),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )
