"""The alarms of one service, which also gate its deployments: ECS rolls a blue/green deployment back
when any of them fires during the shift or the bake time.

Web services watch both target groups (blue and green swap roles on every deployment, so an alarm on
one of them would watch the idle fleet half the time): 5xx share, p99 latency, unhealthy targets.
Every service watches its CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.metric_math import PERIOD, expression_query, metric_query, notify

CPU_HIGH_PERCENT = 90


@dataclass(frozen=True)
class AlarmThresholds:
    p99_latency_ms: int = 500
    """Target p99 latency that alarms (and rolls a deployment back), ms. Default 500."""
    http_5xx_percent: float = 1
    """Share of target 5xx responses that alarms, percent. Default 1."""


@dataclass(frozen=True)
class ServiceAlarmArgs:
    prefix: str  # <project>-<stack>-<service>-
    thresholds: AlarmThresholds
    topic_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    service_name: str
    load_balancer_suffix: pulumi.Input[str] | None = None
    target_group_suffixes: tuple[pulumi.Input[str], ...] = ()


def service_alarms(name: str, args: ServiceAlarmArgs, opts: pulumi.ResourceOptions) -> list[aws.cloudwatch.MetricAlarm]:
    common = notify(args.topic_arn, opts)
    alarms = [
        aws.cloudwatch.MetricAlarm(
            f"{name}-cpu-high",
            name=f"{args.prefix}cpu-high",
            alarm_description=f"{args.service_name}: average CPU above {CPU_HIGH_PERCENT}% for 3 minutes",
            namespace="AWS/ECS",
            metric_name="CPUUtilization",
            dimensions={"ClusterName": args.cluster_name, "ServiceName": args.service_name},
            statistic="Average",
            period=PERIOD,
            evaluation_periods=3,
            threshold=CPU_HIGH_PERCENT,
            comparison_operator="GreaterThanThreshold",
            **common,
        )
    ]
    if args.load_balancer_suffix is None:
        return alarms

    groups = [{"LoadBalancer": args.load_balancer_suffix, "TargetGroup": tg} for tg in args.target_group_suffixes]
    errors = [
        metric_query(f"x{i}", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", d) for i, d in enumerate(groups)
    ]
    requests = [metric_query(f"r{i}", "AWS/ApplicationELB", "RequestCount", "Sum", d) for i, d in enumerate(groups)]
    total_errors = " + ".join(f"FILL(x{i}, 0)" for i in range(len(groups)))
    total_requests = " + ".join(f"FILL(r{i}, 0)" for i in range(len(groups)))
    alarms.append(
        aws.cloudwatch.MetricAlarm(
            f"{name}-5xx-rate",
            name=f"{args.prefix}5xx-rate",
            alarm_description=f"{args.service_name}: target 5xx above {args.thresholds.http_5xx_percent}% of requests",
            metric_queries=[
                *errors,
                *requests,
                expression_query(
                    "result",
                    f"IF(({total_requests}) > 0, 100 * ({total_errors}) / ({total_requests}), 0)",
                    "5xx percent",
                ),
            ],
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=args.thresholds.http_5xx_percent,
            comparison_operator="GreaterThanThreshold",
            **common,
        )
    )
    latencies = [
        metric_query(f"l{i}", "AWS/ApplicationELB", "TargetResponseTime", "p99", d) for i, d in enumerate(groups)
    ]
    alarms.append(
        aws.cloudwatch.MetricAlarm(
            f"{name}-p99-latency",
            name=f"{args.prefix}p99-latency",
            alarm_description=f"{args.service_name}: target p99 latency above {args.thresholds.p99_latency_ms} ms",
            metric_queries=[*latencies, expression_query("result", "MAX(METRICS())", "p99 seconds")],
            evaluation_periods=3,
            datapoints_to_alarm=2,
            threshold=args.thresholds.p99_latency_ms / 1000,
            comparison_operator="GreaterThanThreshold",
            **common,
        )
    )
    for color, dims in zip(("blue", "green"), groups, strict=True):
        alarms.append(
            aws.cloudwatch.MetricAlarm(
                f"{name}-unhealthy-{color}",
                name=f"{args.prefix}unhealthy-{color}",
                alarm_description=f"{args.service_name}: unhealthy targets in the {color} target group",
                namespace="AWS/ApplicationELB",
                metric_name="UnHealthyHostCount",
                dimensions=dims,
                statistic="Maximum",
                period=PERIOD,
                evaluation_periods=2,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                **common,
            )
        )
    return alarms
