"""Kafka: an MSK provisioned cluster, its broker configuration and the platform's topics.

Brokers spread one per AZ (or a multiple) over the private subnets; TLS only, SASL/IAM clients on
9098, data encrypted with a customer KMS key, storage that grows by itself, broker logs with a
retention. Topics are declared in config and created through MSK's topic API (aws.msk.Topic).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.kms import data_key

# The relay's producer compresses with lz4 (app/reservation/relay/kafka_producer.py): the same codec on
# the brokers stores its batches as they arrive, with no recompression.
COMPRESSION = "lz4"
DEFAULT_PARTITIONS = 6
# Storage autoscaling grows a broker's volume when its disk use passes this percentage.
STORAGE_TARGET_PERCENT = 60
# The property storage autoscaling rewrites: Pulumi must not shrink it back on the next `up`.
VOLUME_SIZE_PATH = "brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize"
HOUR_MS = 3_600_000


def replication(broker_count: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas): 3 and 2 from 3 brokers; never more than exist.

    min ISR = RF - 1 keeps acks=all producers writing while one replica is down."""
    factor = min(3, broker_count)
    return factor, max(1, factor - 1)


def server_properties(log_retention_hours: int, broker_count: int) -> str:
    factor, min_isr = replication(broker_count)
    properties = {
        # Topics exist only as declared: a typo in a producer must fail, not create a topic.
        "auto.create.topics.enable": "false",
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(min_isr),
        "num.partitions": str(DEFAULT_PARTITIONS),
        "log.retention.hours": str(log_retention_hours),
        "compression.type": COMPRESSION,
        "unclean.leader.election.enable": "false",
    }
    return "".join(f"{k}={v}\n" for k, v in properties.items())


@dataclass(frozen=True)
class TopicArgs:
    name: str
    """The topic's name. Required."""
    partitions: int = DEFAULT_PARTITIONS
    """Partitions. Default 6."""
    retention_hours: int = 168
    """How long events are kept, hours. Default 168 (7 days)."""


@dataclass(frozen=True)
class KafkaArgs:
    broker_count: int
    """Brokers in all: MSK needs a multiple of the number of client subnets. Required."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """One private subnet per AZ. Required."""
    security_group_id: pulumi.Input[str]
    """The brokers' security group. Required."""
    topics: tuple[TopicArgs, ...]
    """The topics created; no other can be (auto.create.topics.enable=false). Required."""
    version: str = "3.8.x"
    """Kafka version. Default 3.8.x."""
    instance_type: str = "kafka.t3.small"
    """Broker instance type (express.* brokers have no EBS volume). Default kafka.t3.small."""
    volume_size_gb: int = 20
    """EBS volume per broker at creation, GiB. Default 20."""
    max_volume_size_gb: int = 100
    """Storage autoscaling ceiling per broker, GiB. Default 100."""
    log_retention_hours: int = 168
    """Broker default retention, hours. Default 168."""
    enhanced_monitoring: str = "DEFAULT"
    """MSK monitoring level. Default DEFAULT."""
    protect_data: bool = True
    """protect=True on the cluster, its key and topics. Default True."""
    log_retention_days: int = 90
    """Retention of the broker log group, days. Default 90."""


class Kafka(pulumi.ComponentResource):
    cluster_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    bootstrap_brokers_iam: pulumi.Output[str]
    topic_names: list[str]
    topic_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: KafkaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:kafka:Kafka", name, None, opts)
        protect = args.protect_data
        child = pulumi.ResourceOptions(parent=self)
        factor, min_isr = replication(args.broker_count)
        # Express brokers have no EBS volume: MSK manages their storage.
        express = args.instance_type.startswith("express.")

        key = data_key(f"{name}-key", f"{name}: MSK broker volumes", protect=protect, parent=self)
        configuration = aws.msk.Configuration(
            f"{name}-config",
            description=f"{name}: declared topics only, RF {factor}, min ISR {min_isr}",
            kafka_versions=[args.version],
            server_properties=server_properties(args.log_retention_hours, args.broker_count),
            opts=child,
        )
        broker_logs = aws.cloudwatch.LogGroup(
            f"{name}-broker-logs",
            name=f"/flashsale/{name}/brokers",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        storage = (
            None
            if express
            else aws.msk.ClusterBrokerNodeGroupInfoStorageInfoArgs(
                ebs_storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs(
                    volume_size=args.volume_size_gb
                )
            )
        )
        cluster = aws.msk.Cluster(
            f"{name}-cluster",
            kafka_version=args.version,
            number_of_broker_nodes=args.broker_count,
            broker_node_group_info=aws.msk.ClusterBrokerNodeGroupInfoArgs(
                instance_type=args.instance_type,
                client_subnets=args.subnet_ids,
                security_groups=[args.security_group_id],
                storage_info=storage,
            ),
            configuration_info=aws.msk.ClusterConfigurationInfoArgs(
                arn=configuration.arn, revision=configuration.latest_revision
            ),
            encryption_info=aws.msk.ClusterEncryptionInfoArgs(
                encryption_at_rest_kms_key_arn=key.arn,
                encryption_in_transit=aws.msk.ClusterEncryptionInfoEncryptionInTransitArgs(
                    client_broker="TLS", in_cluster=True
                ),
            ),
            client_authentication=aws.msk.ClusterClientAuthenticationArgs(
                sasl=aws.msk.ClusterClientAuthenticationSaslArgs(iam=True),
                unauthenticated=False,
            ),
            logging_info=aws.msk.ClusterLoggingInfoArgs(
                broker_logs=aws.msk.ClusterLoggingInfoBrokerLogsArgs(
                    cloudwatch_logs=aws.msk.ClusterLoggingInfoBrokerLogsCloudwatchLogsArgs(
                        enabled=True, log_group=broker_logs.name
                    )
                )
            ),
            enhanced_monitoring=args.enhanced_monitoring,
            opts=pulumi.ResourceOptions(
                parent=self, protect=protect, ignore_changes=[] if express else [VOLUME_SIZE_PATH]
            ),
        )
        if not express:
            self._storage_autoscaling(name, cluster, args.max_volume_size_gb)

        self.topic_names = [t.name for t in args.topics]
        self.topic_arns = {}
        for topic in args.topics:
            created = aws.msk.Topic(
                f"{name}-{topic.name}",
                cluster_arn=cluster.arn,
                name=topic.name,
                partition_count=topic.partitions,
                replication_factor=factor,
                configs=json.dumps(
                    {"retention.ms": str(topic.retention_hours * HOUR_MS), "min.insync.replicas": str(min_isr)}
                ),
                # A deleted topic takes its events with it.
                opts=pulumi.ResourceOptions(parent=self, protect=protect),
            )
            self.topic_arns[topic.name] = created.arn

        self.cluster_arn = cluster.arn
        self.cluster_name = cluster.cluster_name
        self.bootstrap_brokers_iam = cluster.bootstrap_brokers_sasl_iam
        self.register_outputs(
            {
                "clusterArn": self.cluster_arn,
                "clusterName": self.cluster_name,
                "bootstrapBrokersIam": self.bootstrap_brokers_iam,
                "topicNames": self.topic_names,
                "topicArns": self.topic_arns,
            }
        )

    def _storage_autoscaling(self, name: str, cluster: aws.msk.Cluster, max_volume_gb: int) -> None:
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{name}-storage",
            service_namespace="kafka",
            scalable_dimension="kafka:broker-storage:VolumeSize",
            resource_id=cluster.arn,
            min_capacity=1,
            max_capacity=max_volume_gb,
            opts=child,
        )
        scaling = aws.appautoscaling
        aws.appautoscaling.Policy(
            f"{name}-storage",
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            target_tracking_scaling_policy_configuration=scaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                predefined_metric_specification=scaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="KafkaBrokerStorageUtilization"
                ),
                target_value=STORAGE_TARGET_PERCENT,
                # MSK volumes cannot shrink.
                disable_scale_in=True,
            ),
            opts=child,
        )
