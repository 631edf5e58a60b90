"""The Kafka component each stack registers: MSK brokers, their configuration, storage, logs and topics."""

from __future__ import annotations

import json

import pytest

from components.kafka import VOLUME_SIZE_PATH, replication
from stackconfig import StackConfig
from tooling.mock_outputs import resource_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource

KAFKA = "flashsale:kafka:Kafka"
MSK = "aws:msk/cluster:Cluster"
TOPIC = "aws:msk/topic:Topic"


def child(run: ProgramRun, type_: str) -> list[RecordedResource]:
    return [r for r in run.children(run.one(KAFKA)) if r.type == type_]


def only(run: ProgramRun, type_: str) -> RecordedResource:
    found = child(run, type_)
    assert len(found) == 1, f"expected one {type_} in the Kafka component, found {len(found)}"
    return found[0]


def arn_of(resource: RecordedResource) -> str:
    return resource_outputs(resource.type, resource.name, resource.inputs)[1]["arn"]


def server_properties(run: ProgramRun) -> dict[str, str]:
    text = only(run, "aws:msk/configuration:Configuration").inputs["serverProperties"]
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_one_broker_per_zone_or_a_multiple(run: ProgramRun, cfg: StackConfig) -> None:
    inputs = only(run, MSK).inputs
    assert inputs["numberOfBrokerNodes"] == cfg.broker_count == cfg.network.az_count * cfg.kafka.brokers_per_az
    subnets = inputs["brokerNodeGroupInfo"]["clientSubnets"]
    assert subnets == run.outputs["privateSubnetIds"] and len(subnets) == cfg.network.az_count
    assert inputs["numberOfBrokerNodes"] % len(subnets) == 0
    assert inputs["brokerNodeGroupInfo"]["securityGroups"] == [run.outputs["securityGroupIds"]["kafka"]]
    assert inputs["brokerNodeGroupInfo"]["instanceType"] == cfg.kafka.instance_type
    assert inputs["kafkaVersion"] == cfg.kafka.version


def test_tls_only_and_encrypted_with_its_own_rotating_key(run: ProgramRun) -> None:
    key = only(run, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    encryption = only(run, MSK).inputs["encryptionInfo"]
    assert encryption["encryptionAtRestKmsKeyArn"] == arn_of(key)
    assert encryption["encryptionInTransit"] == {"clientBroker": "TLS", "inCluster": True}


def test_clients_authenticate_with_iam_only(run: ProgramRun) -> None:
    auth = only(run, MSK).inputs["clientAuthentication"]
    assert auth == {"sasl": {"iam": True}, "unauthenticated": False}
    assert all(broker.endswith(":9098") for broker in run.outputs["kafkaBootstrapBrokersIam"].split(","))


def test_configuration_fits_the_broker_count(run: ProgramRun, cfg: StackConfig) -> None:
    props = server_properties(run)
    factor = min(3, cfg.broker_count)
    assert props["auto.create.topics.enable"] == "false"
    assert props["default.replication.factor"] == str(factor)
    assert props["min.insync.replicas"] == str(max(1, factor - 1))
    assert int(props["min.insync.replicas"]) <= factor <= cfg.broker_count
    assert props["log.retention.hours"] == str(cfg.kafka.log_retention_hours)
    assert props["compression.type"] and props["num.partitions"]
    configuration = only(run, "aws:msk/configuration:Configuration")
    assert configuration.inputs["kafkaVersions"] == [cfg.kafka.version]
    assert only(run, MSK).inputs["configurationInfo"]["arn"] == arn_of(configuration)


@pytest.mark.parametrize(("brokers", "expected"), [(1, (1, 1)), (2, (2, 1)), (3, (3, 2)), (6, (3, 2))])
def test_replication_never_exceeds_the_brokers(brokers: int, expected: tuple[int, int]) -> None:
    assert replication(brokers) == expected


def test_storage_autoscaling_owns_the_volume_size(run: ProgramRun, cfg: StackConfig) -> None:
    cluster = only(run, MSK)
    assert (
        cluster.inputs["brokerNodeGroupInfo"]["storageInfo"]["ebsStorageInfo"]["volumeSize"] == cfg.kafka.volume_size_gb
    )
    assert VOLUME_SIZE_PATH in cluster.ignore_changes
    target = only(run, "aws:appautoscaling/target:Target").inputs
    assert (target["serviceNamespace"], target["scalableDimension"]) == ("kafka", "kafka:broker-storage:VolumeSize")
    assert target["resourceId"] == arn_of(cluster)
    assert target["maxCapacity"] == cfg.kafka.max_volume_size_gb > cfg.kafka.volume_size_gb
    policy = only(run, "aws:appautoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert policy["policyType"] == "TargetTrackingScaling"
    assert tracking["predefinedMetricSpecification"]["predefinedMetricType"] == "KafkaBrokerStorageUtilization"
    assert tracking["disableScaleIn"] is True


def test_broker_logs_go_to_a_log_group_with_retention(run: ProgramRun, cfg: StackConfig) -> None:
    group = only(run, "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == cfg.log_retention_days
    logs = only(run, MSK).inputs["loggingInfo"]["brokerLogs"]["cloudwatchLogs"]
    assert logs == {"enabled": True, "logGroup": group.inputs["name"]}


def test_enhanced_monitoring_follows_config(run: ProgramRun, cfg: StackConfig) -> None:
    assert only(run, MSK).inputs["enhancedMonitoring"] == cfg.kafka.enhanced_monitoring


def test_topics_follow_config(run: ProgramRun, cfg: StackConfig) -> None:
    cluster_arn = arn_of(only(run, MSK))
    factor, min_isr = replication(cfg.broker_count)
    topics = {t.inputs["name"]: t.inputs for t in child(run, TOPIC)}
    # Registration order is not deterministic: compare as sets.
    assert set(topics) == {t.name for t in cfg.kafka.topics} and len(topics) == len(cfg.kafka.topics)
    for declared in cfg.kafka.topics:
        inputs = topics[declared.name]
        assert inputs["clusterArn"] == cluster_arn
        assert inputs["partitionCount"] == declared.partitions
        assert inputs["replicationFactor"] == factor
        assert json.loads(inputs["configs"]) == {
            "retention.ms": str(declared.retention_hours * 3_600_000),
            "min.insync.replicas": str(min_isr),
        }
    assert run.outputs["kafkaTopicNames"] == [t.name for t in cfg.kafka.topics]


def test_protection_follows_protect_data(run: ProgramRun, cfg: StackConfig) -> None:
    data = [only(run, MSK), only(run, "aws:kms/key:Key"), *child(run, TOPIC)]
    assert [r.protect for r in data] == [cfg.protect_data] * len(data)
    others = [r for r in run.children(run.one(KAFKA)) if r not in data]
    assert not any(r.protect for r in others)


def test_every_child_is_parented_and_named_from_the_component(run: ProgramRun) -> None:
    component = run.one(KAFKA)
    children = run.children(component)
    assert {MSK, TOPIC, "aws:msk/configuration:Configuration"} <= {c.type for c in children}
    assert all(c.name.startswith(f"{component.name}-") for c in children)
    assert all(r.parent == component.urn for r in run.resources if r.type.startswith("aws:msk/"))


def test_outputs(run: ProgramRun) -> None:
    assert run.outputs["kafkaClusterArn"] == arn_of(only(run, MSK))
    assert run.outputs["kafkaBootstrapBrokersIam"]
