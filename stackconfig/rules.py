"""The rules that span fields, tiers or the environment. Each returns its problems (empty: none).

stackconfig/load.py runs a rule once every model it reads has validated, so a rule never reports a
consequence of a value that is already reported as wrong.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from allowed_values import MIN_AVAILABILITY_ZONES, MIN_BACKUP_RETENTION_DAYS
from stackconfig.allowed import FARGATE_MEMORY, MAX_DEPLOY_MINUTES, SERVICE_COMMANDS
from stackconfig.compute import CapacityConfig, DeployConfig, ImageConfig, SaleWindow, ServiceConfig
from stackconfig.data import CacheConfig, DatabaseConfig, DisasterRecoveryConfig, KafkaConfig
from stackconfig.edge import AlbConfig, WafConfig
from stackconfig.errors import fail
from stackconfig.network import NetworkConfig
from stackconfig.operations import StackSettings

# Replicated automated backups (the DBInstanceAutomatedBackupsArn), e.g.
# arn:aws:rds:us-east-1:123456789012:auto-backup:ab-L2IJCEXJP7XQ7HOJ4SIEXAMPLE (RDS API reference,
# RestoreDBInstanceToPointInTime SourceDBInstanceAutomatedBackupsArn).
_AUTO_BACKUP_ARN = re.compile(r"^arn:aws[a-z-]*:rds:(?P<region>[a-z0-9-]+):\d{12}:auto-backup:ab-[A-Za-z0-9]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[0-9a-f-]+$")


def no_nat_needs_endpoints(network: NetworkConfig) -> list[str]:
    if network.nat_strategy == "None" and not network.interface_endpoints:
        allowed = "None needs network.interfaceEndpoints = true (tasks in private subnets must reach ECR, Logs and "
        return [fail("network.natStrategy", "None", allowed + "Secrets Manager somehow)")]
    return []


def dr_region_differs(dr: DisasterRecoveryConfig, region: str) -> list[str]:
    if dr.region == region:
        return [
            fail("dr.region", dr.region, f"must differ from aws:region ({region}): a copy in the same region is no DR")
        ]
    return []


def restore_from_this_region(dr: DisasterRecoveryConfig, region: str) -> list[str]:
    """A recovery stack restores replicated backups (and their key) that are in its own region, both or neither."""
    found = []
    for key, value, pattern, what in (
        ("dr.restoreFromBackupArn", dr.restore_from_backup_arn, _AUTO_BACKUP_ARN,
         "replicated backups (arn:aws:rds:...:auto-backup:ab-...)"),
        ("dr.restoreKmsKeyArn", dr.restore_kms_key_arn, _KMS_KEY_ARN, "KMS key ARN (arn:aws:kms:...:key/...)"),
    ):  # fmt: skip
        match = pattern.match(value) if value is not None else None
        if value is not None and (match is None or match["region"] != region):
            found.append(fail(key, value, f"must be empty or the ARN of {what} in aws:region ({region})"))
    if (dr.restore_from_backup_arn is None) != (dr.restore_kms_key_arn is None):
        missing = "dr.restoreKmsKeyArn" if dr.restore_kms_key_arn is None else "dr.restoreFromBackupArn"
        found.append(fail(missing, "", "must be set with the other dr.restore* key (the backups and their key)"))
    return found


def restore_needs_postgres(dr: DisasterRecoveryConfig, database: DatabaseConfig) -> list[str]:
    if dr.restore_from_backup_arn and database.engine != "postgres":
        allowed = "restores an RDS PostgreSQL instance only; restore Aurora from its AWS Backup vault (README)"
        return [fail("dr.restoreFromBackupArn", dr.restore_from_backup_arn, allowed)]
    return []


def capacity_ranges_ordered(database: DatabaseConfig) -> list[str]:
    found = []
    if database.aurora_max_acu < database.aurora_min_acu:
        allowed = f"must be >= database.auroraMinAcu ({database.aurora_min_acu})"
        found.append(fail("database.auroraMaxAcu", database.aurora_max_acu, allowed))
    if database.max_allocated_storage_gb <= database.allocated_storage_gb:
        allowed = f"must be > database.allocatedStorageGb ({database.allocated_storage_gb}) for storage autoscaling"
        found.append(fail("database.maxAllocatedStorageGb", database.max_allocated_storage_gb, allowed))
    return found


def app_role_is_not_the_master(database: DatabaseConfig) -> list[str]:
    # migrate logs in as the master user and refuses to manage itself as the application role.
    if database.app_username == database.username:
        allowed = f"must differ from database.username ({database.username}), the master user migrate logs in as"
        return [fail("database.appUsername", database.app_username, allowed)]
    return []


def cache_shape(cache: CacheConfig) -> list[str]:
    """Shards need cluster mode; the engine and its version name an ElastiCache parameter group family
    (redis7, valkey7, valkey8); AUTH rotation is one generation at a time."""
    found = []
    if not cache.cluster_mode and cache.shards != 1:
        found.append(fail("cache.shards", cache.shards, "must be 1 when cache.clusterMode is false"))
    if cache.engine == "redis" and not cache.engine_version.startswith("7"):
        allowed = "must be 7.x for engine redis (ElastiCache Redis OSS ends at 7.1)"
        found.append(fail("cache.engineVersion", cache.engine_version, allowed))
    if cache.engine == "valkey" and not re.match(r"^(7\.2|8\.\d+)$", cache.engine_version):
        found.append(fail("cache.engineVersion", cache.engine_version, "must be 7.2 or 8.x for engine valkey"))
    generation, finalized = cache.auth_token_generation, cache.auth_token_finalized_generation
    # ElastiCache holds at most two tokens: the current one and, after ROTATE, the one before it.
    # docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html (Modifying the AUTH token on an existing cluster)
    if not generation - 1 <= finalized <= generation:
        allowed = (
            f"must be {generation} (previous token dropped) or {generation - 1} (old and new token both valid) "
            f"with cache.authTokenGeneration {generation}: finish one rotation before starting the next"
        )
        found.append(fail("cache.authTokenFinalizedGeneration", finalized, allowed))
    return found


def kafka_storage_grows(kafka: KafkaConfig) -> list[str]:
    if kafka.max_volume_size_gb <= kafka.volume_size_gb:
        allowed = f"must be > kafka.volumeSizeGb ({kafka.volume_size_gb}) for storage autoscaling"
        return [fail("kafka.maxVolumeSizeGb", kafka.max_volume_size_gb, allowed)]
    return []


def domain_with_zone(alb: AlbConfig) -> list[str]:
    if alb.domain_name and not alb.hosted_zone_id:
        allowed = "must be set with alb.domainName (the zone that validates and serves it)"
        return [fail("alb.hostedZoneId", "", allowed)]
    if alb.hosted_zone_id and not alb.domain_name:
        return [fail("alb.domainName", "", "must be set with alb.hostedZoneId")]
    return []


def capacity_is_placed(capacity: CapacityConfig, image: ImageConfig) -> list[str]:
    found = []
    if capacity.on_demand_weight == 0 and capacity.spot_weight == 0:
        found.append(fail("capacity.spotWeight", 0, "capacity.onDemandWeight and capacity.spotWeight cannot both be 0"))
    if image.cpu_architecture == "ARM64" and capacity.spot_weight != 0:
        # "Linux tasks with the ARM64 architecture don't support the Fargate Spot capacity provider"
        # (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html): ECS would
        # never place the Spot share of the tasks.
        allowed = (
            "must be 0 with image.platform linux/arm64 (Fargate Spot runs X86_64 tasks only); "
            "use image.platform linux/amd64 for Spot"
        )
        found.append(fail("capacity.spotWeight", capacity.spot_weight, allowed))
    return found


def ip_limit_above_buyer_limit(waf: WafConfig) -> list[str]:
    if waf.ip_rate_limit_per_5min < waf.rate_limit_per_5min:
        allowed = (
            f"must be >= waf.rateLimitPer5Min ({waf.rate_limit_per_5min}): one IP can carry many buyers (carrier NAT)"
        )
        return [fail("waf.ipRateLimitPer5Min", waf.ip_rate_limit_per_5min, allowed)]
    return []


def deployment_fits_pulumi_wait(deploy: DeployConfig) -> list[str]:
    strategy, minutes = deploy.strategy, deploy.timeout_minutes(deploy.strategy)
    if minutes <= MAX_DEPLOY_MINUTES:
        return []
    linear = strategy == "LINEAR"
    keys = "deploy.bakeTimeMinutes" + (" and deploy.linearStepPercent" if linear else "")
    allowed = (
        f"with deploy.bakeTimeMinutes = {deploy.bake_time_minutes}"
        + (f" and deploy.linearStepPercent = {deploy.linear_step_percent:g}" if linear else "")
        + f" one deployment takes up to {minutes} minutes, longer than `pulumi up` may wait "
        f"({MAX_DEPLOY_MINUTES}); lower {keys}"
    )
    return [fail("deploy.strategy", strategy, allowed)]


def service_shapes(services: tuple[ServiceConfig, ...]) -> list[str]:
    """Each service: a Fargate size, a floor under its ceiling, the routing its kind needs, its kind's command."""
    found = []
    if not services:
        found.append(fail("services", [], "must declare at least one service"))
    for i, svc in enumerate(services):
        key = f"services[{i}]"
        sizes = FARGATE_MEMORY[svc.cpu]
        if svc.memory not in sizes:
            allowed = f"must be one of {sizes[0]}..{sizes[-1]} MiB (step {sizes[1] - sizes[0]}) for cpu {svc.cpu}"
            found.append(fail(f"{key}.memory", svc.memory, allowed))
        if svc.max_tasks < svc.min_tasks:
            found.append(fail(f"{key}.maxTasks", svc.max_tasks, f"must be >= minTasks ({svc.min_tasks})"))
        has_paths = "paths" in svc.model_fields_set
        if svc.is_web and not has_paths:
            found.append(
                f"flashsale:{key}.paths is missing: a web service lists the path patterns the ALB forwards to it"
            )
        if svc.is_web and svc.listener_priority is None:
            found.append(f"flashsale:{key}.listenerPriority is missing: a web service needs a rule priority")
        if not svc.is_web and (has_paths or svc.listener_priority is not None):
            allowed = "a worker takes no paths or listenerPriority (it gets no load balancer)"
            found.append(fail(f"{key}.kind", svc.kind, allowed))
        if svc.command[0] != SERVICE_COMMANDS[svc.kind]:
            allowed = f"a {svc.kind} service runs [{SERVICE_COMMANDS[svc.kind]}, ...] "
            allowed += "(the image's commands: docs/runtime-contract.md)"
            found.append(fail(f"{key}.command", list(svc.command), allowed))
    web = [s for s in services if s.is_web]
    for field, values in (
        ("name", [s.name for s in services]),
        ("listenerPriority", [s.listener_priority for s in web if s.listener_priority is not None]),
        ("paths", [p for s in web for p in s.paths]),
    ):
        for dup in sorted({v for v in values if values.count(v) > 1}, key=str):
            found.append(fail(f"services[].{field}", dup, f"each service's {field} must be unique"))
    return found


def window_targets(window: SaleWindow, services: tuple[ServiceConfig, ...]) -> tuple[str, ...]:
    """The services a window raises: those it names, or every web service when it names none."""
    return window.services if "services" in window.model_fields_set else tuple(s.name for s in services if s.is_web)


def windows_fit_services(windows: tuple[SaleWindow, ...], services: tuple[ServiceConfig, ...]) -> list[str]:
    """A window ends after it starts, names declared services, and raises each one's floor within its ceiling."""
    by_name = {s.name: s for s in services}
    found = []
    for i, window in enumerate(windows):
        key = f"saleWindows[{i}]"
        if window.end <= window.start:
            found.append(
                fail(
                    f"{key}.end", f"{window.end:%Y-%m-%dT%H:%M}", f"must be after start ({window.start:%Y-%m-%dT%H:%M})"
                )
            )
        for name in window.services:
            if name not in by_name:
                found.append(fail(f"{key}.services", name, f"must name declared services: {', '.join(by_name)}"))
        floor = {"minTasks": window.min_tasks, "expectedAttemptsPerSecond": window.expected_attempts_per_second}
        given = {k: v for k, v in floor.items() if v is not None}
        if len(given) != 1:
            allowed = (
                "must give exactly one of minTasks (the floor) or expectedAttemptsPerSecond (the program sizes it)"
            )
            found.append(fail(key, given, allowed))
        if window.min_tasks is None:
            continue  # sized from the rate by stackconfig/sale_sizing.py, which checks the same bounds
        for name in window_targets(window, services):
            svc = by_name.get(name)
            if svc and window.min_tasks > svc.max_tasks:
                allowed = f"must be <= maxTasks of service {name} ({svc.max_tasks})"
                found.append(fail(f"{key}.minTasks", window.min_tasks, allowed))
            if svc and window.min_tasks < svc.min_tasks:
                # The window raises the floor: below the service's own it would lower it for the sale.
                allowed = f"must be >= minTasks of service {name} ({svc.min_tasks}): a window raises the floor"
                found.append(fail(f"{key}.minTasks", window.min_tasks, allowed))
    return found


def windows_apart(windows: tuple[SaleWindow, ...], services: tuple[ServiceConfig, ...]) -> list[str]:
    """Each window's end restores the service's own floor: an overlapping window would lose its raised floor."""

    def span(w: SaleWindow) -> tuple[datetime, datetime]:
        zone = ZoneInfo(w.timezone)
        return w.scale_up_at.replace(tzinfo=zone), w.end.replace(tzinfo=zone)

    valid = [w for w in windows if w.end > w.start]
    found = []
    for i, a in enumerate(valid):
        for b in valid[i + 1 :]:
            shared = sorted(set(window_targets(a, services)) & set(window_targets(b, services)))
            (a_up, a_end), (b_up, b_end) = span(a), span(b)
            if shared and a_up < b_end and b_up < a_end:
                allowed = f"windows overlap (lead time included) for {', '.join(shared)}; merge them or move one"
                found.append(fail("saleWindows", [a.name, b.name], allowed))
    return found


# Production is where a cheap dev choice becomes an outage or lost data: the prod_* rules refuse it up front,
# one tier each, so a tier that does not read hides no other tier's problem.


def prod_protects_data(settings: StackSettings) -> list[str]:
    if settings.environment == "prod" and not settings.protect_data:
        return [fail("protectData", False, "must be true when environment is prod")]
    return []


def prod_spans_three_zones(settings: StackSettings, network: NetworkConfig) -> list[str]:
    """Also what the pack's network-high-availability rule refuses: a single NAT gateway, whose AZ's
    outage cuts every private subnet off."""
    if settings.environment != "prod":
        return []
    found = []
    if network.az_count < MIN_AVAILABILITY_ZONES:
        allowed = f"must be >= {MIN_AVAILABILITY_ZONES} when environment is prod"
        found.append(fail("network.azCount", network.az_count, allowed))
    if network.nat_strategy == "Single":
        allowed = "must be OnePerAz (or None) when environment is prod: one NAT gateway is one AZ's outage away"
        found.append(fail("network.natStrategy", "Single", allowed))
    return found


def prod_database_survives(settings: StackSettings, database: DatabaseConfig) -> list[str]:
    if settings.environment != "prod":
        return []
    found = []
    if database.backup_retention_days < MIN_BACKUP_RETENTION_DAYS:
        allowed = f"must be >= {MIN_BACKUP_RETENTION_DAYS} when environment is prod"
        found.append(fail("database.backupRetentionDays", database.backup_retention_days, allowed))
    if database.engine == "postgres" and not database.multi_az:
        allowed = "must be true when environment is prod (or use aurora-postgresql)"
        found.append(fail("database.multiAz", False, allowed))
    if database.engine == "aurora-postgresql" and database.aurora_readers == 0:
        allowed = "must be >= 1 when environment is prod with aurora-postgresql "
        allowed += "(a reader in another AZ to fail over to)"
        found.append(fail("database.auroraReaders", 0, allowed))
    return found


def prod_backups_leave_the_region(settings: StackSettings, dr: DisasterRecoveryConfig) -> list[str]:
    if settings.environment == "prod" and dr.region is None:
        allowed = "must be set when environment is prod (database backups copied to a second region)"
        return [fail("dr.region", "", allowed)]
    return []


def prod_serves_https(settings: StackSettings, alb: AlbConfig) -> list[str]:
    if settings.environment == "prod" and not alb.https:
        allowed = "prod must serve HTTPS: set alb.certificateArn, or alb.domainName with alb.hostedZoneId"
        return [fail("alb.certificateArn", "", allowed)]
    return []


def prod_cache_fails_over(settings: StackSettings, cache: CacheConfig) -> list[str]:
    if settings.environment == "prod" and cache.replicas_per_shard < 1:
        allowed = "must be >= 1 when environment is prod (automatic failover needs a replica)"
        return [fail("cache.replicasPerShard", cache.replicas_per_shard, allowed)]
    return []
