"""FargateService: one service of the platform (a web API behind the ALB, or a worker), deployed by
ECS-native blue/green.

Per service: log group, task and execution roles, task definition (migrate init container + the
service's command), per-service alarms, and the ECS service. A web service also gets its blue and
green target groups, a production listener rule on its public path patterns (`paths`: nothing else of
it is reachable from the internet) and a test listener rule on the same patterns; ECS shifts traffic
between the groups by rewriting the rules' weights (so Pulumi ignores the rules' actions).

Workers have no load balancer: they deploy BLUE_GREEN headless (ECS starts the full green fleet,
bakes, then stops blue; no managed traffic shift exists to do canary or linear steps), with the same
circuit breaker and alarm rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.cluster import CapacityArgs, capacity_strategy
from components.data_endpoints import DataEndpoints
from components.deployment import DeploymentArgs, deployment_configuration, deployment_strategy
from components.service_alarms import AlarmThresholds, ServiceAlarmArgs, service_alarms
from components.service_iam import (
    ECS_TASKS_TRUST,
    database_login_policy,
    execution_policy,
    kafka_producer_policy,
    task_role_trust,
)
from components.task_containers import (
    TMP_VOLUME,
    ContainerSpec,
    container_definitions,
    referenced_keys,
    referenced_secrets,
)

# Image commands that publish to Kafka (docs/runtime-contract.md): only these get MSK IAM permissions.
KAFKA_PRODUCER_COMMANDS = frozenset({"relay"})
# What ECS rewrites on the service after a blue/green deployment: which of the two groups is production
# (pulumi-aws 7 property paths of aws.ecs.Service; the service has one load balancer entry).
ECS_SWAPPED_PATHS = (
    "loadBalancers[0].targetGroupArn",
    "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn",
)
DEREGISTRATION_DELAY_SECONDS = 15  # requests are short; a long drain only slows every deployment


@dataclass(frozen=True)
class ServiceRoutingArgs:
    """Where a web service plugs into the load balancer."""

    vpc_id: pulumi.Input[str]
    load_balancer_suffix: pulumi.Input[str]
    production_listener_arn: pulumi.Input[str]
    test_listener_arn: pulumi.Input[str]
    infrastructure_role_arn: pulumi.Input[str]


@dataclass(frozen=True)
class FargateServiceArgs:
    service_name: str
    """The ECS service's and its container's name. Required."""
    command: tuple[str, ...]
    """The image's command (docs/runtime-contract.md): serve, relay... Required."""
    resource_prefix: str
    """<project>-<stack>-: alarm names, task family, log group. Required."""
    region: str
    """The region (log driver, IAM conditions). Required."""
    cluster_arn: pulumi.Input[str]
    """The ECS cluster. Required."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster's name (alarm dimensions). Required."""
    image_uri: pulumi.Input[str]
    """The image, by digest. Required."""
    repository_arn: pulumi.Input[str]
    """Its ECR repository: the execution role may pull from it only. Required."""
    subnet_ids: pulumi.Input[list[str]]
    """The private subnets the tasks run in. Required."""
    security_group_id: pulumi.Input[str]
    """The tasks' security group. Required."""
    data: DataEndpoints
    """Endpoints and secrets of the data tier the tasks use. Required."""
    jwt_secret_arn: pulumi.Input[str]
    """The JWT signing key's secret. Required."""
    jwt_secret_version: pulumi.Input[str]
    """Its current version: a rotation rolls the tasks. Required."""
    alarm_topic_arn: pulumi.Input[str]
    """Where the service's alarms notify. Required."""
    cpu: int = 512
    """Fargate CPU units per task. Default 512."""
    memory: int = 1024
    """Fargate memory per task, MiB. Default 1024."""
    min_tasks: int = 1
    """The desired count at creation (autoscaling owns it after). Default 1."""
    port: int = 8000
    """The container port the ALB forwards to (web). Default 8000."""
    paths: tuple[str, ...] = ()
    """Web: the ALB path patterns forwarded to the service (its public routes only). Default none."""
    listener_priority: int | None = None
    """Web: the priority of its listener rules. Default None."""
    health_check_path: str = "/health/live"
    """Web: the target groups' health check path. Default /health/live."""
    cpu_architecture: str = "ARM64"
    """The task's CPU architecture, as the image is built. Default ARM64."""
    log_retention_days: int = 90
    """Retention of the service's log group, days. Default 90."""
    deploy: DeploymentArgs = field(default_factory=DeploymentArgs)
    """The deployment strategy. Default BLUE_GREEN with a 2-minute bake."""
    capacity: CapacityArgs = field(default_factory=CapacityArgs)
    """The capacity provider strategy. Default on-demand FARGATE only."""
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    """Thresholds of the service's alarms, which roll deployments back. Default p99 500 ms, 5xx 1%."""
    routing: ServiceRoutingArgs | None = None
    """Where a web service plugs into the load balancer. Default None: a worker, with no load balancer."""
    service_hooks: pulumi.ResourceHookBinding | None = None
    """Hooks bound to the ECS service itself (the deploy freeze: components/deploy_freeze.py). Default None."""


class FargateService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]
    blue_target_group_arn: pulumi.Output[str] | None
    green_target_group_arn: pulumi.Output[str] | None
    target_group_suffixes: tuple[pulumi.Output[str], ...]

    def __init__(self, name: str, args: FargateServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:service:FargateService", name, None, opts)

        child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{args.resource_prefix}{args.service_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        spec = ContainerSpec(
            service_name=args.service_name,
            command=args.command,
            port=args.port,
            image_uri=args.image_uri,
            log_group_name=log_group.name,
            region=args.region,
            data=args.data,
            jwt_secret_arn=args.jwt_secret_arn,
            jwt_secret_version=args.jwt_secret_version,
        )

        task_role = aws.iam.Role(
            f"{name}-task",
            description=f"{args.service_name} tasks",
            assume_role_policy=task_role_trust(self),
            opts=child,
        )
        # The service's process logs in as the application role (migrate's logins come through the
        # execution role as secrets, so this role never reads the master secret).
        aws.iam.RolePolicy(
            f"{name}-task-database",
            role=task_role.id,
            policy=database_login_policy(args.data, args.region),
            opts=child,
        )
        if args.command[0] in KAFKA_PRODUCER_COMMANDS:
            aws.iam.RolePolicy(
                f"{name}-task-kafka",
                role=task_role.id,
                policy=kafka_producer_policy(args.data.kafka_cluster_arn, args.data.kafka_topic_names),
                opts=child,
            )
        execution_role = aws.iam.Role(
            f"{name}-execution",
            description=f"ECS starts {args.service_name} tasks: image, logs, this service's secrets",
            assume_role_policy=ECS_TASKS_TRUST,
            opts=child,
        )
        secrets = referenced_secrets(spec)
        execution = aws.iam.RolePolicy(
            f"{name}-execution",
            role=execution_role.id,
            policy=execution_policy(
                args.repository_arn,
                log_group.arn,
                [s.arn for s in secrets],
                referenced_keys(spec),
                args.region,
            ),
            opts=child,
        )

        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=f"{args.resource_prefix}{args.service_name}",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            cpu=str(args.cpu),
            memory=str(args.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture=args.cpu_architecture, operating_system_family="LINUX"
            ),
            task_role_arn=task_role.arn,
            execution_role_arn=execution_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=TMP_VOLUME)],  # Fargate ephemeral storage
            container_definitions=container_definitions(spec, web=args.routing is not None),
            opts=child,
        )

        load_balancers = None
        self.blue_target_group_arn = self.green_target_group_arn = None
        self.target_group_suffixes = ()
        if args.routing is not None:
            load_balancers, blue, green = self._blue_green(name, args, args.routing, child)
            self.blue_target_group_arn, self.green_target_group_arn = blue.arn, green.arn
            self.target_group_suffixes = (blue.arn_suffix, green.arn_suffix)

        alarms = service_alarms(
            name,
            ServiceAlarmArgs(
                prefix=f"{args.resource_prefix}{args.service_name}-",
                thresholds=args.alarms,
                topic_arn=args.alarm_topic_arn,
                cluster_name=args.cluster_name,
                service_name=args.service_name,
                load_balancer_suffix=args.routing.load_balancer_suffix if args.routing else None,
                target_group_suffixes=self.target_group_suffixes,
            ),
            child,
        )
        alarm_names = [a.name for a in alarms]

        strategy = deployment_strategy(args.deploy, load_balanced=load_balancers is not None)
        timeout = args.deploy.timeout_minutes(strategy)
        service = aws.ecs.Service(
            f"{name}-service",
            name=args.service_name,
            cluster=args.cluster_arn,
            task_definition=task_definition.arn,
            desired_count=args.min_tasks,
            capacity_provider_strategies=capacity_strategy(args.capacity),
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.subnet_ids, security_groups=[args.security_group_id], assign_public_ip=False
            ),
            deployment_controller=aws.ecs.ServiceDeploymentControllerArgs(type="ECS"),
            deployment_configuration=deployment_configuration(args.deploy, load_balanced=load_balancers is not None),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True),
            alarms=aws.ecs.ServiceAlarmsArgs(alarm_names=alarm_names, enable=True, rollback=True),
            load_balancers=load_balancers,
            health_check_grace_period_seconds=60 if load_balancers else None,
            enable_execute_command=False,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            # The provider refuses a capacity_provider_strategy change on an existing service without it
            # (moving prod off Spot before a sale); every other update deploys anyway with blue/green.
            force_new_deployment=True,
            # `pulumi up` reports a failed (rolled back) deployment instead of returning at once.
            wait_for_steady_state=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[execution],
                # desiredCount belongs to autoscaling. After each blue/green deployment ECS swaps which
                # target group is production: only that pair is ignored, so a replaced listener rule or
                # role still reaches the service.
                ignore_changes=["desiredCount", *(ECS_SWAPPED_PATHS if load_balancers else ())],
                # Waiting for steady state outlasts the default 20 minutes with canary or linear steps.
                custom_timeouts=pulumi.CustomTimeouts(create=f"{timeout}m", update=f"{timeout}m"),
                hooks=args.service_hooks,
            ),
        )

        self.service_name = service.name
        self.task_definition_arn = task_definition.arn
        self.task_role_arn = task_role.arn
        self.alarm_names = pulumi.Output.all(*alarm_names)
        self.register_outputs(
            {
                "serviceName": self.service_name,
                "taskDefinitionArn": self.task_definition_arn,
                "alarmNames": self.alarm_names,
            }
        )

    def _blue_green(
        self, name: str, args: FargateServiceArgs, routing: ServiceRoutingArgs, child: pulumi.ResourceOptions
    ) -> tuple[list[aws.ecs.ServiceLoadBalancerArgs], aws.lb.TargetGroup, aws.lb.TargetGroup]:
        blue, green = (
            aws.lb.TargetGroup(
                f"{name}-{color}",
                vpc_id=routing.vpc_id,
                target_type="ip",
                port=args.port,
                protocol="HTTP",
                deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
                health_check=aws.lb.TargetGroupHealthCheckArgs(
                    path=args.health_check_path,
                    protocol="HTTP",
                    matcher="200",
                    interval=10,
                    timeout=5,
                    healthy_threshold=2,
                    unhealthy_threshold=3,
                ),
                opts=child,
            )
            for color in ("blue", "green")
        )

        def rule(suffix: str, listener: pulumi.Input[str], weights: tuple[int, int]) -> aws.lb.ListenerRule:
            return aws.lb.ListenerRule(
                f"{name}-{suffix}",
                listener_arn=listener,
                priority=args.listener_priority,
                conditions=[
                    aws.lb.ListenerRuleConditionArgs(
                        path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=list(args.paths))
                    )
                ],
                actions=[
                    aws.lb.ListenerRuleActionArgs(
                        type="forward",
                        forward=aws.lb.ListenerRuleActionForwardArgs(
                            target_groups=[
                                aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=blue.arn, weight=weights[0]),
                                aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=green.arn, weight=weights[1]),
                            ]
                        ),
                    )
                ],
                # ECS rewrites the weights on every deployment.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["actions"]),
            )

        production = rule("production-rule", routing.production_listener_arn, (100, 0))
        test = rule("test-rule", routing.test_listener_arn, (0, 100))
        load_balancers = [
            aws.ecs.ServiceLoadBalancerArgs(
                target_group_arn=blue.arn,
                container_name=args.service_name,
                container_port=args.port,
                advanced_configuration=aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs(
                    alternate_target_group_arn=green.arn,
                    production_listener_rule=production.arn,
                    test_listener_rule=test.arn,
                    role_arn=routing.infrastructure_role_arn,
                ),
            )
        ]
        return load_balancers, blue, green
