"""The one place the validated stack configuration becomes each component's own Args.

Components know nothing of the stack configuration; __main__.py only wires: it loads the
configuration, asks this module for each component's Args (passing the components they depend on),
instantiates, and exports. Names of physical resources derived from the project and stack are made
here too, so every stack-specific value has one home.
"""

from __future__ import annotations

import pulumi

from components.alarms import Alarms, AlarmsArgs, CacheTopology
from components.autoscaling import RequestMetricArgs, SaleWindowArgs, ServiceAutoscalingArgs
from components.cache import Cache, CacheArgs
from components.certificate import DnsCertificateArgs
from components.cluster import CapacityArgs, Cluster, ClusterArgs
from components.dashboard import DashboardArgs
from components.data_endpoints import DataEndpoints
from components.database import Database, DatabaseArgs
from components.deploy_freeze import DeployFreezeArgs, FreezeWindow
from components.deployment import DeploymentArgs
from components.disaster_recovery import DatabaseBackupCopyArgs
from components.image import ServiceImage, ServiceImageArgs
from components.jwt_key import JwtSigningKey, JwtSigningKeyArgs
from components.kafka import Kafka, KafkaArgs, TopicArgs
from components.load_balancer import LoadBalancer, LoadBalancerArgs
from components.network import Network, NetworkArgs
from components.sale_alarms import SaleAlarmsArgs
from components.service import FargateService, FargateServiceArgs, ServiceRoutingArgs
from components.service_alarms import AlarmThresholds
from components.web_firewall import WebFirewallArgs
from stackconfig import ServiceConfig, StackConfig


def resource_prefix(cfg: StackConfig) -> str:
    """<project>-<stack>-: alarm names, task families, log groups, the dashboard."""
    return f"{cfg.project}-{cfg.stack}-"


def network_args(cfg: StackConfig) -> NetworkArgs:
    n = cfg.network
    return NetworkArgs(
        region=cfg.region,
        app_ports=tuple(sorted({s.port for s in cfg.web_services})),
        cidr=n.cidr,
        az_count=n.az_count,
        nat_strategy=n.nat_strategy,
        interface_endpoints=n.interface_endpoints,
        flow_log_retention_days=n.flow_log_retention_days,
        alb_ingress_cidrs=n.alb_ingress_cidrs,
    )


def database_args(cfg: StackConfig, network: Network) -> DatabaseArgs:
    db, groups = cfg.database, network.security_group_ids
    return DatabaseArgs(
        identifier=f"{cfg.project}-{cfg.stack}",
        vpc_id=network.vpc_id,
        subnet_ids=network.isolated_subnet_ids,
        security_group_id=groups["database"],
        proxy_subnet_ids=network.private_subnet_ids,
        client_security_group_id=groups["service"],
        engine=db.engine,
        engine_version=db.engine_version,
        instance_class=db.instance_class,
        allocated_storage_gb=db.allocated_storage_gb,
        max_allocated_storage_gb=db.max_allocated_storage_gb,
        multi_az=db.multi_az,
        aurora_min_acu=db.aurora_min_acu,
        aurora_max_acu=db.aurora_max_acu,
        aurora_readers=db.aurora_readers,
        backup_retention_days=db.backup_retention_days,
        proxy=db.proxy,
        db_name=db.name,
        username=db.username,
        app_username=db.app_username,
        slow_statement_ms=db.slow_statement_ms,
        performance_insights_retention_days=db.performance_insights_retention_days,
        protect_data=cfg.protect_data,
        log_retention_days=cfg.log_retention_days,
        restore_from_backup_arn=cfg.disaster_recovery.restore_from_backup_arn,
        restore_kms_key_arn=cfg.disaster_recovery.restore_kms_key_arn,
    )


def backup_copy_args(
    cfg: StackConfig, database: Database, dr_provider: pulumi.ProviderResource
) -> DatabaseBackupCopyArgs:
    return DatabaseBackupCopyArgs(
        source_arn=database.arn,
        engine=cfg.database.engine,
        dr_provider=dr_provider,
        retention_days=cfg.disaster_recovery.backup_retention_days,
        protect=cfg.protect_data,
    )


def cache_args(cfg: StackConfig, network: Network) -> CacheArgs:
    c = cfg.cache
    return CacheArgs(
        subnet_ids=network.isolated_subnet_ids,
        security_group_id=network.security_group_ids["cache"],
        engine=c.engine,
        engine_version=c.engine_version,
        node_type=c.node_type,
        cluster_mode=c.cluster_mode,
        shards=c.shards,
        replicas_per_shard=c.replicas_per_shard,
        snapshot_retention_days=c.snapshot_retention_days,
        auth_token_generation=c.auth_token_generation,
        auth_token_finalized_generation=c.auth_token_finalized_generation,
        protect_data=cfg.protect_data,
        log_retention_days=cfg.log_retention_days,
    )


def kafka_args(cfg: StackConfig, network: Network) -> KafkaArgs:
    k = cfg.kafka
    return KafkaArgs(
        broker_count=cfg.broker_count,
        subnet_ids=network.private_subnet_ids,
        security_group_id=network.security_group_ids["kafka"],
        topics=tuple(TopicArgs(t.name, t.partitions, t.retention_hours) for t in k.topics),
        version=k.version,
        instance_type=k.instance_type,
        volume_size_gb=k.volume_size_gb,
        max_volume_size_gb=k.max_volume_size_gb,
        log_retention_hours=k.log_retention_hours,
        enhanced_monitoring=k.enhanced_monitoring,
        protect_data=cfg.protect_data,
        log_retention_days=cfg.log_retention_days,
    )


def data_endpoints(database: Database, cache: Cache, kafka: Kafka) -> DataEndpoints:
    """What the compute tier needs from the data tier."""
    return DataEndpoints(
        database_host=database.endpoint,
        database_port=database.port,
        database_name=database.db_name,
        database_secret_arn=database.secret_arn,
        database_app_username=database.app_username,
        database_app_secret_arn=database.app_secret_arn,
        database_app_secret_version=database.app_secret_version,
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
        database_proxy_host=database.proxy_endpoint,
        database_proxy_arn=database.proxy_arn,
        # Reads log in like every other connection: through the proxy (its read-only endpoint) when there is one.
        database_read_host=database.proxy_read_endpoint if database.proxy_arn is not None else database.reader_endpoint,
    )


def image_args(cfg: StackConfig) -> ServiceImageArgs:
    return ServiceImageArgs(
        platform=cfg.image.platform, keep_last=cfg.image.keep_last, force_delete=not cfg.protect_data
    )


def capacity_args(cfg: StackConfig) -> CapacityArgs:
    c = cfg.capacity
    return CapacityArgs(on_demand_base=c.on_demand_base, on_demand_weight=c.on_demand_weight, spot_weight=c.spot_weight)


def cluster_args(cfg: StackConfig) -> ClusterArgs:
    return ClusterArgs(cluster_name=f"{cfg.project}-{cfg.stack}", capacity=capacity_args(cfg))


def certificate_args(cfg: StackConfig) -> DnsCertificateArgs | None:
    """A certificate to issue: only for a domain with its zone, and no certificate given."""
    alb = cfg.alb
    if alb.certificate_arn is None and alb.domain_name and alb.hosted_zone_id:
        return DnsCertificateArgs(domain_name=alb.domain_name, hosted_zone_id=alb.hosted_zone_id)
    return None


def load_balancer_args(
    cfg: StackConfig, network: Network, certificate_arn: pulumi.Input[str] | None
) -> LoadBalancerArgs:
    alb = cfg.alb
    return LoadBalancerArgs(
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        security_group_id=network.security_group_ids["alb"],
        certificate_arn=certificate_arn if certificate_arn is not None else alb.certificate_arn,
        deletion_protection=cfg.is_prod,
        access_logs=alb.access_logs,
        access_log_retention_days=cfg.log_retention_days,
        force_destroy_logs=not cfg.protect_data,
        reserved_capacity_units=alb.reserved_capacity_units,
        test_listener_cidrs=alb.test_listener_cidrs,
        domain_name=alb.domain_name,
        hosted_zone_id=alb.hosted_zone_id,
    )


def web_firewall_args(cfg: StackConfig, alb: LoadBalancer) -> WebFirewallArgs:
    w = cfg.waf
    return WebFirewallArgs(
        load_balancer_arn=alb.arn,
        rate_limit_per_5min=w.rate_limit_per_5min,
        ip_rate_limit_per_5min=w.ip_rate_limit_per_5min,
        admin_rate_limit_per_5min=w.admin_rate_limit_per_5min,
        managed_common_rules=w.managed_common_rules,
    )


def alarms_args(cfg: StackConfig, alb: LoadBalancer, data: DataEndpoints) -> AlarmsArgs:
    a, c = cfg.alarms, cfg.cache
    return AlarmsArgs(
        prefix=resource_prefix(cfg),
        load_balancer_suffix=alb.arn_suffix,
        data=data,
        broker_count=cfg.broker_count,
        cache=CacheTopology(cluster_mode=c.cluster_mode, shards=c.shards, replicas_per_shard=c.replicas_per_shard),
        emails=a.emails,
        p99_latency_ms=a.p99_latency_ms,
        http_5xx_percent=a.http_5xx_percent,
        database_connections=a.database_connections,
        protect_key=cfg.protect_data,
    )


def jwt_key_args(cfg: StackConfig) -> JwtSigningKeyArgs:
    return JwtSigningKeyArgs(
        secret_name=f"{cfg.project}/{cfg.stack}/jwt-signing-key",
        recovery_window_days=30 if cfg.protect_data else 0,
        protect=cfg.protect_data,
        generation=cfg.jwt_key_generation,
    )


def deploy_freeze_args(cfg: StackConfig) -> DeployFreezeArgs:
    """No new task definition reaches a service while a sale window is in progress."""
    windows = [FreezeWindow.local(w.name, w.start, w.end, w.timezone, w.lead_minutes) for w in cfg.sale_windows]
    return DeployFreezeArgs(windows=windows, allow_during_sale=cfg.deploy.allow_during_sale)


def routing_args(network: Network, alb: LoadBalancer) -> ServiceRoutingArgs:
    return ServiceRoutingArgs(
        vpc_id=network.vpc_id,
        load_balancer_suffix=alb.arn_suffix,
        production_listener_arn=alb.production_listener_arn,
        test_listener_arn=alb.test_listener_arn,
        infrastructure_role_arn=alb.infrastructure_role_arn,
    )


def service_args(
    cfg: StackConfig,
    svc: ServiceConfig,
    *,
    network: Network,
    cluster: Cluster,
    image: ServiceImage,
    data: DataEndpoints,
    jwt_key: JwtSigningKey,
    alarms: Alarms,
    routing: ServiceRoutingArgs,
    hooks: pulumi.ResourceHookBinding,
) -> FargateServiceArgs:
    d = cfg.deploy
    return FargateServiceArgs(
        service_name=svc.name,
        command=svc.command,
        resource_prefix=resource_prefix(cfg),
        region=cfg.region,
        cluster_arn=cluster.arn,
        cluster_name=cluster.name,
        image_uri=image.image_uri,
        repository_arn=image.repository_arn,
        subnet_ids=network.private_subnet_ids,
        security_group_id=network.security_group_ids["service"],
        data=data,
        jwt_secret_arn=jwt_key.secret_arn,
        jwt_secret_version=jwt_key.version_id,
        alarm_topic_arn=alarms.topic_arn,
        cpu=svc.cpu,
        memory=svc.memory,
        min_tasks=svc.min_tasks,
        port=svc.port,
        paths=svc.paths,
        listener_priority=svc.listener_priority,
        health_check_path=svc.health_check_path,
        cpu_architecture=cfg.image.cpu_architecture,
        log_retention_days=cfg.log_retention_days,
        deploy=DeploymentArgs(
            strategy=d.strategy,
            bake_time_minutes=d.bake_time_minutes,
            canary_percent=d.canary_percent,
            linear_step_percent=d.linear_step_percent,
        ),
        capacity=capacity_args(cfg),
        alarms=AlarmThresholds(p99_latency_ms=cfg.alarms.p99_latency_ms, http_5xx_percent=cfg.alarms.http_5xx_percent),
        routing=routing if svc.is_web else None,
        service_hooks=hooks,
    )


def autoscaling_args(
    cfg: StackConfig, svc: ServiceConfig, cluster: Cluster, service: FargateService, alb: LoadBalancer
) -> ServiceAutoscalingArgs:
    a = cfg.autoscaling
    return ServiceAutoscalingArgs(
        service=svc.name,
        cluster_name=cluster.name,
        service_name=service.service_name,
        min_tasks=svc.min_tasks,
        max_tasks=svc.max_tasks,
        deployed_at=cfg.evaluated_at,
        # The stack's windows still to come; those naming this service raise its floor.
        sale_windows=tuple(
            SaleWindowArgs(w.name, w.start, w.end, w.timezone, cfg.window_floor(w, svc.name), w.lead_minutes)
            for w in cfg.sale_windows
            if svc.name in w.services
        ),
        cpu_target_percent=a.cpu_target_percent,
        memory_target_percent=a.memory_target_percent,
        requests_per_target=cfg.requests_per_target(svc.name),
        scale_out_cooldown_seconds=a.scale_out_cooldown_seconds,
        scale_in_cooldown_seconds=a.scale_in_cooldown_seconds,
        requests=(
            RequestMetricArgs(load_balancer_suffix=alb.arn_suffix, target_group_suffixes=service.target_group_suffixes)
            if svc.is_web
            else None
        ),
    )


def dashboard_args(
    cfg: StackConfig,
    *,
    alb: LoadBalancer,
    cluster: Cluster,
    services: list[FargateService],
    database: Database,
    cache: Cache,
    kafka: Kafka,
) -> DashboardArgs:
    return DashboardArgs(
        dashboard_name=f"{resource_prefix(cfg)}sale",
        region=cfg.region,
        load_balancer_suffix=alb.arn_suffix,
        cluster_name=cluster.name,
        service_names=[s.service_name for s in services],
        database_dimensions=database.alarm_dimensions,
        cache_replication_group_id=cache.replication_group_id,
        kafka_cluster_name=kafka.cluster_name,
    )


def sale_alarms_args(cfg: StackConfig, alarms: Alarms) -> SaleAlarmsArgs:
    return SaleAlarmsArgs(
        prefix=resource_prefix(cfg),
        topic_arn=alarms.topic_arn,
        dependency_failure_percent=cfg.alarms.dependency_failure_percent,
        relay_lag_seconds=cfg.alarms.relay_lag_seconds,
    )
