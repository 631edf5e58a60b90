"""Alarms: the alarm topic (email subscriptions) and the platform-wide alarms: the ALB's 5xx share
and p99 latency, database connections and CPU, Redis engine CPU and memory, MSK disk use.

Per-service alarms (which also roll deployments back) live with each FargateService. Every alarm
name starts with `<project>-<stack>-`, so one prefix finds them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.data_endpoints import DataEndpoints
from components.kms import data_key
from components.metric_math import PERIOD, expression_query, metric_query, notify

DATA_CPU_PERCENT = 80
REDIS_MEMORY_PERCENT = 80
KAFKA_DISK_PERCENT = 85
# CloudWatch's limit of metrics in one alarm's math (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
# Create-alarm-on-metric-math-expression.html).
MAX_ALARM_METRICS = 10


@dataclass(frozen=True)
class CacheTopology:
    """The shape of the replication group, which decides its member clusters' ids."""

    cluster_mode: bool = False
    """Cluster mode on. Default False."""
    shards: int = 1
    """Node groups (cluster mode). Default 1."""
    replicas_per_shard: int = 0
    """Replicas beside each primary. Default 0."""


@dataclass(frozen=True)
class AlarmsArgs:
    prefix: str
    """Every alarm's and the topic's name starts with it (<project>-<stack>-). Required."""
    load_balancer_suffix: pulumi.Input[str]
    """The ALB's ARN suffix (the LoadBalancer dimension). Required."""
    data: DataEndpoints
    """The data tier's identities (database dimensions, replication group, MSK cluster name). Required."""
    broker_count: int
    """MSK brokers: one disk alarm dimension each. Required."""
    cache: CacheTopology = CacheTopology()
    """The cache's shape, for its per-node alarms. Default one node."""
    emails: tuple[str, ...] = ()
    """Addresses subscribed to the alarm topic (each confirms by mail). Default none."""
    p99_latency_ms: int = 500
    """ALB target p99 latency that alarms, ms. Default 500."""
    http_5xx_percent: float = 1
    """Share of 5xx responses that alarms, percent. Default 1."""
    database_connections: int = 150
    """Database connections that alarm. Default 150."""
    protect_key: bool = True
    """protect=True on the topic's KMS key. Default True."""


def cache_node_ids(replication_group_id: str, cache: CacheTopology) -> list[str]:
    """ElastiCache's member cluster ids: <rg>-001.. (one shard), <rg>-0001-001.. (cluster mode)."""
    nodes = range(1, cache.replicas_per_shard + 2)
    if not cache.cluster_mode:
        return [f"{replication_group_id}-{n:03d}" for n in nodes]
    return [f"{replication_group_id}-{s:04d}-{n:03d}" for s in range(1, cache.shards + 1) for n in nodes]


class Alarms(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    alarm_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:alarms:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        data = args.data
        self._protect_key = args.protect_key

        topic = aws.sns.Topic(
            f"{name}-topic", name=f"{args.prefix}alarms", kms_master_key_id=self._topic_key(name).arn, opts=child
        )
        for i, email in enumerate(args.emails):
            # Keyed by address: removing one address leaves the others (and their confirmations) alone.
            # The alias adopts the subscription the index-named version created (same list, first deploy).
            aws.sns.TopicSubscription(
                f"{name}-email-{email}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-email-{i}")]),
            )
        self.topic_arn = topic.arn
        common = notify(topic.arn, child)

        def simple(
            key: str,
            description: str,
            namespace: str,
            metric: str,
            dims: pulumi.Input[dict[str, str]],
            threshold: float,
            stat: str = "Average",
        ) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                name=f"{args.prefix}{key}",
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dims,
                statistic=stat,
                period=PERIOD,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                **common,
            )

        def worst_of(
            key: str,
            description: str,
            namespace: str,
            metric: str,
            dims: list[dict[str, pulumi.Input[str]]],
            threshold: float,
        ) -> aws.cloudwatch.MetricAlarm:
            """One alarm on the maximum over several nodes (metric math; at most MAX_ALARM_METRICS)."""
            queries = [
                metric_query(f"m{i}", namespace, metric, "Maximum", d)
                for i, d in enumerate(dims[: MAX_ALARM_METRICS - 1])
            ]
            queries.append(expression_query("worst", "MAX(METRICS())", f"{metric} (worst node)"))
            return aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                name=f"{args.prefix}{key}",
                alarm_description=description,
                metric_queries=queries,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                threshold=threshold,
                comparison_operator="GreaterThanThreshold",
                **common,
            )

        alb = {"LoadBalancer": args.load_balancer_suffix}

        def alb_metric(qid: str, metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return metric_query(qid, "AWS/ApplicationELB", metric, "Sum", alb)

        alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-alb-5xx-rate",
                name=f"{args.prefix}alb-5xx-rate",
                alarm_description=f"ALB: 5xx (targets and ALB) above {args.http_5xx_percent}% of requests",
                metric_queries=[
                    alb_metric("target5xx", "HTTPCode_Target_5XX_Count"),
                    alb_metric("elb5xx", "HTTPCode_ELB_5XX_Count"),
                    alb_metric("requests", "RequestCount"),
                    expression_query(
                        "rate",
                        "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)",
                        "5xx percent",
                    ),
                ],
                evaluation_periods=3,
                datapoints_to_alarm=2,
                threshold=args.http_5xx_percent,
                comparison_operator="GreaterThanThreshold",
                **common,
            ),
            aws.cloudwatch.MetricAlarm(
                f"{name}-alb-p99-latency",
                name=f"{args.prefix}alb-p99-latency",
                alarm_description=f"ALB: target p99 latency above {args.p99_latency_ms} ms",
                namespace="AWS/ApplicationELB",
                metric_name="TargetResponseTime",
                dimensions=alb,
                extended_statistic="p99",
                period=PERIOD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                threshold=args.p99_latency_ms / 1000,
                comparison_operator="GreaterThanThreshold",
                **common,
            ),
            simple(
                "db-connections",
                f"Database: more than {args.database_connections} connections",
                "AWS/RDS",
                "DatabaseConnections",
                data.database_alarm_dimensions,
                args.database_connections,
                stat="Maximum",
            ),
            simple(
                "db-cpu",
                f"Database: CPU above {DATA_CPU_PERCENT}%",
                "AWS/RDS",
                "CPUUtilization",
                data.database_alarm_dimensions,
                DATA_CPU_PERCENT,
            ),
        ]
        nodes = pulumi.Output.from_input(data.cache_replication_group_id).apply(
            lambda rg: cache_node_ids(rg, args.cache)
        )
        node_count = len(cache_node_ids("rg", args.cache))
        node_dims = [{"CacheClusterId": nodes[i]} for i in range(node_count)]
        alarms.append(
            worst_of(
                "redis-cpu",
                f"Redis: engine CPU above {DATA_CPU_PERCENT}% on a node",
                "AWS/ElastiCache",
                "EngineCPUUtilization",
                node_dims,
                DATA_CPU_PERCENT,
            )
        )
        alarms.append(
            worst_of(
                "redis-memory",
                f"Redis: memory above {REDIS_MEMORY_PERCENT}% on a node (noeviction: writes fail when full)",
                "AWS/ElastiCache",
                "DatabaseMemoryUsagePercentage",
                node_dims,
                REDIS_MEMORY_PERCENT,
            )
        )
        alarms.append(
            worst_of(
                "kafka-disk",
                f"MSK: a broker's data log disk above {KAFKA_DISK_PERCENT}%",
                "AWS/Kafka",
                "KafkaDataLogsDiskUsed",
                # DEFAULT-level MSK metric, dimensions "Cluster Name" and "Broker ID" (1-based), with spaces:
                # docs.aws.amazon.com/msk/latest/developerguide/metrics-details.html
                [
                    {"Cluster Name": data.kafka_cluster_name, "Broker ID": str(b)}
                    for b in range(1, args.broker_count + 1)
                ],
                KAFKA_DISK_PERCENT,
            )
        )
        self.alarm_names = pulumi.Output.all(*[a.name for a in alarms])
        self.register_outputs({"topicArn": self.topic_arn, "alarmNames": self.alarm_names})

    def _topic_key(self, name: str) -> aws.kms.Key:
        """A customer key for the topic: CloudWatch cannot use the AWS managed alias/aws/sns key, so
        alarm notifications to a topic on it are dropped. CloudWatch needs kms:Decrypt and
        kms:GenerateDataKey* in the key policy (docs.aws.amazon.com/sns/latest/dg/
        sns-key-management.html#compatibility-with-aws-services); the account keeps administration."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        policy = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministersTheKey",
                        "Effect": "Allow",
                        "Principal": {"AWS": pulumi.Output.concat("arn:", partition, ":iam::", account, ":root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "CloudWatchAlarmsPublishToTheTopic",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                    },
                ],
            }
        )
        # Protected like the data keys: deleting it silences the topic.
        return data_key(
            f"{name}-topic-key",
            f"{name}: alarm topic (CloudWatch alarms publish to it)",
            protect=self._protect_key,
            parent=self,
            policy=policy,
        )
