"""Wiring only: load the validated stack configuration, map it to each component's Args
(stackconfig/component_args.py), instantiate the components, export outputs."""

import pulumi
import pulumi_aws as aws

from components.alarms import Alarms
from components.autoscaling import ServiceAutoscaling
from components.cache import Cache
from components.certificate import DnsCertificate
from components.cluster import Cluster
from components.dashboard import Dashboard
from components.database import Database
from components.deploy_freeze import deploy_freeze_hook
from components.disaster_recovery import DatabaseBackupCopy
from components.image import ServiceImage
from components.jwt_key import JwtSigningKey
from components.kafka import Kafka
from components.load_balancer import LoadBalancer
from components.network import Network
from components.sale_alarms import SaleAlarms
from components.service import FargateService
from components.web_firewall import WebFirewall
from stackconfig import component_args as to
from stackconfig import load_config

cfg = load_config()
for window in cfg.ended_sale_windows:
    pulumi.log.warn(
        f"sale window {window.name} ended {window.end:%Y-%m-%dT%H:%M} {window.timezone}: not deployed; "
        f"remove it from flashsale:saleWindows"
    )

# What the sizing derived but cannot vouch for: a tier short of a sale's rate, a figure not measured.
for warning in cfg.sizing.warnings:
    pulumi.log.warn(warning)

# One explicit provider: its default tags reach every AWS resource, awsx's included.
provider = aws.Provider(
    "aws",
    region=cfg.region,
    default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.tags),
)
opts = pulumi.ResourceOptions(providers={"aws": provider})

network = Network(cfg.stack, to.network_args(cfg), opts=opts)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("isolatedSubnetIds", network.isolated_subnet_ids)
pulumi.export("securityGroupIds", network.security_group_ids)

database = Database(f"{cfg.stack}-db", to.database_args(cfg, network), opts=opts)
dr = cfg.disaster_recovery
if dr.region:
    # A second provider for the DR region: the copies and their key live there.
    dr_provider = aws.Provider(
        "aws-dr",
        region=dr.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.tags),
    )
    backup_copy = DatabaseBackupCopy(f"{cfg.stack}-db-dr", to.backup_copy_args(cfg, database, dr_provider), opts=opts)
    pulumi.export("drRegion", dr.region)
    # What a recovery stack in dr.region needs (README, "Disaster recovery").
    pulumi.export("drBackupCopyArn", backup_copy.copy_arn)
    pulumi.export("drBackupKeyArn", backup_copy.key_arn)

cache = Cache(f"{cfg.stack}-cache", to.cache_args(cfg, network), opts=opts)
kafka = Kafka(f"{cfg.stack}-kafka", to.kafka_args(cfg, network), opts=opts)

pulumi.export("databaseEndpoint", database.endpoint)
pulumi.export("databasePort", database.port)
pulumi.export("databaseName", database.db_name)
pulumi.export("databaseSecretArn", database.secret_arn)
pulumi.export("databaseAppUsername", database.app_username)
pulumi.export("databaseAppSecretArn", database.app_secret_arn)
pulumi.export("databaseProxyEndpoint", database.proxy_endpoint)
pulumi.export("databaseProxyReadEndpoint", database.proxy_read_endpoint)
pulumi.export("redisEndpoint", cache.endpoint)
pulumi.export("redisClusterMode", cache.cluster_mode)
pulumi.export("redisAuthSecretArn", cache.auth_secret_arn)
pulumi.export("kafkaClusterArn", kafka.cluster_arn)
pulumi.export("kafkaBootstrapBrokersIam", kafka.bootstrap_brokers_iam)
pulumi.export("kafkaTopicNames", kafka.topic_names)

# Compute tier: image, cluster, ALB + WAF, alarms, one FargateService (+ autoscaling) per configured service.
data = to.data_endpoints(database, cache, kafka)
image = ServiceImage(f"{cfg.stack}-image", to.image_args(cfg), opts=opts)
cluster = Cluster(f"{cfg.stack}-ecs", to.cluster_args(cfg), opts=opts)
certificate = to.certificate_args(cfg)
certificate_arn = DnsCertificate(f"{cfg.stack}-tls", certificate, opts=opts).certificate_arn if certificate else None
alb = LoadBalancer(f"{cfg.stack}-edge", to.load_balancer_args(cfg, network, certificate_arn), opts=opts)
WebFirewall(f"{cfg.stack}-waf", to.web_firewall_args(cfg, alb), opts=opts)
alarms = Alarms(f"{cfg.stack}-alarms", to.alarms_args(cfg, alb, data), opts=opts)
jwt_key = JwtSigningKey(f"{cfg.stack}-jwt", to.jwt_key_args(cfg), opts=opts)
routing = to.routing_args(network, alb)
# No new task definition reaches a service while a sale window is in progress (unless allowed for the run).
freeze = pulumi.ResourceHookBinding(
    before_update=[deploy_freeze_hook(f"{cfg.stack}-deploy-freeze", to.deploy_freeze_args(cfg))]
)
services = {}
for svc in cfg.services:
    service = FargateService(
        f"{cfg.stack}-{svc.name}",
        to.service_args(
            cfg,
            svc,
            network=network,
            cluster=cluster,
            image=image,
            data=data,
            jwt_key=jwt_key,
            alarms=alarms,
            routing=routing,
            hooks=freeze,
        ),
        opts=opts,
    )
    ServiceAutoscaling(
        f"{cfg.stack}-{svc.name}-scaling", to.autoscaling_args(cfg, svc, cluster, service, alb), opts=opts
    )
    services[svc.name] = service

# Sale day: what an operator watches, and the business signals that page.
dashboard = Dashboard(
    f"{cfg.stack}-dashboard",
    to.dashboard_args(
        cfg,
        alb=alb,
        cluster=cluster,
        services=list(services.values()),
        database=database,
        cache=cache,
        kafka=kafka,
    ),
    opts=opts,
)
SaleAlarms(f"{cfg.stack}-sale-alarms", to.sale_alarms_args(cfg, alarms), opts=opts)
pulumi.export("dashboardName", dashboard.name)
pulumi.export("url", alb.url)
pulumi.export("albArn", alb.arn)
pulumi.export("clusterName", cluster.name)
pulumi.export("serviceNames", [s.service_name for s in services.values()])
pulumi.export("taskDefinitionArns", {name: s.task_definition_arn for name, s in services.items()})
pulumi.export("imageUri", image.image_uri)
pulumi.export("alarmPrefix", to.resource_prefix(cfg))
pulumi.export("region", cfg.region)
