"""Each component on its own, under mocks, with nothing but minimal Args: no stack configuration.

What it registers with its defaults must be the secure choice (protected, encrypted, private, closed);
the program's stacks override them where they mean to (stackconfig/component_args.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import settings
from pulumi.runtime import stack as pulumi_stack

from components.alarms import Alarms, AlarmsArgs
from components.autoscaling import SaleWindowArgs, ServiceAutoscaling, ServiceAutoscalingArgs
from components.cache import Cache, CacheArgs
from components.certificate import DnsCertificate, DnsCertificateArgs
from components.cluster import Cluster, ClusterArgs
from components.dashboard import Dashboard, DashboardArgs
from components.data_endpoints import DataEndpoints
from components.database import Database, DatabaseArgs
from components.disaster_recovery import DatabaseBackupCopy, DatabaseBackupCopyArgs
from components.image import ServiceImage, ServiceImageArgs
from components.jwt_key import JwtSigningKey, JwtSigningKeyArgs
from components.kafka import Kafka, KafkaArgs, TopicArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.sale_alarms import SaleAlarms, SaleAlarmsArgs
from components.service import FargateService, FargateServiceArgs
from components.web_firewall import WebFirewall, WebFirewallArgs
from tooling.mock_runtime import RecordedResource, _Mocks, _RecordingMonitor
from tooling.stack_files import ROOT

SUBNETS = ["subnet-a", "subnet-b"]
ARN = "arn:aws:iam::123456789012:role/example"


class Registered(list[RecordedResource]):
    def of(self, type_: str) -> list[RecordedResource]:
        return [r for r in self if r.type == type_]

    def one(self, type_: str) -> RecordedResource:
        found = self.of(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return found[0]


def register(build: Callable[[], Any]) -> Registered:
    """Run `build` (which instantiates one component) under mocks; what it registered."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="standalone", stack="test", preview=False, monitor=monitor)
    try:
        build()
        loop.run_until_complete(pulumi_stack.wait_for_rpcs())
    finally:
        settings.reset_options()
        loop.close()
        asyncio.set_event_loop(None)
    assert monitor.recorded, "the component registered nothing"
    return Registered(monitor.recorded)


def data_endpoints() -> DataEndpoints:
    return DataEndpoints(
        database_host="db.example",
        database_port=5432,
        database_name="flashsale",
        database_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
        database_app_username="flashsale_app",
        database_app_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-app-AbCdEf",
        database_alarm_dimensions={"DBInstanceIdentifier": "db"},
        cache_endpoint="cache.example",
        cache_port=6379,
        cache_cluster_mode=False,
        cache_auth_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth-AbCdEf",
        cache_replication_group_id="rg",
        kafka_cluster_arn="arn:aws:kafka:eu-west-1:123456789012:cluster/k/abc",
        kafka_cluster_name="k",
        kafka_bootstrap_brokers="b-1.k:9098",
        kafka_topic_names=("flashsale.orders",),
    )


def test_network_is_closed_to_the_internet_until_cidrs_are_given() -> None:
    made = register(lambda: Network("n", NetworkArgs(region="eu-west-1", app_ports=(8000,))))
    ingress = made.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert ingress and all(r.inputs.get("cidrIpv4") is None and r.inputs.get("cidrIpv6") is None for r in ingress)
    assert made.one("aws:ec2/flowLog:FlowLog").inputs["trafficType"] == "ALL"


def _database_args(**choices) -> DatabaseArgs:
    """A Database's required Args, and only the `choices` a test makes."""
    return DatabaseArgs(
        identifier="db",
        vpc_id="vpc-1",
        subnet_ids=SUBNETS,
        security_group_id="sg-db",
        proxy_subnet_ids=SUBNETS,
        client_security_group_id="sg-app",
        **choices,
    )


def test_database_defaults_are_protected_encrypted_private_and_multi_az() -> None:
    made = register(lambda: Database("db", _database_args()))
    instance = made.one("aws:rds/instance:Instance")
    assert instance.protect and instance.inputs["deletionProtection"] is True
    assert instance.inputs["finalSnapshotIdentifier"] == "db-final" and instance.inputs["skipFinalSnapshot"] is False
    assert instance.inputs["storageEncrypted"] is True and instance.inputs["publiclyAccessible"] is False
    assert instance.inputs["multiAz"] is True and instance.inputs["manageMasterUserPassword"] is True
    assert made.one("aws:kms/key:Key").protect
    assert not made.of("aws:rds/proxy:Proxy")
    # The application role's login is generated and kept in its own protected secret on the database's key.
    secret = made.one("aws:secretsmanager/secret:Secret")
    assert secret.protect and secret.inputs["recoveryWindowInDays"] == 30
    assert made.one("random:index/randomPassword:RandomPassword").inputs["special"] is True


def test_database_proxy_admits_the_application_role_with_iam_only() -> None:
    made = register(
        lambda: Database(
            "db", _database_args(engine="aurora-postgresql", aurora_readers=1, proxy=True, app_username="shop_app")
        )
    )
    (auth,) = made.one("aws:rds/proxy:Proxy").inputs["auths"]
    assert auth["iamAuth"] == "REQUIRED" and auth["secretArn"].endswith(":secret:db-app-login-AbCdEf")
    assert made.one("aws:rds/proxyEndpoint:ProxyEndpoint").inputs["targetRole"] == "READ_ONLY"


def test_cache_defaults_are_encrypted_authenticated_protected_and_replicated() -> None:
    made = register(lambda: Cache("c", CacheArgs(subnet_ids=SUBNETS, security_group_id="sg-cache")))
    group = made.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group.protect
    assert group.inputs["atRestEncryptionEnabled"] is True and group.inputs["transitEncryptionMode"] == "required"
    assert group.inputs["numCacheClusters"] == 2 and group.inputs["automaticFailoverEnabled"] is True
    assert made.one("aws:secretsmanager/secret:Secret").inputs["recoveryWindowInDays"] == 30


def test_kafka_defaults_are_protected_tls_and_iam_with_topics_by_name() -> None:
    topics = (TopicArgs("orders"), TopicArgs("holds", partitions=3))
    made = register(
        lambda: Kafka("k", KafkaArgs(broker_count=2, subnet_ids=SUBNETS, security_group_id="sg-k", topics=topics))
    )
    cluster = made.one("aws:msk/cluster:Cluster")
    assert cluster.protect
    assert cluster.inputs["encryptionInfo"]["encryptionInTransit"]["clientBroker"] == "TLS"
    assert cluster.inputs["clientAuthentication"]["sasl"]["iam"] is True
    assert {t.name: t.inputs["partitionCount"] for t in made.of("aws:msk/topic:Topic")} == {"k-orders": 6, "k-holds": 3}


def test_image_repository_keeps_tags_immutable_scans_and_survives_destroy() -> None:
    made = register(
        lambda: ServiceImage("i", ServiceImageArgs(context=str(ROOT / "app"), dockerfile=str(ROOT / "app/Dockerfile")))
    )
    repo = made.one("aws:ecr/repository:Repository")
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE" and repo.inputs["forceDelete"] is False
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert made.one("awsx:ecr:Image").inputs["platform"] == "linux/amd64"


def test_cluster_defaults_to_on_demand_fargate_only() -> None:
    made = register(lambda: Cluster("e", ClusterArgs(cluster_name="e")))
    strategies = made.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders").inputs[
        "defaultCapacityProviderStrategies"
    ]
    assert {s["capacityProvider"]: s["weight"] for s in strategies} == {"FARGATE": 1, "FARGATE_SPOT": 0}


def test_load_balancer_defaults_protect_it_and_log_to_a_private_bucket() -> None:
    made = register(
        lambda: LoadBalancer("lb", LoadBalancerArgs(vpc_id="vpc-1", public_subnet_ids=SUBNETS, security_group_id="sg"))
    )
    alb = made.one("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["enableDeletionProtection"] is True and alb.inputs["dropInvalidHeaderFields"] is True
    assert alb.inputs["accessLogs"]["enabled"] is True
    block = made.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    assert made.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is False
    # The test listener is open to nobody until CIDRs are given.
    assert not made.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")


def test_web_firewall_defaults_include_the_managed_common_rules() -> None:
    made = register(lambda: WebFirewall("w", WebFirewallArgs(load_balancer_arn=ARN)))
    rules = {r["name"] for r in made.one("aws:wafv2/webAcl:WebAcl").inputs["rules"]}
    assert rules == {"rate-limit-per-buyer", "rate-limit-per-ip", "rate-limit-admin", "aws-common-rule-set"}


def test_alarms_protect_their_topic_key_and_subscribe_nobody_by_default() -> None:
    made = register(
        lambda: Alarms(
            "a", AlarmsArgs(prefix="p-", load_balancer_suffix="app/lb/1", data=data_endpoints(), broker_count=2)
        )
    )
    assert made.one("aws:kms/key:Key").protect
    assert not made.of("aws:sns/topicSubscription:TopicSubscription")
    assert all(r.inputs["name"].startswith("p-") for r in made.of("aws:cloudwatch/metricAlarm:MetricAlarm"))


def test_service_defaults_run_private_read_only_tasks_deployed_blue_green() -> None:
    args = FargateServiceArgs(
        service_name="relay",
        command=("relay",),
        resource_prefix="p-",
        region="eu-west-1",
        cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/c",
        cluster_name="c",
        image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/r@sha256:" + "0" * 64,
        repository_arn="arn:aws:ecr:eu-west-1:123456789012:repository/r",
        subnet_ids=SUBNETS,
        security_group_id="sg-app",
        data=data_endpoints(),
        jwt_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt-AbCdEf",
        jwt_secret_version="v1",
        alarm_topic_arn="arn:aws:sns:eu-west-1:123456789012:alarms",
    )
    made = register(lambda: FargateService("s", args))
    service = made.one("aws:ecs/service:Service")
    assert service.inputs["networkConfiguration"]["assignPublicIp"] is False
    assert service.inputs["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    assert service.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    containers = json.loads(made.one("aws:ecs/taskDefinition:TaskDefinition").inputs["containerDefinitions"])
    assert containers and all(c["readonlyRootFilesystem"] is True and c.get("user") for c in containers)
    assert not made.of("aws:lb/targetGroup:TargetGroup")  # a worker: no load balancer without routing


def test_autoscaling_raises_the_floor_only_for_given_windows() -> None:
    window = SaleWindowArgs("bf", datetime(2031, 11, 28, 9), datetime(2031, 11, 28, 13), "Europe/Berlin", 30)
    args = ServiceAutoscalingArgs(
        service="api",
        cluster_name="c",
        service_name="api",
        min_tasks=2,
        max_tasks=40,
        deployed_at=datetime(2031, 1, 1, tzinfo=UTC),
        sale_windows=(window,),
    )
    made = register(lambda: ServiceAutoscaling("sc", args))
    target = made.one("aws:appautoscaling/target:Target")
    assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == (2, 40)
    actions = {
        a.inputs["name"]: a.inputs["schedule"] for a in made.of("aws:appautoscaling/scheduledAction:ScheduledAction")
    }
    assert actions == {"api-bf-floor-up": "at(2031-11-28T08:45:00)", "api-bf-floor-restore": "at(2031-11-28T13:00:00)"}
    assert len(made.of("aws:appautoscaling/policy:Policy")) == 2  # cpu and memory; requests only with an ALB


def test_jwt_key_is_protected_and_recoverable_by_default() -> None:
    made = register(lambda: JwtSigningKey("j", JwtSigningKeyArgs(secret_name="p/jwt")))
    secret = made.one("aws:secretsmanager/secret:Secret")
    assert secret.protect and secret.inputs["recoveryWindowInDays"] == 30


def test_certificate_is_validated_through_dns() -> None:
    made = register(
        lambda: DnsCertificate("t", DnsCertificateArgs(domain_name="shop.example.com", hosted_zone_id="Z1"))
    )
    assert made.one("aws:acm/certificate:Certificate").inputs["validationMethod"] == "DNS"
    assert made.one("aws:route53/record:Record").inputs["zoneId"] == "Z1"


def test_backup_copy_is_protected_in_the_second_region() -> None:
    def build() -> None:
        provider = aws.Provider("dr", region="eu-central-1")
        source = "arn:aws:rds:eu-west-1:123456789012:db:db"
        DatabaseBackupCopy("dr", DatabaseBackupCopyArgs(source_arn=source, engine="postgres", dr_provider=provider))

    made = register(build)
    replication = made.one("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    assert replication.inputs["retentionPeriod"] == 7
    assert made.one("aws:kms/key:Key").protect


def test_dashboard_is_named_after_the_component_by_default() -> None:
    args = DashboardArgs(
        region="eu-west-1",
        load_balancer_suffix="app/lb/1",
        cluster_name="c",
        service_names=["api"],
        database_dimensions={"DBInstanceIdentifier": "db"},
        cache_replication_group_id="rg",
        kafka_cluster_name="k",
    )
    made = register(lambda: Dashboard("d", args))
    assert made.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardName"] == "d"


@pytest.mark.parametrize("percent", [1.0, 5.0])
def test_sale_alarms_page_on_their_thresholds(percent: float) -> None:
    args = SaleAlarmsArgs(
        prefix="p-", topic_arn="arn:aws:sns:eu-west-1:123456789012:a", dependency_failure_percent=percent
    )
    made = register(lambda: SaleAlarms("s", args))
    alarms = made.of("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms and percent in {a.inputs["threshold"] for a in alarms}
    assert all(a.inputs["name"].startswith("p-") for a in alarms)


def test_a_proxy_host_without_its_arn_is_refused() -> None:
    """The services would log in with IAM tokens their task role has no rds-db:connect for."""
    with pytest.raises(ValueError, match="database_proxy_host and database_proxy_arn go together"):
        dataclasses.replace(data_endpoints(), database_proxy_host="proxy.example")
