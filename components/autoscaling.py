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
from datetime import datetime

import pulumi
import pulumi_aws as aws

from components.config import AutoscalingConfig, SaleWindow, ServiceConfig

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
class ServiceAutoscalingArgs:
    service: ServiceConfig
    config: AutoscalingConfig
    sale_windows: tuple[SaleWindow, ...]  # the stack's windows still to come; those naming this service apply
    deployed_at: datetime  # when the program runs: a window whose lead time has started raises the floor now
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    requests: RequestMetricArgs | None = None  # web services only


def at(moment: datetime) -> str:
    """A one-time schedule in the window's own time zone (the action's `timezone`)."""
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


class ServiceAutoscaling(pulumi.ComponentResource):
    resource_id: pulumi.Output[str]

    def __init__(self, name: str, args: ServiceAutoscalingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:autoscaling:ServiceAutoscaling", name, None, opts)
        svc, cfg = args.service, args.config
        child = pulumi.ResourceOptions(parent=self)
        windows = [w for w in args.sale_windows if svc.name in w.services]
        # Deployed during a window's lead time or the sale itself: its one-time floor-up is already past.
        raised_now = [w for w in windows if w.floor_is_up(args.deployed_at)]

        target = aws.appautoscaling.Target(
            f"{name}-target",
            service_namespace="ecs",
            scalable_dimension=SCALABLE_DIMENSION,
            resource_id=pulumi.Output.concat("service/", args.cluster_name, "/", args.service_name),
            min_capacity=max([svc.min_tasks, *(w.min_tasks for w in raised_now)]),
            max_capacity=svc.max_tasks,
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
                    scale_out_cooldown=cfg.scale_out_cooldown_seconds,
                    scale_in_cooldown=cfg.scale_in_cooldown_seconds,
                    **metric,
                ),
                opts=child,
            )

        policy(
            "cpu",
            cfg.cpu_target_percent,
            predefined_metric_specification=_PREDEFINED(predefined_metric_type="ECSServiceAverageCPUUtilization"),
        )
        policy(
            "memory",
            cfg.memory_target_percent,
            predefined_metric_specification=_PREDEFINED(predefined_metric_type="ECSServiceAverageMemoryUtilization"),
        )
        if args.requests is not None:
            policy(
                "requests",
                cfg.requests_per_target,
                customized_metric_specification=_CUSTOM(metrics=self._requests_per_task(args, args.requests)),
            )

        for window in windows:
            steps = [("floor-restore", window.end, svc.min_tasks)]
            if window not in raised_now:
                steps.insert(0, ("floor-up", window.scale_up_at, window.min_tasks))
            for step, moment, floor in steps:
                aws.appautoscaling.ScheduledAction(
                    f"{name}-{window.name}-{step}",
                    name=f"{svc.name}-{window.name}-{step}",
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    schedule=at(moment),
                    timezone=window.timezone,
                    scalable_target_action=aws.appautoscaling.ScheduledActionScalableTargetActionArgs(
                        min_capacity=floor, max_capacity=svc.max_tasks
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
