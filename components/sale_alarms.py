"""SaleAlarms: alarms on the sale's business signals, from the metrics the service and the relay emit.

- a sale sold out (informational: attempts are now refused as sold_out);
- dependency failures: the share of reservation attempts answered 503;
- Redis and PostgreSQL disagree: a commit refused by PostgreSQL's oversell guard, or a hold compensated
  because its commit failed (page);
- relay lag: the oldest outbox row not yet published to Kafka.
Metric names and dimensions come from reservation.shared.cloudwatch_metrics, the emitters' own definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from reservation.shared import cloudwatch_metrics as cw

from components.metric_math import PERIOD, expression_query, metric_query, notify


@dataclass(frozen=True)
class SaleAlarmsArgs:
    prefix: str
    """Alarm names start with it (<project>-<stack>-), like the platform alarms. Required."""
    topic_arn: pulumi.Input[str]
    """The alarm topic (notified on ALARM and on OK). Required."""
    dependency_failure_percent: float = 1.0
    """Page when more than this share of reservation attempts gets a 503, percent. Default 1."""
    relay_lag_seconds: int = 120
    """Page when the oldest unpublished outbox row is older than this, seconds. Default 120."""
    namespace: str = cw.DEFAULT_NAMESPACE
    """The service's METRICS_NAMESPACE. Default FlashSale."""


class SaleAlarms(pulumi.ComponentResource):
    """Outputs: `alarm_names`."""

    alarm_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: SaleAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:operations:SaleAlarms", name, None, opts)
        common = notify(args.topic_arn, pulumi.ResourceOptions(parent=self))
        ns = args.namespace

        def result(qid: str, value: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return metric_query(qid, ns, cw.RESERVATION_REQUESTS.name, "Sum", {"Result": value})

        def route(qid: str, metric: cw.Metric) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return metric_query(qid, ns, metric.name, "Sum", {"Route": cw.RESERVATION_ROUTE})

        def alarm(key: str, description: str, **settings) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{key}", name=f"{args.prefix}{key}", alarm_description=description, **settings, **common
            )

        alarms = [
            alarm(
                "sale-sold-out",
                "Informational: a sale sold out; attempts on it are now refused as sold_out",
                namespace=ns,
                metric_name=cw.RESERVATION_REQUESTS.name,
                dimensions={"Result": cw.SOLD_OUT},
                statistic="Sum",
                period=PERIOD,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
            ),
            alarm(
                "dependency-failures",
                f"Page: more than {args.dependency_failure_percent:g}% of reservation attempts answered 503 "
                "(PostgreSQL or Redis failing)",
                metric_queries=[
                    route("unavailable", cw.REQUESTS_503),
                    route("attempts", cw.REQUESTS),
                    expression_query(
                        "share", "IF(attempts > 0, 100 * FILL(unavailable, 0) / attempts, 0)", "503 % of attempts"
                    ),
                ],
                evaluation_periods=3,
                datapoints_to_alarm=2,
                threshold=args.dependency_failure_percent,
                comparison_operator="GreaterThanThreshold",
            ),
            alarm(
                "stores-disagree",
                "Page: PostgreSQL's oversell guard refused commits Redis admitted, or holds were compensated after "
                "failed commits: Redis and PostgreSQL disagree (runbook: Redis data loss)",
                metric_queries=[
                    result("refused", cw.GUARD_REFUSED),
                    result("compensated", cw.COMPENSATED),
                    expression_query("disagree", "FILL(refused, 0) + FILL(compensated, 0)", "refused + compensated"),
                ],
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
            ),
            alarm(
                "relay-lag",
                f"Page: the oldest unpublished outbox row is older than {args.relay_lag_seconds} s (events late)",
                namespace=ns,
                metric_name=cw.RELAY_OLDEST_UNSENT_AGE.name,
                statistic="Maximum",
                period=PERIOD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                threshold=args.relay_lag_seconds,
                comparison_operator="GreaterThanThreshold",
            ),
        ]
        self.alarm_names = pulumi.Output.all(*[a.name for a in alarms])
        self.register_outputs({"alarmNames": self.alarm_names})
