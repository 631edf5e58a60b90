"""ServiceAutoscaling: the desired count of one ECS service between its min and max tasks.

Target tracking on CPU, memory and (web services) ALB requests per task. Sale windows raise the
floor `leadMinutes` before a known sale starts, so the tasks are warm when the burst arrives instead
of minutes later, and restore it when the sale ends; target tracking still scales out above it.

Requests per task: ALBRequestCountPerTarget is bound to one target group, but blue and green swap
roles on every deployment, so a policy on one group would track the idle fleet after half of the
deployments. The policy uses metric math instead: the requests of both groups divided by the
service's running tasks (Container Insights).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pulumi
import pulumi_aws as aws

SCALABLE_DIMENSION = "ecs:service:DesiredCount"
_aas = aws.appautoscaling
_TT = _aas.PolicyTargetTrackingScalingPolicyConfigurationArgs
_PREDEFINED = _aas.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs
_CUSTOM = _aas.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs
_QUERY = _aas.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs
_STAT = _aas.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs
_METRIC = _aas.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs
_DIM = (
    _aas.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs
)


@dataclass(frozen=True)
class RequestMetricArgs:
    load_balancer_suffix: pulumi.Input[str]
    target_group_suffixes: tuple[pulumi.Input[str], ...]  # blue and green


@dataclass(frozen=True)
class SaleWindowArgs:
    """A sale that raises the service's floor from `lead_minutes` before `start` until `end`."""

    name: str
    """Names the window's scheduled actions. Required."""
    start: datetime
    """When the sale starts, local wall-clock time in `timezone` (naive). Required."""
    end: datetime
    """When it ends, local wall-clock time in `timezone` (naive). Required."""
    timezone: str
    """IANA time zone of start and end. Required."""
    min_tasks: int
    """The raised floor. Required."""
    lead_minutes: int = 15
    """How long before the start the floor goes up. Default 15."""

    @property
    def scale_up_at(self) -> datetime:
        return self.start - timedelta(minutes=self.lead_minutes)

    def floor_is_up(self, now: datetime) -> bool:
        """The lead time has started and the sale has not ended: the raised floor applies now."""
        zone = ZoneInfo(self.timezone)
        return self.scale_up_at.replace(tzinfo=zone) <= now < self.end.replace(tzinfo=zone)


@dataclass(frozen=True)
class ServiceAutoscalingArgs:
    service: str
    """The service's name as configured (names its scheduled actions). Required."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster. Required."""
    service_name: pulumi.Input[str]
    """The ECS service (its output name). Required."""
    min_tasks: int
    """The floor outside sale windows. Required."""
    max_tasks: int
    """The ceiling. Required."""
    deployed_at: datetime
    """When the program runs (timezone-aware): a window whose lead time has started raises the floor now.
    Required."""
    sale_windows: tuple[SaleWindowArgs, ...] = ()
    """The windows still to come that raise this service's floor. Default none."""
    cpu_target_percent: int = 70
    """Target tracking on average CPU, percent. Default 70."""
    memory_target_percent: int = 80
    """Target tracking on average memory, percent. Default 80."""
    requests_per_target: int | None = None
    """Target tracking on ALB requests per task per minute (with `requests`); None: no such policy (CPU and
    memory only). Default None."""
    scale_out_cooldown_seconds: int = 60
    """Scale-out cooldown. Default 60."""
    scale_in_cooldown_seconds: int = 300
    """Scale-in cooldown. Default 300."""
    requests: RequestMetricArgs | None = None
    """Web services: the ALB and target groups whose requests per task are tracked. Default None."""


def at(moment: datetime) -> str:
    """A one-time schedule in the window's own time zone (the action's `timezone`)."""
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


class ServiceAutoscaling(pulumi.ComponentResource):
    resource_id: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceAutoscalingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:autoscaling:ServiceAutoscaling", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        windows = list(args.sale_windows)
        # Deployed during a window's lead time or the sale itself: its one-time floor-up is already past.
        raised_now = [w for w in windows if w.floor_is_up(args.deployed_at)]

        target = aws.appautoscaling.Target(
            f"{name}-target",
            service_namespace="ecs",
            scalable_dimension=SCALABLE_DIMENSION,
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", args.service_name),
            min_capacity=max([args.min_tasks, *(w.min_tasks for w in raised_now)]),
            max_capacity=args.max_tasks,
            opts=child,
        )

        def policy(kind: str, target_value: float, **metric: object) -> None:
            aws.appautoscaling.Policy(
                f"{name}-{kind}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=_TT(
                    target_value=target_value,
                    scale_out_cooldown=args.scale_out_cooldown_seconds,
                    scale_in_cooldown=args.scale_in_cooldown_seconds,
                    **metric,
                ),
                opts=child,
            )

        policy(
            "cpu",
            args.cpu_target_percent,
            predefined_metric_specification=_PREDEFINED(predefined_metric_type="ECSServiceAverageCPUUtilization"),
        )
        policy(
            "memory",
            args.memory_target_percent,
            predefined_metric_specification=_PREDEFINED(predefined_metric_type="ECSServiceAverageMemoryUtilization"),
        )
        if args.requests is not None and args.requests_per_target is not None:
            policy(
                "requests",
                args.requests_per_target,
                customized_metric_specification=_CUSTOM(metrics=self._requests_per_task(args, args.requests)),
            )

        for window in windows:
            steps = [("floor-restore", window.end, args.min_tasks)]
            if window not in raised_now:
                steps.insert(0, ("floor-up", window.scale_up_at, window.min_tasks))
            for step, moment, floor in steps:
                aws.appautoscaling.ScheduledAction(
                    f"{name}-{window.name}-{step}",
                    name=f"{args.service}-{window.name}-{step}",
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    schedule=at(moment),
                    timezone=window.timezone,
                    scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(
                        min_capacity=floor, max_capacity=args.max_tasks
                    ),
                    opts=child,
                )

        self.resource_id = target.resource_id
        self.register_outputs({"resourceId": self.resource_id})

    @staticmethod
    def _requests_per_task(args: ServiceAutoscalingArgs, requests: RequestMetricArgs) -> list:
        def stat(qid: str, namespace: str, metric: str, stat_: str, dims: dict[str, pulumi.Input[str]]) -> _QUERY:
            return _QUERY(
                id=qid,
                return_data=False,
                metric_stat=_STAT(
                    stat=stat_,
                    metric=_METRIC(
                        namespace=namespace,
                        metric_name=metric,
                        dimensions=[_DIM(name=k, value=v) for k, v in dims.items()],
                    ),
                ),
            )

        groups = [
            stat(
                f"r{i}",
                "AWS/ApplicationELB",
                "RequestCount",
                "Sum",
                {"LoadBalancer": requests.load_balancer_suffix, "TargetGroup": tg},
            )
            for i, tg in enumerate(requests.target_group_suffixes)
        ]
        tasks = stat(
            "tasks",
            "ECS/ContainerInsights",
            "RunningTaskCount",
            "Average",
            {"ClusterName": args.cluster_name, "ServiceName": args.service_name},
        )
        total = " + ".join(f"FILL(r{i}, 0)" for i in range(len(groups)))
        return [
            *groups,
            tasks,
            _QUERY(id="per_task", expression=f"({total}) / tasks", label="requests per task", return_data=True),
        ]
