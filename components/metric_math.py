"""CloudWatch alarm pieces both the platform alarms and each service's alarms build from."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

PERIOD = 60


def metric_query(
    qid: str, namespace: str, metric: str, stat: str, dims: pulumi.Input[dict]
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """One metric inside an alarm's math, not itself the alarm's value."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=qid,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=metric, stat=stat, period=PERIOD, dimensions=dims
        ),
    )


def expression_query(qid: str, expression: str, label: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """The expression whose value the alarm compares with its threshold."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(id=qid, expression=expression, label=label, return_data=True)


def notify(topic_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """Arguments every alarm shares: tell the topic on ALARM and on OK; no data is not a breach."""
    return {"alarm_actions": [topic_arn], "ok_actions": [topic_arn], "treat_missing_data": "notBreaching", "opts": opts}
