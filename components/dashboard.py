"""Dashboard: one CloudWatch dashboard per stack, laid out for sale day.

Rows, top to bottom: the sale funnel (attempts per second by outcome, 201s, sold-out and limit refusals,
503s), remaining stock per sale and the reservation latency; the ALB; the ECS services; PostgreSQL;
Redis; MSK and the outbox relay. The service's own metrics (namespace FlashSale) are named from
reservation.shared.cloudwatch_metrics, the definition the emitters use. AWS metrics and their dimensions are
the ones the alarms use, each with its source there; sources for the others are beside them below.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from reservation.shared import cloudwatch_metrics as cw

PERIOD = 60
WIDTH = 8  # three widgets per 24-unit row
HEIGHT = 6


@dataclass(frozen=True)
class DashboardArgs:
    region: str
    """Region of every widget (the stack's). Required."""
    load_balancer_suffix: pulumi.Input[str]
    """The ALB's ARN suffix (app/<name>/<id>), its CloudWatch dimension. Required."""
    cluster_name: pulumi.Input[str]
    """The ECS cluster. Required."""
    service_names: Sequence[pulumi.Input[str]]
    """ECS services shown with running tasks, CPU and memory. Required."""
    database_dimensions: pulumi.Input[dict[str, str]]
    """DBInstanceIdentifier (RDS) or DBClusterIdentifier (Aurora). Required."""
    cache_replication_group_id: pulumi.Input[str]
    """The ElastiCache replication group. Required."""
    kafka_cluster_name: pulumi.Input[str]
    """The MSK cluster's name (its CloudWatch dimension). Required."""
    namespace: str = cw.DEFAULT_NAMESPACE
    """Namespace of the service's EMF metrics (the task definition's METRICS_NAMESPACE). Default FlashSale."""
    dashboard_name: str | None = None
    """Default: the component's name."""


@dataclass(frozen=True)
class DashboardValues:
    """DashboardArgs with every Output resolved: what `dashboard_body` lays out."""

    region: str
    namespace: str
    load_balancer: str
    cluster: str
    services: tuple[str, ...]
    database: dict[str, str]
    cache_group: str
    kafka_cluster: str
    reservation_route: str = cw.RESERVATION_ROUTE


def _own(values: DashboardValues, metric: cw.Metric, *dims: str, **options: Any) -> list[Any]:
    """A metric the service emits, with its dimension values in the order its definition gives."""
    assert len(dims) == len(metric.dimensions), (metric.name, dims)
    pairs = [part for pair in zip(metric.dimensions, dims, strict=True) for part in pair]
    return [values.namespace, metric.name, *pairs, options] if options else [values.namespace, metric.name, *pairs]


def _search(namespace: str, dimensions: Sequence[str], metric: str, stat: str, term: str = "") -> str:
    keys = ",".join(f'"{d}"' if " " in d else d for d in dimensions)
    words = f' "{term}"' if term else ""
    return f"SEARCH('{{{namespace},{keys}}} MetricName=\"{metric}\"{words}', '{stat}', {PERIOD})"


def _widget(values: DashboardValues, title: str, metrics: list[Any], **props: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": values.region,
            "view": "timeSeries",
            "period": PERIOD,
            "metrics": metrics,
            **props,
        },
    }


def _per_second(values: DashboardValues, qid: str, label: str, metric: list[Any]) -> list[list[Any]]:
    """A count metric and, visible, its rate per second."""
    return [
        [*metric, {"id": qid, "stat": "Sum", "visible": False}],
        [{"expression": f"{qid}/PERIOD({qid})", "label": label}],
    ]


def _funnel(v: DashboardValues) -> list[dict[str, Any]]:
    attempts = _search(v.namespace, cw.RESERVATION_REQUESTS.dimensions, cw.RESERVATION_REQUESTS.name, "Sum")
    route = v.reservation_route
    return [
        _widget(v, "Reservation attempts per second, by outcome", [[{"expression": f"{attempts}/{PERIOD}"}]]),
        _widget(
            v,
            "201s, sold-out, limit and attempt-bucket refusals per second",
            [
                *_per_second(v, "won", "201 reserved", _own(v, cw.RESERVATION_REQUESTS, cw.RESERVED)),
                *_per_second(v, "soldout", "sold out", _own(v, cw.RESERVATION_REQUESTS, cw.SOLD_OUT)),
                *_per_second(v, "limit", "over the per-user limit", _own(v, cw.RESERVATION_REQUESTS, cw.USER_LIMIT)),
                *_per_second(
                    v, "throttled", "429 too many attempts", _own(v, cw.RESERVATION_REQUESTS, cw.TOO_MANY_ATTEMPTS)
                ),
            ],
        ),
        _widget(
            v,
            "503s (dependency failures) per second and share of attempts",
            [
                *_per_second(v, "unavailable", "503 per second", _own(v, cw.REQUESTS_503, route)),
                [*_own(v, cw.REQUESTS, route), {"id": "all", "stat": "Sum", "visible": False}],
                [{"expression": "100 * unavailable / all", "label": "503 % of attempts", "yAxis": "right"}],
            ],
        ),
        _widget(
            v,
            "Remaining stock per sale",
            [[{"expression": _search(v.namespace, cw.STOCK_REMAINING.dimensions, cw.STOCK_REMAINING.name, "Minimum")}]],
        ),
        _widget(
            v,
            "Reservation latency (ms)",
            [
                _own(v, cw.REQUEST_LATENCY_P50, route, stat="Maximum", label="p50"),
                _own(v, cw.REQUEST_LATENCY_P99, route, stat="Maximum", label="p99"),
            ],
        ),
        _widget(
            v,
            "Guards and background failures",
            [
                _own(v, cw.RESERVATION_REQUESTS, cw.GUARD_REFUSED, stat="Sum", label="commits refused by the guard"),
                _own(v, cw.RESERVATION_REQUESTS, cw.COMPENSATED, stat="Sum", label="compensated holds"),
                [
                    {
                        "expression": _search(
                            v.namespace, cw.BACKGROUND_FAILURES.dimensions, cw.BACKGROUND_FAILURES.name, "Sum"
                        )
                    }
                ],
            ],
        ),
    ]


def _edge_and_services(v: DashboardValues) -> list[dict[str, Any]]:
    alb = ["LoadBalancer", v.load_balancer]
    # AWS/ApplicationELB metrics by LoadBalancer:
    # docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
    widgets = [
        _widget(
            v,
            "ALB requests, 4xx and 5xx",
            [
                ["AWS/ApplicationELB", "RequestCount", *alb, {"stat": "Sum"}],
                ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", *alb, {"stat": "Sum"}],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb, {"stat": "Sum"}],
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *alb, {"stat": "Sum"}],
            ],
        ),
        _widget(
            v,
            "ALB target response time (s)",
            [
                ["AWS/ApplicationELB", "TargetResponseTime", *alb, {"stat": "p50"}],
                ["AWS/ApplicationELB", "TargetResponseTime", *alb, {"stat": "p99"}],
            ],
        ),
    ]
    # RunningTaskCount: ECS/ContainerInsights; CPU/memory: AWS/ECS, both by ClusterName and ServiceName
    # (docs.aws.amazon.com/AmazonECS/latest/developerguide/Container-Insights-metrics.html and
    #  .../developerguide/viewing_cloudwatch_metrics.html).
    per_service = [("ClusterName", v.cluster, "ServiceName", name) for name in v.services]
    widgets += [
        _widget(
            v,
            "Running tasks",
            [["ECS/ContainerInsights", "RunningTaskCount", *d, {"stat": "Average"}] for d in per_service],
        ),
        _widget(v, "Service CPU %", [["AWS/ECS", "CPUUtilization", *d, {"stat": "Average"}] for d in per_service]),
        _widget(
            v, "Service memory %", [["AWS/ECS", "MemoryUtilization", *d, {"stat": "Average"}] for d in per_service]
        ),
    ]
    return widgets


def _data(v: DashboardValues) -> list[dict[str, Any]]:
    db = [part for key, value in sorted(v.database.items()) for part in (key, value)]
    # AWS/RDS: docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html (CommitLatency in ms).
    # AWS/ElastiCache per node (CacheClusterId), found by the replication group's id in the node ids:
    # docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.Redis.html (EvalBasedCmds: the gate's EVALSHA).
    # AWS/Kafka, DEFAULT level: docs.aws.amazon.com/msk/latest/developerguide/metrics-details.html.
    redis = ("AWS/ElastiCache", ("CacheClusterId",))
    kafka = ("AWS/Kafka", ("Broker ID", "Cluster Name"))
    relay_age = _own(v, cw.RELAY_OLDEST_UNSENT_AGE, stat="Maximum", label="oldest unsent outbox row (s)")
    return [
        _widget(v, "Database CPU %", [["AWS/RDS", "CPUUtilization", *db, {"stat": "Average"}]]),
        _widget(v, "Database connections", [["AWS/RDS", "DatabaseConnections", *db, {"stat": "Maximum"}]]),
        _widget(v, "Database commit latency (ms)", [["AWS/RDS", "CommitLatency", *db, {"stat": "Average"}]]),
        _widget(
            v,
            "Redis engine CPU % per node",
            [[{"expression": _search(*redis, "EngineCPUUtilization", "Maximum", v.cache_group)}]],
        ),
        _widget(
            v,
            "Redis memory % per node",
            [[{"expression": _search(*redis, "DatabaseMemoryUsagePercentage", "Maximum", v.cache_group)}]],
        ),
        _widget(
            v,
            "Redis Lua (EVALSHA) commands per node",
            [[{"expression": _search(*redis, "EvalBasedCmds", "Sum", v.cache_group)}]],
        ),
        _widget(
            v,
            "MSK bytes in per broker",
            [[{"expression": _search(*kafka, "BytesInPerSec", "Average", v.kafka_cluster)}]],
        ),
        _widget(
            v,
            "MSK data disk used % per broker",
            [[{"expression": _search(*kafka, "KafkaDataLogsDiskUsed", "Maximum", v.kafka_cluster)}]],
        ),
        _widget(
            v,
            "Outbox relay: lag, unsent rows, publishing",
            [
                relay_age,
                _own(v, cw.RELAY_UNSENT_ROWS, stat="Maximum", label="unsent rows", yAxis="right"),
                [
                    {
                        "expression": _search(
                            v.namespace, cw.RELAY_PUBLISHED.dimensions, cw.RELAY_PUBLISHED.name, "Sum"
                        ),
                        "yAxis": "right",
                    }
                ],
                [
                    {
                        "expression": _search(
                            v.namespace, cw.RELAY_PUBLISH_ERRORS.dimensions, cw.RELAY_PUBLISH_ERRORS.name, "Sum"
                        ),
                        "yAxis": "right",
                    }
                ],
            ],
        ),
    ]


def dashboard_body(values: DashboardValues) -> dict[str, Any]:
    """The dashboard's JSON body (CloudWatch dashboard body structure), widgets in reading order."""
    widgets = [*_funnel(values), *_edge_and_services(values), *_data(values)]
    for i, widget in enumerate(widgets):
        widget["x"], widget["y"] = (i % 3) * WIDTH, (i // 3) * HEIGHT
    return {"widgets": widgets}


class Dashboard(pulumi.ComponentResource):
    """The stack's sale-day dashboard. Output: `name` (the dashboard's name)."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:operations:Dashboard", name, None, opts)

        def body(resolved: list[Any]) -> str:
            lb, cluster, database, cache_group, kafka_cluster, *services = resolved
            values = DashboardValues(
                region=args.region,
                namespace=args.namespace,
                load_balancer=lb,
                cluster=cluster,
                services=tuple(services),
                database=dict(database),
                cache_group=cache_group,
                kafka_cluster=kafka_cluster,
            )
            return json.dumps(dashboard_body(values), separators=(",", ":"))

        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name or name,
            dashboard_body=pulumi.Output.all(
                args.load_balancer_suffix,
                args.cluster_name,
                args.database_dimensions,
                args.cache_replication_group_id,
                args.kafka_cluster_name,
                *args.service_names,
            ).apply(body),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = dashboard.dashboard_name
        self.register_outputs({"name": self.name})
