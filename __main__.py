"""Wiring only: load the validated stack configuration, instantiate the components, export outputs."""

import pulumi
import pulumi_aws as aws

from components.alarms import Alarms, AlarmsArgs
from components.autoscaling import RequestMetricArgs, ServiceAutoscaling, ServiceAutoscalingArgs
from components.cache import Cache, CacheArgs
from components.certificate import DnsCertificate, DnsCertificateArgs
from components.cluster import Cluster, ClusterArgs
from components.dashboard import Dashboard, DashboardArgs
from components.data_endpoints import DataEndpoints
from components.database import Database, DatabaseArgs
from components.deploy_freeze import DeployFreezeArgs, FreezeWindow, deploy_freeze_hook
from components.disaster_recovery import DatabaseBackupCopy, DatabaseBackupCopyArgs
from components.image import ServiceImage, ServiceImageArgs
from components.jwt_key import JwtSigningKey, JwtSigningKeyArgs
from components.kafka import Kafka, KafkaArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.sale_alarms import SaleAlarms, SaleAlarmsArgs
from components.service import FargateService, FargateServiceArgs, ServiceRoutingArgs
from components.web_firewall import WebFirewall, WebFirewallArgs
from stackconfig import load_config

cfg = load_config()
for window in cfg.ended_sale_windows:
    pulumi.log.warn(
        f"sale window {window.name} ended {window.end:%Y-%m-%dT%H:%M} {window.timezone}: not deployed; "
        f"remove it from flashsale:saleWindows"
    )

# One explicit provider: its default tags reach every AWS resource, awsx's included.
provider = aws.Provider(
    "aws",
    region=cfg.region,
    default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.tags),
)
opts = pulumi.ResourceOptions(providers={"aws": provider})

network = Network(
    cfg.stack,
    NetworkArgs(
        config=cfg.network,
        region=cfg.region,
        app_ports=tuple(sorted({s.port for s in cfg.web_services})),
    ),
    opts=opts,
)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("securityGroupIds", network.security_group_ids)

groups = network.security_group_ids
database = Database(
    f"{cfg.stack}-db",
    DatabaseArgs(
        config=cfg.database,
        protect_data=cfg.protect_data,
        log_retention_days=cfg.log_retention_days,
        identifier=f"{cfg.project}-{cfg.stack}",
        vpc_id=network.vpc_id,
        subnet_ids=network.isolated_subnet_ids,
        security_group_id=groups["database"],
        proxy_subnet_ids=network.private_subnet_ids,
        client_security_group_id=groups["service"],
        restore_from_backup_arn=cfg.disaster_recovery.restore_from_backup_arn,
        restore_kms_key_arn=cfg.disaster_recovery.restore_kms_key_arn,
    ),
    opts=opts,
)
dr = cfg.disaster_recovery
if dr.region:
    # A second provider for the DR region: the copies and their key live there.
    dr_provider = aws.Provider(
        "aws-dr",
        region=dr.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.tags),
    )
    backup_copy = DatabaseBackupCopy(
        f"{cfg.stack}-db-dr",
        DatabaseBackupCopyArgs(
            source_arn=database.arn,
            engine=cfg.database.engine,
            dr_provider=dr_provider,
            retention_days=dr.backup_retention_days,
            protect=cfg.protect_data,
        ),
        opts=opts,
    )
    pulumi.export("drRegion", dr.region)
    # What a recovery stack in dr.region needs (README, "Disaster recovery").
    pulumi.export("drBackupCopyArn", backup_copy.copy_arn)
    pulumi.export("drBackupKeyArn", backup_copy.key_arn)

cache = Cache(
    f"{cfg.stack}-cache",
    CacheArgs(
        config=cfg.cache,
        protect_data=cfg.protect_data,
        log_retention_days=cfg.log_retention_days,
        subnet_ids=network.isolated_subnet_ids,
        security_group_id=groups["cache"],
    ),
    opts=opts,
)
kafka = Kafka(
    f"{cfg.stack}-kafka",
    KafkaArgs(
        config=cfg.kafka,
        broker_count=cfg.broker_count,
        protect_data=cfg.protect_data,
        log_retention_days=cfg.log_retention_days,
        subnet_ids=network.private_subnet_ids,
        security_group_id=groups["kafka"],
    ),
    opts=opts,
)

pulumi.export("databaseEndpoint", database.endpoint)
pulumi.export("databasePort", database.port)
pulumi.export("databaseName", database.db_name)
pulumi.export("databaseSecretArn", database.secret_arn)
pulumi.export("databaseProxyEndpoint", database.proxy_endpoint)
pulumi.export("redisEndpoint", cache.endpoint)
pulumi.export("redisClusterMode", cache.cluster_mode)
pulumi.export("redisAuthSecretArn", cache.auth_secret_arn)
pulumi.export("kafkaClusterArn", kafka.cluster_arn)
pulumi.export("kafkaBootstrapBrokersIam", kafka.bootstrap_brokers_iam)
pulumi.export("kafkaTopicNames", kafka.topic_names)

# Compute tier: image, cluster, ALB + WAF, alarms, one FargateService (+ autoscaling) per configured service.
prefix = f"{cfg.project}-{cfg.stack}-"
data = DataEndpoints(
    database_host=database.proxy_endpoint or database.endpoint,
    database_port=database.port,
    database_name=database.db_name,
    database_secret_arn=database.secret_arn,
    database_alarm_dimensions=database.alarm_dimensions,
    cache_endpoint=cache.endpoint,
    cache_port=cache.port,
    cache_cluster_mode=cache.cluster_mode,
    cache_auth_secret_arn=cache.auth_secret_arn,
    cache_auth_secret_version=cache.auth_secret_version,
    cache_replication_group_id=cache.replication_group_id,
    kafka_cluster_arn=kafka.cluster_arn,
    kafka_cluster_name=kafka.cluster_name,
    kafka_bootstrap_brokers=kafka.bootstrap_brokers_iam,
    kafka_topic_names=tuple(kafka.topic_names),
    database_secret_kms_key_arn=database.kms_key_arn,
    cache_secret_kms_key_arn=cache.kms_key_arn,
    database_proxy=database.proxy_endpoint is not None,
    database_read_host=database.reader_endpoint,
)
image = ServiceImage(
    f"{cfg.stack}-image", ServiceImageArgs(config=cfg.image, force_delete=not cfg.protect_data), opts=opts
)
cluster = Cluster(
    f"{cfg.stack}-ecs", ClusterArgs(cluster_name=f"{cfg.project}-{cfg.stack}", capacity=cfg.capacity), opts=opts
)
certificate_arn = cfg.alb.certificate_arn
if certificate_arn is None and cfg.alb.domain_name and cfg.alb.hosted_zone_id:
    certificate_arn = DnsCertificate(
        f"{cfg.stack}-tls",
        DnsCertificateArgs(domain_name=cfg.alb.domain_name, hosted_zone_id=cfg.alb.hosted_zone_id),
        opts=opts,
    ).certificate_arn
alb = LoadBalancer(
    f"{cfg.stack}-edge",
    LoadBalancerArgs(
        config=cfg.alb,
        certificate_arn=certificate_arn,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        security_group_id=groups["alb"],
        deletion_protection=cfg.is_prod,
        access_log_retention_days=cfg.log_retention_days,
        force_destroy_logs=not cfg.protect_data,
    ),
    opts=opts,
)
WebFirewall(f"{cfg.stack}-waf", WebFirewallArgs(config=cfg.waf, load_balancer_arn=alb.arn), opts=opts)
alarms = Alarms(
    f"{cfg.stack}-alarms",
    AlarmsArgs(
        config=cfg.alarms,
        prefix=prefix,
        load_balancer_suffix=alb.arn_suffix,
        data=data,
        cache=cfg.cache,
        broker_count=cfg.broker_count,
        protect_key=cfg.protect_data,
    ),
    opts=opts,
)
jwt_key = JwtSigningKey(
    f"{cfg.stack}-jwt",
    JwtSigningKeyArgs(
        secret_name=f"{cfg.project}/{cfg.stack}/jwt-signing-key",
        recovery_window_days=30 if cfg.protect_data else 0,
        protect=cfg.protect_data,
        generation=cfg.jwt_key_generation,
    ),
    opts=opts,
)
routing = ServiceRoutingArgs(
    vpc_id=network.vpc_id,
    load_balancer_suffix=alb.arn_suffix,
    production_listener_arn=alb.production_listener_arn,
    test_listener_arn=alb.test_listener_arn,
    infrastructure_role_arn=alb.infrastructure_role_arn,
)
services = {}
# No new task definition reaches a service while a sale window is in progress (unless allowed for the run).
freeze_windows = [FreezeWindow.local(w.name, w.start, w.end, w.timezone, w.lead_minutes) for w in cfg.sale_windows]
freeze = pulumi.ResourceHookBinding(
    before_update=[
        deploy_freeze_hook(
            f"{cfg.stack}-deploy-freeze",
            DeployFreezeArgs(windows=freeze_windows, allow_during_sale=cfg.deploy.allow_during_sale),
        )
    ]
)
for svc in cfg.services:
    service = FargateService(
        f"{cfg.stack}-{svc.name}",
        FargateServiceArgs(
            config=svc,
            deploy=cfg.deploy,
            capacity=cfg.capacity,
            alarms=cfg.alarms,
            resource_prefix=prefix,
            region=cfg.region,
            cpu_architecture=cfg.image.cpu_architecture,
            log_retention_days=cfg.log_retention_days,
            cluster_arn=cluster.arn,
            cluster_name=cluster.name,
            image_uri=image.image_uri,
            repository_arn=image.repository_arn,
            subnet_ids=network.private_subnet_ids,
            security_group_id=groups["service"],
            data=data,
            jwt_secret_arn=jwt_key.secret_arn,
            jwt_secret_version=jwt_key.version_id,
            alarm_topic_arn=alarms.topic_arn,
            routing=routing if svc.is_web else None,
            service_hooks=freeze,
        ),
        opts=opts,
    )
    ServiceAutoscaling(
        f"{cfg.stack}-{svc.name}-scaling",
        ServiceAutoscalingArgs(
            service=svc,
            config=cfg.autoscaling,
            sale_windows=cfg.sale_windows,
            deployed_at=cfg.evaluated_at,
            cluster_name=cluster.name,
            service_name=service.service_name,
            requests=(
                RequestMetricArgs(
                    load_balancer_suffix=alb.arn_suffix, target_group_suffixes=service.target_group_suffixes
                )
                if svc.is_web
                else None
            ),
        ),
        opts=opts,
    )
    services[svc.name] = service

# Sale day: what an operator watches, and the business signals that page.
dashboard = Dashboard(
    f"{cfg.stack}-dashboard",
    DashboardArgs(
        dashboard_name=f"{prefix}sale",
        region=cfg.region,
        load_balancer_suffix=alb.arn_suffix,
        cluster_name=cluster.name,
        service_names=[s.service_name for s in services.values()],
        database_dimensions=database.alarm_dimensions,
        cache_replication_group_id=cache.replication_group_id,
        kafka_cluster_name=kafka.cluster_name,
    ),
    opts=opts,
)
SaleAlarms(
    f"{cfg.stack}-sale-alarms",
    SaleAlarmsArgs(
        prefix=prefix,
        topic_arn=alarms.topic_arn,
        dependency_failure_percent=cfg.alarms.dependency_failure_percent,
        relay_lag_seconds=cfg.alarms.relay_lag_seconds,
    ),
    opts=opts,
)
pulumi.export("dashboardName", dashboard.name)
pulumi.export("url", alb.url)
pulumi.export("albArn", alb.arn)
pulumi.export("clusterName", cluster.name)
pulumi.export("serviceNames", [s.service_name for s in services.values()])
pulumi.export("taskDefinitionArns", {name: s.task_definition_arn for name, s in services.items()})
pulumi.export("imageUri", image.image_uri)
pulumi.export("alarmPrefix", prefix)
pulumi.export("region", cfg.region)
