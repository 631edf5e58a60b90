"""Typed, validated stack configuration.

`load_config()` reads every `flashsale:*` key once, checks all of them before any resource is
registered, and raises one `ConfigError` listing every problem with its full key, the value and
what is allowed. Defaults live in Pulumi.yaml only (the engine applies them); this module knows
each key's type and rules. Components never read pulumi.Config: they receive these dataclasses.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from difflib import get_close_matches
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import boto3

NAMESPACE = "flashsale"

ENVIRONMENTS = ("dev", "staging", "prod")
NAT_STRATEGIES = ("Single", "OnePerAz", "None")
DATABASE_ENGINES = ("postgres", "aurora-postgresql")
CACHE_ENGINES = ("redis", "valkey")
DEPLOY_STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")
SERVICE_KINDS = ("web", "worker")
# The image's long-running commands (docs/runtime-contract.md), by the kind of service that runs them.
SERVICE_COMMANDS = {"web": "serve", "worker": "relay"}
IMAGE_PLATFORMS = ("linux/arm64", "linux/amd64")
MSK_TOPIC_API_VERSION = (3, 6)
MSK_MONITORING = ("DEFAULT", "PER_BROKER", "PER_TOPIC_PER_BROKER", "PER_TOPIC_PER_PARTITION")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Fargate task sizes: memory (MiB) allowed for each CPU (units).
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
# Replicated automated backups (the DBInstanceAutomatedBackupsArn), e.g.
# arn:aws:rds:us-east-1:123456789012:auto-backup:ab-L2IJCEXJP7XQ7HOJ4SIEXAMPLE (RDS API reference,
# RestoreDBInstanceToPointInTime SourceDBInstanceAutomatedBackupsArn).
_AUTO_BACKUP_ARN = re.compile(r"^arn:aws[a-z-]*:rds:(?P<region>[a-z0-9-]+):\d{12}:auto-backup:ab-[A-Za-z0-9]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[0-9a-f-]+$")
# An ALB path pattern: * matches any characters, ? exactly one; case-sensitive, at most 128 characters
# (ELB API reference, PathPatternConditionConfig).
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9/_*?.-]{0,127}$")
# One listener rule's conditions take at most 5 values and 5 wildcards in all; neither adjustable (ELB quotas,
# "Condition values per rule", "Condition wildcards per rule": docs.aws.amazon.com/elasticloadbalancing/latest/
# application/load-balancer-limits.html). botocore's elbv2 model states no bound on the list.
MAX_RULE_PATH_PATTERNS = 5
MAX_RULE_WILDCARDS = 5
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")


class ConfigError(Exception):
    """Every problem of a stack's configuration, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class NetworkConfig:
    cidr: str
    az_count: int
    nat_strategy: str
    interface_endpoints: bool
    flow_log_retention_days: int
    alb_ingress_cidrs: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseConfig:
    engine: str
    engine_version: str
    instance_class: str
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    multi_az: bool
    aurora_min_acu: float
    aurora_max_acu: float
    aurora_readers: int
    backup_retention_days: int
    proxy: bool
    name: str
    username: str
    slow_statement_ms: int
    performance_insights_retention_days: int


@dataclass(frozen=True)
class DisasterRecoveryConfig:
    region: str | None  # None: backups stay in the stack's region
    backup_retention_days: int
    # A recovery stack only: the replicated automated backups to restore the database from, and the key
    # they are encrypted with (the restored instance keeps that key). Both None in normal operation.
    restore_from_backup_arn: str | None
    restore_kms_key_arn: str | None


@dataclass(frozen=True)
class CacheConfig:
    engine: str
    engine_version: str
    node_type: str
    cluster_mode: bool
    shards: int
    replicas_per_shard: int
    snapshot_retention_days: int
    # AUTH token rotation (components/cache.py): generation N is the current token; finalized N-1 means
    # the previous one is still valid (ROTATE), finalized N that it has been dropped (SET).
    auth_token_generation: int
    auth_token_finalized_generation: int


@dataclass(frozen=True)
class TopicConfig:
    name: str
    partitions: int
    retention_hours: int


@dataclass(frozen=True)
class KafkaConfig:
    version: str
    instance_type: str
    brokers_per_az: int
    volume_size_gb: int
    max_volume_size_gb: int
    log_retention_hours: int
    enhanced_monitoring: str
    topics: tuple[TopicConfig, ...]


@dataclass(frozen=True)
class ImageConfig:
    platform: str
    keep_last: int

    @property
    def cpu_architecture(self) -> str:
        return "ARM64" if self.platform == "linux/arm64" else "X86_64"


@dataclass(frozen=True)
class CapacityConfig:
    on_demand_base: int
    on_demand_weight: int
    spot_weight: int


@dataclass(frozen=True)
class AlbConfig:
    certificate_arn: str | None
    access_logs: bool
    reserved_capacity_units: int
    test_listener_cidrs: tuple[str, ...]
    domain_name: str | None
    hosted_zone_id: str | None

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn or self.domain_name)


@dataclass(frozen=True)
class WafConfig:
    rate_limit_per_5min: int  # per buyer (bearer token)
    ip_rate_limit_per_5min: int  # per client IP, which many buyers may share
    managed_common_rules: bool


# How long `pulumi up` may wait for one ECS deployment (wait_for_steady_state): starting and health-
# checking the green fleet takes up to the provider's default 20 minutes; traffic shifts and bakes add to it.
DEPLOY_START_MINUTES = 20
# Longer than this, `pulumi up` holds the stack's lock (and the CI job) for hours: use fewer, longer steps.
MAX_DEPLOY_MINUTES = 180


@dataclass(frozen=True)
class DeployConfig:
    strategy: str
    bake_time_minutes: int
    canary_percent: float
    linear_step_percent: float
    allow_during_sale: bool  # lifts the deploy freeze for one run (components/deploy_freeze.py)

    def shift_minutes(self, strategy: str) -> int:
        """Traffic shifting and baking of one deployment: CANARY bakes the canary then the whole; LINEAR
        bakes after each of its ceil(100 / step) steps and once more at the end (an upper bound)."""
        bake = self.bake_time_minutes
        if strategy == "CANARY":
            return 2 * bake
        if strategy == "LINEAR":
            return (math.ceil(100 / self.linear_step_percent) + 1) * bake
        return bake

    def timeout_minutes(self, strategy: str) -> int:
        """The ECS service's create/update timeout for `strategy`."""
        return DEPLOY_START_MINUTES + self.shift_minutes(strategy)


@dataclass(frozen=True)
class AutoscalingConfig:
    cpu_target_percent: int
    memory_target_percent: int
    requests_per_target: int
    scale_out_cooldown_seconds: int
    scale_in_cooldown_seconds: int


@dataclass(frozen=True)
class AlarmsConfig:
    emails: tuple[str, ...]
    p99_latency_ms: int
    http_5xx_percent: float
    database_connections: int
    dependency_failure_percent: float  # sale alarm: share of reservation attempts answered 503
    relay_lag_seconds: int  # sale alarm: age of the oldest unpublished outbox row


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    kind: str
    command: tuple[str, ...]
    cpu: int
    memory: int
    min_tasks: int
    max_tasks: int
    port: int
    paths: tuple[str, ...]  # web: the ALB path patterns forwarded to it (its public routes only); worker: ()
    listener_priority: int | None
    health_check_path: str

    @property
    def is_web(self) -> bool:
        return self.kind == "web"


@dataclass(frozen=True)
class SaleWindow:
    name: str
    start: datetime
    end: datetime
    timezone: str
    min_tasks: int
    lead_minutes: int
    services: tuple[str, ...]

    @property
    def scale_up_at(self) -> datetime:
        return self.start - timedelta(minutes=self.lead_minutes)

    def _local(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=ZoneInfo(self.timezone))

    def has_ended(self, now: datetime) -> bool:
        return self._local(self.end) <= now

    def floor_is_up(self, now: datetime) -> bool:
        """The lead time has started and the sale has not ended: the raised floor applies now."""
        return self._local(self.scale_up_at) <= now < self._local(self.end)


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    environment: str
    region: str
    protect_data: bool
    log_retention_days: int
    jwt_key_generation: int  # raise by one to rotate the API's signing key (components/jwt_key.py)
    network: NetworkConfig
    database: DatabaseConfig
    disaster_recovery: DisasterRecoveryConfig
    cache: CacheConfig
    kafka: KafkaConfig
    image: ImageConfig
    capacity: CapacityConfig
    alb: AlbConfig
    waf: WafConfig
    deploy: DeployConfig
    autoscaling: AutoscalingConfig
    alarms: AlarmsConfig
    services: tuple[ServiceConfig, ...]
    sale_windows: tuple[SaleWindow, ...]  # those not yet ended at evaluated_at: the ones deployed
    ended_sale_windows: tuple[SaleWindow, ...]  # configured but over: not deployed, the plan warns
    evaluated_at: datetime  # the deploy's clock (UTC): which windows ended, which floors are up now

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def broker_count(self) -> int:
        return self.network.az_count * self.kafka.brokers_per_az

    @property
    def web_services(self) -> tuple[ServiceConfig, ...]:
        return tuple(s for s in self.services if s.is_web)

    @property
    def tags(self) -> dict[str, str]:
        return {"project": self.project, "environment": self.environment, "stack": self.stack, "managed-by": "pulumi"}


# --------------------------------------------------------------------------------------------
# Reading raw values: every reader records a problem instead of raising, so one run reports all.

T = TypeVar("T")
_INVALID: Any = object()


class _Reader:
    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.problems: list[str] = []
        self.read: set[str] = set()

    def fail(self, key: str, value: Any, allowed: str) -> None:
        shown = json.dumps(value) if not isinstance(value, str) else repr(value)
        self.problems.append(f"{NAMESPACE}:{key} = {shown}: {allowed}")

    def _value(self, key: str) -> Any:
        self.read.add(key)
        if key not in self.raw:
            self.problems.append(f"{NAMESPACE}:{key} is missing: it is declared in Pulumi.yaml with a default")
            return _INVALID
        return self.raw[key]

    def _typed(self, key: str, convert: Callable[[Any], T], kind: str) -> T:
        value = self._value(key)
        if value is _INVALID:
            return _INVALID
        try:
            return convert(value)
        except (TypeError, ValueError):
            self.fail(key, value, f"must be {kind}")
            return _INVALID

    def integer(self, key: str, low: int | None = None, high: int | None = None) -> int:
        value = self._typed(key, _to_int, "an integer")
        return self.check_range(key, value, low, high)

    def number(self, key: str, low: float | None = None, high: float | None = None) -> float:
        value = self._typed(key, _to_float, "a number")
        return self.check_range(key, value, low, high)

    def check_range(self, key: str, value: Any, low: float | None, high: float | None) -> Any:
        if value is _INVALID:
            return value
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"between {low} and {high}"
                if low is not None and high is not None
                else (f">= {low}" if low is not None else f"<= {high}")
            )
            self.fail(key, value, f"must be {bounds}")
            return _INVALID
        return value

    def boolean(self, key: str) -> bool:
        return self._typed(key, _to_bool, "true or false")

    def string(self, key: str, pattern: re.Pattern[str] | None = None, allowed: str = "") -> str:
        value = self._typed(key, _to_str, "a string")
        if value is not _INVALID and pattern is not None and not pattern.match(value):
            self.fail(key, value, allowed)
            return _INVALID
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self._typed(key, _to_str, "a string")
        if value is not _INVALID and value not in options:
            self.fail(key, value, f"must be one of {', '.join(options)}")
            return _INVALID
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        return self._typed(key, _to_str_list, "a list of strings")

    def object_list(self, key: str) -> list[dict[str, Any]]:
        return self._typed(key, _to_object_list, "a list of objects")


def _decode(value: Any) -> Any:
    # The engine hands structured values to the program as JSON strings.
    if isinstance(value, str):
        return json.loads(value)
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    if isinstance(value, str) and not re.fullmatch(r"-?\d+", value.strip()):
        raise ValueError(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(value)


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _to_str_list(value: Any) -> tuple[str, ...]:
    items = _decode(value)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise TypeError(value)
    return tuple(items)


def _to_object_list(value: Any) -> list[dict[str, Any]]:
    items = _decode(value)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TypeError(value)
    return items


class _Item:
    """Reads the fields of one object in a list, e.g. `flashsale:services[1].cpu`."""

    def __init__(self, reader: _Reader, key: str, data: dict[str, Any], fields: dict[str, Any]):
        self.reader, self.key, self.data = reader, key, data
        unknown = sorted(set(data) - set(fields))
        for name in unknown:
            hint = get_close_matches(name, fields, n=1)
            reader.fail(
                f"{key}.{name}",
                data[name],
                "unknown field" + (f" (did you mean {hint[0]}?)" if hint else f"; allowed fields: {', '.join(fields)}"),
            )
        self.defaults = fields

    def get(self, name: str, convert: Callable[[Any], T], kind: str) -> T:
        if name in self.data:
            value = self.data[name]
        elif self.defaults[name] is not _REQUIRED:
            return self.defaults[name]
        else:
            self.reader.problems.append(f"{NAMESPACE}:{self.key}.{name} is missing: it is required")
            return _INVALID
        try:
            return convert(value)
        except (TypeError, ValueError):
            self.reader.fail(f"{self.key}.{name}", value, f"must be {kind}")
            return _INVALID

    def integer(self, name: str, low: int | None = None, high: int | None = None) -> int:
        return self.reader.check_range(f"{self.key}.{name}", self.get(name, _to_int, "an integer"), low, high)

    def number(self, name: str, low: float | None = None, high: float | None = None) -> float:
        return self.reader.check_range(f"{self.key}.{name}", self.get(name, _to_float, "a number"), low, high)

    def string(self, name: str, pattern: re.Pattern[str] | None = None, allowed: str = "") -> str:
        value = self.get(name, _to_str, "a string")
        if value is not _INVALID and value is not None and pattern is not None and not pattern.match(value):
            self.reader.fail(f"{self.key}.{name}", value, allowed)
            return _INVALID
        return value

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.get(name, _to_str, "a string")
        if value is not _INVALID and value not in options:
            self.reader.fail(f"{self.key}.{name}", value, f"must be one of {', '.join(options)}")
            return _INVALID
        return value

    def string_list(self, name: str) -> tuple[str, ...]:
        return self.get(name, _to_str_list, "a list of strings")


_REQUIRED: Any = object()


# --------------------------------------------------------------------------------------------
# Sections


def _network(r: _Reader) -> NetworkConfig:
    cidr = r.string("network.cidr")
    if cidr is not _INVALID:
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
            if not 16 <= net.prefixlen <= 20 or not net.is_private:
                r.fail("network.cidr", cidr, "must be a private IPv4 block from /16 to /20")
                cidr = _INVALID
        except ValueError:
            r.fail("network.cidr", cidr, "must be an IPv4 CIDR block such as 10.0.0.0/16")
            cidr = _INVALID
    ingress = r.string_list("network.albIngressCidrs")
    if ingress is not _INVALID:
        if not ingress:
            r.fail("network.albIngressCidrs", list(ingress), "must list at least one CIDR block")
        for block in ingress:
            try:
                ipaddress.ip_network(block, strict=True)
            except ValueError:
                r.fail("network.albIngressCidrs", block, "each entry must be a CIDR block such as 0.0.0.0/0")
    nat = r.choice("network.natStrategy", NAT_STRATEGIES)
    endpoints = r.boolean("network.interfaceEndpoints")
    if nat == "None" and endpoints is False:
        r.fail(
            "network.natStrategy",
            nat,
            "None needs network.interfaceEndpoints = true "
            "(tasks in private subnets must reach ECR, Logs and Secrets Manager somehow)",
        )
    return NetworkConfig(
        cidr=cidr,
        az_count=r.integer("network.azCount", 2, 3),
        nat_strategy=nat,
        interface_endpoints=endpoints,
        flow_log_retention_days=_retention(r, "network.flowLogRetentionDays"),
        alb_ingress_cidrs=ingress,
    )


def _retention(r: _Reader, key: str) -> int:
    days = r.integer(key)
    if days is not _INVALID and days not in LOG_RETENTION_DAYS:
        r.fail(key, days, f"must be a CloudWatch Logs retention: {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return _INVALID
    return days


def _disaster_recovery(r: _Reader, region: str | None) -> DisasterRecoveryConfig:
    # botocore's endpoint data lists the regions RDS runs in: a typo fails here, not at `pulumi up`.
    rds_regions = boto3.session.Session().get_available_regions("rds")
    dr_region = r.string("dr.region")
    if dr_region not in (_INVALID, "") and dr_region not in rds_regions:
        r.fail("dr.region", dr_region, "must be empty or an AWS region where RDS runs, such as eu-central-1")
    elif dr_region not in (_INVALID, "") and dr_region == region:
        r.fail("dr.region", dr_region, f"must differ from aws:region ({region}): a copy in the same region is no DR")
    restore = {}
    for key, pattern, what in (
        (
            "dr.restoreFromBackupArn",
            _AUTO_BACKUP_ARN,
            "replicated backups (arn:aws:rds:...:auto-backup:ab-...)",
        ),
        ("dr.restoreKmsKeyArn", _KMS_KEY_ARN, "KMS key ARN (arn:aws:kms:...:key/...)"),
    ):
        value = r.string(key)
        match = pattern.match(value) if value not in (_INVALID, "") else None
        if value not in (_INVALID, "") and (match is None or match["region"] != region):
            r.fail(key, value, f"must be empty or the ARN of {what} in aws:region ({region})")
        restore[key] = value if value not in (_INVALID, "") else None
    backup_arn, key_arn = restore["dr.restoreFromBackupArn"], restore["dr.restoreKmsKeyArn"]
    if (backup_arn is None) != (key_arn is None):
        missing = "dr.restoreKmsKeyArn" if key_arn is None else "dr.restoreFromBackupArn"
        r.fail(missing, "", "must be set with the other dr.restore* key (the backups and their key)")
    return DisasterRecoveryConfig(
        region=dr_region or None,
        backup_retention_days=r.integer("dr.backupRetentionDays", 1, 35),
        restore_from_backup_arn=backup_arn,
        restore_kms_key_arn=key_arn,
    )


def _database(r: _Reader) -> DatabaseConfig:
    engine = r.choice("database.engine", DATABASE_ENGINES)
    version = r.string(
        "database.engineVersion",
        re.compile(r"^1[6-9](\.\d+)?$"),
        "must be a PostgreSQL major version (16 or later, e.g. 16) or major.minor (e.g. 16.11)",
    )
    min_acu = r.number("database.auroraMinAcu", 0, 256)
    max_acu = r.number("database.auroraMaxAcu", 1, 256)
    if min_acu is not _INVALID and max_acu is not _INVALID and max_acu < min_acu:
        r.fail("database.auroraMaxAcu", max_acu, f"must be >= database.auroraMinAcu ({min_acu})")
    storage = r.integer("database.allocatedStorageGb", 20, 65536)
    max_storage = r.integer("database.maxAllocatedStorageGb", 20, 65536)
    if storage is not _INVALID and max_storage is not _INVALID and max_storage <= storage:
        r.fail(
            "database.maxAllocatedStorageGb",
            max_storage,
            f"must be > database.allocatedStorageGb ({storage}) for storage autoscaling",
        )
    return DatabaseConfig(
        engine=engine,
        engine_version=version,
        instance_class=r.string(
            "database.instanceClass",
            re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$"),
            "must be an RDS instance class such as db.t4g.micro",
        ),
        allocated_storage_gb=storage,
        max_allocated_storage_gb=max_storage,
        multi_az=r.boolean("database.multiAz"),
        aurora_min_acu=min_acu,
        aurora_max_acu=max_acu,
        aurora_readers=r.integer("database.auroraReaders", 0, 15),
        backup_retention_days=r.integer("database.backupRetentionDays", 1, 35),
        proxy=r.boolean("database.proxy"),
        name=r.string(
            "database.name",
            re.compile(r"^[a-z][a-z0-9_]{0,62}$"),
            "must be a lowercase PostgreSQL identifier",
        ),
        username=r.string(
            "database.username",
            re.compile(r"^[a-z][a-z0-9_]{0,15}$"),
            "must be a lowercase identifier of at most 16 characters, not 'postgres'",
        ),
        slow_statement_ms=r.integer("database.slowStatementMs", 10, 60000),
        performance_insights_retention_days=_insights_retention(r),
    )


def _insights_retention(r: _Reader) -> int:
    days = r.integer("database.performanceInsightsRetentionDays", 7, 731)
    # Performance Insights keeps 7 days (free), 731, or whole months of 31 days.
    if days is not _INVALID and days not in (7, 731) and days % 31:
        r.fail("database.performanceInsightsRetentionDays", days, "must be 7, 731 or a multiple of 31")
        return _INVALID
    return days


def _cache(r: _Reader) -> CacheConfig:
    cluster_mode = r.boolean("cache.clusterMode")
    shards = r.integer("cache.shards", 1, 500)
    replicas = r.integer("cache.replicasPerShard", 0, 5)
    if cluster_mode is False and shards not in (_INVALID, 1):
        r.fail("cache.shards", shards, "must be 1 when cache.clusterMode is false")
    engine = r.choice("cache.engine", CACHE_ENGINES)
    version = r.string(
        "cache.engineVersion",
        re.compile(r"^[78](\.\d+)?$"),
        "must be a Redis/Valkey 7 or 8 version such as 7.1",
    )
    # The parameter group family follows engine and major version: ElastiCache has redis7, valkey7, valkey8.
    if engine == "redis" and version is not _INVALID and not version.startswith("7"):
        r.fail("cache.engineVersion", version, "must be 7.x for engine redis (ElastiCache Redis OSS ends at 7.1)")
    if engine == "valkey" and version is not _INVALID and not re.match(r"^(7\.2|8(\.\d+)?)$", version):
        r.fail("cache.engineVersion", version, "must be 7.2 or 8.x for engine valkey")
    return CacheConfig(
        engine=engine,
        engine_version=version,
        node_type=r.string(
            "cache.nodeType",
            re.compile(r"^cache\.[a-z0-9]+\.[a-z0-9]+$"),
            "must be an ElastiCache node type such as cache.t4g.micro",
        ),
        cluster_mode=cluster_mode,
        shards=shards,
        replicas_per_shard=replicas,
        snapshot_retention_days=r.integer("cache.snapshotRetentionDays", 0, 35),
        **_auth_token_generations(r),
    )


def _auth_token_generations(r: _Reader) -> dict[str, int]:
    generation = r.integer("cache.authTokenGeneration", 0, 1_000_000)
    finalized = r.integer("cache.authTokenFinalizedGeneration", 0, 1_000_000)
    # ElastiCache holds at most two tokens: the current one and, after ROTATE, the one before it.
    # docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html (Modifying the AUTH token on an existing cluster)
    if _INVALID not in (generation, finalized) and not generation - 1 <= finalized <= generation:
        r.fail(
            "cache.authTokenFinalizedGeneration",
            finalized,
            f"must be {generation} (previous token dropped) or {generation - 1} (old and new token both valid) "
            f"with cache.authTokenGeneration {generation}: finish one rotation before starting the next",
        )
    return {"auth_token_generation": generation, "auth_token_finalized_generation": finalized}


def _kafka(r: _Reader, az_count: int) -> KafkaConfig:
    topics: list[TopicConfig] = []
    raw_topics = r.object_list("kafka.topics")
    if raw_topics is not _INVALID:
        if not raw_topics:
            r.fail("kafka.topics", [], "must declare the platform's topics")
        for i, data in enumerate(raw_topics):
            item = _Item(r, f"kafka.topics[{i}]", data, {"name": _REQUIRED, "partitions": 6, "retentionHours": 168})
            topics.append(
                TopicConfig(
                    name=item.string("name", _TOPIC, "must be a Kafka topic name (letters, digits, . _ -)"),
                    partitions=item.integer("partitions", 1, 1000),
                    retention_hours=item.integer("retentionHours", 1, 87600),
                )
            )
        names = [t.name for t in topics]
        for name in sorted({n for n in names if names.count(n) > 1}):
            r.fail("kafka.topics", name, "topic names must be unique")
    brokers_per_az = r.integer("kafka.brokersPerAz", 1, 10)
    size = r.integer("kafka.volumeSizeGb", 1, 16384)
    max_size = r.integer("kafka.maxVolumeSizeGb", 1, 16384)
    if size is not _INVALID and max_size is not _INVALID and max_size <= size:
        r.fail(
            "kafka.maxVolumeSizeGb",
            max_size,
            f"must be > kafka.volumeSizeGb ({size}) for storage autoscaling",
        )
    version = r.string(
        "kafka.version",
        re.compile(r"^[34]\.\d+\.(\d+|x)(\.kraft)?$"),
        "must be an MSK Kafka version such as 3.8.x",
    )
    if version is not _INVALID and tuple(int(p) for p in version.split(".")[:2]) < MSK_TOPIC_API_VERSION:
        # The topics are aws.msk.Topic, i.e. MSK's topic APIs, which need Kafka 3.6.0 or later:
        # docs.aws.amazon.com/msk/latest/developerguide/msk-topic-operations-information.html
        r.fail("kafka.version", version, "must be 3.6 or later: the topics are created through MSK's topic API")
    return KafkaConfig(
        version=version,
        instance_type=r.string(
            "kafka.instanceType",
            re.compile(r"^(kafka|express)\.[a-z0-9]+\.[a-z0-9]+$"),
            "must be an MSK broker type such as kafka.m7g.large",
        ),
        brokers_per_az=brokers_per_az,
        volume_size_gb=size,
        max_volume_size_gb=max_size,
        log_retention_hours=r.integer("kafka.logRetentionHours", 1, 87600),
        enhanced_monitoring=r.choice("kafka.enhancedMonitoring", MSK_MONITORING),
        topics=tuple(topics),
    )


def _path_patterns(r: _Reader, key: str, paths: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A web service's path patterns: they all go into one listener rule (and its twin on the test listener)."""
    if paths is None or paths is _INVALID:
        return paths
    if not 1 <= len(paths) <= MAX_RULE_PATH_PATTERNS:
        r.fail(key, list(paths), f"must list 1 to {MAX_RULE_PATH_PATTERNS} path patterns (one ALB rule's limit)")
        return _INVALID
    bad = [p for p in paths if not _PATH_PATTERN.match(p)]
    allowed = (
        "must be an ALB path pattern: /, then letters, digits, / _ . - or the wildcards * ?; at most 128 characters"
    )
    for pattern in bad:
        r.fail(key, pattern, allowed)
    wildcards = sum(p.count("*") + p.count("?") for p in paths)
    if wildcards > MAX_RULE_WILDCARDS:
        r.fail(key, list(paths), f"has {wildcards} wildcards; one ALB rule allows {MAX_RULE_WILDCARDS}")
        return _INVALID
    return _INVALID if bad else paths


def _services(r: _Reader) -> tuple[ServiceConfig, ...]:
    raw = r.object_list("services")
    if raw is _INVALID:
        return ()
    if not raw:
        r.fail("services", [], "must declare at least one service")
    services: list[ServiceConfig] = []
    for i, data in enumerate(raw):
        key = f"services[{i}]"
        item = _Item(
            r,
            key,
            data,
            {
                "name": _REQUIRED,
                "kind": _REQUIRED,
                "command": _REQUIRED,
                "cpu": 512,
                "memory": 1024,
                "minTasks": 1,
                "maxTasks": 4,
                "port": 8000,
                "paths": None,
                "listenerPriority": None,
                "healthCheckPath": "/health/live",
            },
        )
        kind = item.choice("kind", SERVICE_KINDS)
        cpu = item.integer("cpu")
        memory = item.integer("memory")
        if cpu is not _INVALID and cpu not in FARGATE_MEMORY:
            r.fail(f"{key}.cpu", cpu, f"must be a Fargate CPU size: {', '.join(map(str, FARGATE_MEMORY))}")
        elif cpu is not _INVALID and memory is not _INVALID and memory not in FARGATE_MEMORY[cpu]:
            allowed = FARGATE_MEMORY[cpu]
            r.fail(
                f"{key}.memory",
                memory,
                f"must be one of {allowed[0]}..{allowed[-1]} MiB (step {allowed[1] - allowed[0]}) for cpu {cpu}",
            )
        min_tasks = item.integer("minTasks", 0, 1000)
        max_tasks = item.integer("maxTasks", 1, 1000)
        if min_tasks is not _INVALID and max_tasks is not _INVALID and max_tasks < min_tasks:
            r.fail(f"{key}.maxTasks", max_tasks, f"must be >= minTasks ({min_tasks})")
        paths = _path_patterns(r, f"{key}.paths", item.string_list("paths"))
        priority = item.integer("listenerPriority", 1, 50000) if data.get("listenerPriority") is not None else None
        if kind == "web" and paths is None:
            r.problems.append(
                f"{NAMESPACE}:{key}.paths is missing: a web service lists the path patterns the ALB forwards to it"
            )
        if kind == "web" and priority is None:
            r.problems.append(f"{NAMESPACE}:{key}.listenerPriority is missing: a web service needs a rule priority")
        if kind == "worker" and (paths is not None or priority is not None):
            r.fail(f"{key}.kind", kind, "a worker takes no paths or listenerPriority (it gets no load balancer)")
        command = item.string_list("command")
        if command is not _INVALID and not command:
            r.fail(f"{key}.command", [], "must name the image command, e.g. [serve]")
        elif command is not _INVALID and kind in SERVICE_COMMANDS and command[0] != SERVICE_COMMANDS[kind]:
            r.fail(
                f"{key}.command",
                list(command),
                f"a {kind} service runs [{SERVICE_COMMANDS[kind]}, ...] "
                "(the image's commands: docs/runtime-contract.md)",
            )
        services.append(
            ServiceConfig(
                name=item.string("name", _NAME, "must be lowercase letters, digits and '-', at most 24 characters"),
                kind=kind,
                command=command,
                cpu=cpu,
                memory=memory,
                min_tasks=min_tasks,
                max_tasks=max_tasks,
                port=item.integer("port", 1024, 65535),
                paths=paths or (),
                listener_priority=priority,
                health_check_path=item.string("healthCheckPath", re.compile(r"^/"), "must start with /"),
            )
        )
    for field, values in (
        ("name", [s.name for s in services]),
        ("listenerPriority", [s.listener_priority for s in services if s.is_web]),
        ("paths", [p for s in services if s.is_web and s.paths is not _INVALID for p in s.paths]),
    ):
        for dup in sorted({v for v in values if values.count(v) > 1 and v is not _INVALID}, key=str):
            r.fail(f"services[].{field}", dup, f"each service's {field} must be unique")
    return tuple(services)


def _sale_windows(r: _Reader, services: tuple[ServiceConfig, ...]) -> tuple[SaleWindow, ...]:
    raw = r.object_list("saleWindows")
    if raw is _INVALID:
        return ()
    by_name = {s.name: s for s in services}
    windows: list[SaleWindow] = []
    for i, data in enumerate(raw):
        key = f"saleWindows[{i}]"
        item = _Item(
            r,
            key,
            data,
            {
                "name": _REQUIRED,
                "start": _REQUIRED,
                "end": _REQUIRED,
                "timezone": "UTC",
                "minTasks": _REQUIRED,
                "leadMinutes": 15,
                "services": None,
            },
        )
        tz = item.string("timezone")
        if tz is not _INVALID:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                r.fail(f"{key}.timezone", tz, "must be an IANA time zone such as Europe/Berlin")
                tz = _INVALID
        start, end = (
            item.get(f, _to_local_datetime, "a local time such as 2026-12-01T10:00") for f in ("start", "end")
        )
        if start is not _INVALID and end is not _INVALID and end <= start:
            r.fail(f"{key}.end", data.get("end"), f"must be after start ({data.get('start')})")
        named = item.string_list("services")
        targets = tuple(s.name for s in services if s.is_web and s.name is not _INVALID) if named is None else named
        min_tasks = item.integer("minTasks", 1, 1000)
        if named is not _INVALID and named is not None:
            for name in named:
                if name not in by_name:
                    r.fail(f"{key}.services", name, f"must name declared services: {', '.join(by_name)}")
        if min_tasks is not _INVALID and targets is not _INVALID:
            for name in targets:
                svc = by_name.get(name)
                if svc and svc.max_tasks is not _INVALID and min_tasks > svc.max_tasks:
                    r.fail(
                        f"{key}.minTasks",
                        min_tasks,
                        f"must be <= maxTasks of service {name} ({svc.max_tasks})",
                    )
                if svc and svc.min_tasks is not _INVALID and min_tasks < svc.min_tasks:
                    # The window raises the floor: below the service's own it would lower it for the sale.
                    r.fail(
                        f"{key}.minTasks",
                        min_tasks,
                        f"must be >= minTasks of service {name} ({svc.min_tasks}): a window raises the floor",
                    )
        windows.append(
            SaleWindow(
                name=item.string("name", _NAME, "must be lowercase letters, digits and '-', at most 24 characters"),
                start=start,
                end=end,
                timezone=tz,
                min_tasks=min_tasks,
                lead_minutes=item.integer("leadMinutes", 0, 720),
                services=targets,
            )
        )
    _overlapping_windows(r, windows)
    return tuple(windows)


def _overlapping_windows(r: _Reader, windows: list[SaleWindow]) -> None:
    # Each window's end restores the service's own floor: an overlapping window would lose its raised floor.
    def span(w: SaleWindow) -> tuple[datetime, datetime]:
        zone = ZoneInfo(w.timezone)
        return w.scale_up_at.replace(tzinfo=zone), w.end.replace(tzinfo=zone)

    valid = [
        w
        for w in windows
        if _INVALID not in (w.start, w.end, w.timezone, w.lead_minutes, w.services) and w.end > w.start
    ]
    for i, a in enumerate(valid):
        for b in valid[i + 1 :]:
            shared = sorted(set(a.services) & set(b.services))
            (a_up, a_end), (b_up, b_end) = span(a), span(b)
            if shared and a_up < b_end and b_up < a_end:
                r.fail(
                    "saleWindows",
                    [a.name, b.name],
                    f"windows overlap (lead time included) for {', '.join(shared)}; merge them or move one",
                )


def _to_local_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(value)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        raise ValueError("the window's timezone field carries the zone")
    return parsed.replace(second=0, microsecond=0)


def _waf(r: _Reader) -> WafConfig:
    # WAF's RateLimit range (botocore wafv2 model: min 10, max 2,000,000,000).
    per_buyer = r.integer("waf.rateLimitPer5Min", 10, 2_000_000_000)
    per_ip = r.integer("waf.ipRateLimitPer5Min", 10, 2_000_000_000)
    if _INVALID not in (per_buyer, per_ip) and per_ip < per_buyer:
        r.fail(
            "waf.ipRateLimitPer5Min",
            per_ip,
            f"must be >= waf.rateLimitPer5Min ({per_buyer}): one IP can carry many buyers (carrier NAT)",
        )
    return WafConfig(
        rate_limit_per_5min=per_buyer,
        ip_rate_limit_per_5min=per_ip,
        managed_common_rules=r.boolean("waf.managedCommonRules"),
    )


def _deploy(r: _Reader, strategy: str) -> DeployConfig:
    deploy = DeployConfig(
        strategy=strategy,
        bake_time_minutes=r.integer("deploy.bakeTimeMinutes", 0, 1440),
        canary_percent=r.number("deploy.canaryPercent", 0.1, 100),
        linear_step_percent=r.number("deploy.linearStepPercent", 3, 100),
        allow_during_sale=r.boolean("deploy.allowDuringSale"),
    )
    # ECS takes both percentages in steps of 0.1 (botocore ecs model: CanaryConfiguration, LinearConfiguration).
    for key, value in (
        ("deploy.canaryPercent", deploy.canary_percent),
        ("deploy.linearStepPercent", deploy.linear_step_percent),
    ):
        if value is not _INVALID and abs(value * 10 - round(value * 10)) > 1e-9:
            r.fail(key, value, "must be a multiple of 0.1 (ECS shifts traffic in tenths of a percent)")
    if _INVALID in (strategy, deploy.bake_time_minutes, deploy.linear_step_percent):
        return deploy
    minutes = deploy.timeout_minutes(strategy)
    if minutes > MAX_DEPLOY_MINUTES:
        keys = "deploy.bakeTimeMinutes" + (" and deploy.linearStepPercent" if strategy == "LINEAR" else "")
        r.fail(
            "deploy.strategy",
            strategy,
            f"with deploy.bakeTimeMinutes = {deploy.bake_time_minutes}"
            + (f" and deploy.linearStepPercent = {deploy.linear_step_percent:g}" if strategy == "LINEAR" else "")
            + f" one deployment takes up to {minutes} minutes, longer than `pulumi up` may wait "
            f"({MAX_DEPLOY_MINUTES}); lower {keys}",
        )
    return deploy


def _alarms(r: _Reader) -> AlarmsConfig:
    emails = r.string_list("alarms.emails")
    if emails is not _INVALID:
        for email in emails:
            if not _EMAIL.match(email):
                r.fail("alarms.emails", email, "each entry must be an email address")
    return AlarmsConfig(
        emails=emails,
        p99_latency_ms=r.integer("alarms.p99LatencyMs", 10, 60000),
        http_5xx_percent=r.number("alarms.http5xxPercent", 0.01, 100),
        database_connections=r.integer("alarms.databaseConnections", 1, 100000),
        dependency_failure_percent=r.number("alarms.dependencyFailurePercent", 0.01, 100),
        relay_lag_seconds=r.integer("alarms.relayLagSeconds", 10, 86400),
    )


# --------------------------------------------------------------------------------------------


def utc_now() -> datetime:
    """The deploy's clock. parse_config takes `now` instead, so tests never depend on today's date."""
    return datetime.now(UTC)


def parse_config(
    raw: Mapping[str, Any], *, project: str, stack: str, region: str | None, now: datetime | None = None
) -> StackConfig:
    """Validate raw `flashsale:*` values (keys without the namespace) into a StackConfig, as of `now`
    (default: utc_now()), which decides the sale windows that have ended."""
    now = now or utc_now()
    r = _Reader(raw)
    if not region:
        r.problems.append("aws:region is missing: set it in the stack file, e.g. aws:region: eu-west-1")
    network = _network(r)
    services = _services(r)
    cert = r.string("alb.certificateArn")
    if cert not in (_INVALID, "") and not _ACM_ARN.match(cert):
        r.fail("alb.certificateArn", cert, "must be empty (HTTP only) or an ACM certificate ARN")
    domain = r.string(
        "alb.domainName", re.compile(f"^$|{_DOMAIN.pattern}"), "must be empty or a DNS name such as shop.example.com"
    )
    zone = r.string(
        "alb.hostedZoneId", re.compile(f"^$|{_ZONE_ID.pattern}"), "must be empty or a Route 53 zone id (Z...)"
    )
    if domain not in (_INVALID, "") and zone == "":
        r.fail("alb.hostedZoneId", "", "must be set with alb.domainName (the zone that validates and serves it)")
    if zone not in (_INVALID, "") and domain == "":
        r.fail("alb.domainName", "", "must be set with alb.hostedZoneId")
    test_cidrs = r.string_list("alb.testListenerCidrs")
    for block in () if test_cidrs is _INVALID else test_cidrs:
        try:
            # The test listener serves the green revision before it takes traffic: never to the world.
            if ipaddress.ip_network(block, strict=True).prefixlen == 0:
                r.fail("alb.testListenerCidrs", block, "must not open the test listener to the whole internet")
        except ValueError:
            r.fail("alb.testListenerCidrs", block, "each entry must be a CIDR block such as 203.0.113.0/24")
    capacity = CapacityConfig(
        on_demand_base=r.integer("capacity.onDemandBase", 0, 100000),
        on_demand_weight=r.integer("capacity.onDemandWeight", 0, 1000),
        spot_weight=r.integer("capacity.spotWeight", 0, 1000),
    )
    if capacity.on_demand_weight == 0 and capacity.spot_weight == 0:
        r.fail("capacity.spotWeight", 0, "capacity.onDemandWeight and capacity.spotWeight cannot both be 0")
    strategy = r.choice("deploy.strategy", DEPLOY_STRATEGIES)
    cfg = StackConfig(
        project=project,
        stack=stack,
        environment=r.choice("environment", ENVIRONMENTS),
        region=region or "",
        protect_data=r.boolean("protectData"),
        log_retention_days=_retention(r, "logRetentionDays"),
        jwt_key_generation=r.integer("jwt.keyGeneration", 0, 1_000_000),
        network=network,
        database=_database(r),
        disaster_recovery=_disaster_recovery(r, region),
        cache=_cache(r),
        kafka=_kafka(r, network.az_count),
        image=ImageConfig(
            platform=r.choice("image.platform", IMAGE_PLATFORMS),
            keep_last=r.integer("image.keepLast", 1, 1000),
        ),
        capacity=capacity,
        alb=AlbConfig(
            certificate_arn=cert or None,
            access_logs=r.boolean("alb.accessLogs"),
            reserved_capacity_units=r.integer("alb.reservedCapacityUnits", 0, 1500),
            test_listener_cidrs=test_cidrs,
            domain_name=domain or None,
            hosted_zone_id=zone or None,
        ),
        waf=_waf(r),
        deploy=_deploy(r, strategy),
        autoscaling=AutoscalingConfig(
            cpu_target_percent=r.integer("autoscaling.cpuTargetPercent", 10, 95),
            memory_target_percent=r.integer("autoscaling.memoryTargetPercent", 10, 95),
            requests_per_target=r.integer("autoscaling.requestsPerTarget", 1, 1_000_000),
            scale_out_cooldown_seconds=r.integer("autoscaling.scaleOutCooldownSeconds", 0, 3600),
            scale_in_cooldown_seconds=r.integer("autoscaling.scaleInCooldownSeconds", 0, 3600),
        ),
        alarms=_alarms(r),
        services=services,
        sale_windows=(),
        ended_sale_windows=(),
        evaluated_at=now,
    )
    windows = _sale_windows(r, services)
    if cfg.disaster_recovery.restore_from_backup_arn and cfg.database.engine != "postgres":
        r.fail(
            "dr.restoreFromBackupArn",
            cfg.disaster_recovery.restore_from_backup_arn,
            "restores an RDS PostgreSQL instance only; restore Aurora from its AWS Backup vault (README)",
        )
    if cfg.image.cpu_architecture == "ARM64" and cfg.capacity.spot_weight not in (_INVALID, 0):
        # "Linux tasks with the ARM64 architecture don't support the Fargate Spot capacity provider"
        # (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html): ECS would
        # never place the Spot share of the tasks.
        r.fail(
            "capacity.spotWeight",
            cfg.capacity.spot_weight,
            "must be 0 with image.platform linux/arm64 (Fargate Spot runs X86_64 tasks only); "
            "use image.platform linux/amd64 for Spot",
        )
    if cfg.environment == "prod":
        _prod_rules(r, cfg)
    for key in sorted(set(raw) - r.read):
        hint = get_close_matches(key, sorted(r.read), n=1)
        r.fail(key, raw[key], "unknown key" + (f" (did you mean {NAMESPACE}:{hint[0]}?)" if hint else ""))
    if r.problems:
        raise ConfigError(r.problems)
    return replace(
        cfg,
        sale_windows=tuple(w for w in windows if not w.has_ended(now)),
        ended_sale_windows=tuple(w for w in windows if w.has_ended(now)),
    )


def _prod_rules(r: _Reader, cfg: StackConfig) -> None:
    # Production is where a cheap dev choice becomes an outage or lost data: refuse it up front.
    if cfg.protect_data is False:
        r.fail("protectData", False, "must be true when environment is prod")
    if cfg.network.az_count != _INVALID and cfg.network.az_count < 3:
        r.fail("network.azCount", cfg.network.az_count, "must be 3 when environment is prod")
    if cfg.database.backup_retention_days not in (_INVALID,) and cfg.database.backup_retention_days < 7:
        r.fail(
            "database.backupRetentionDays",
            cfg.database.backup_retention_days,
            "must be >= 7 when environment is prod",
        )
    if cfg.disaster_recovery.region is None:
        r.fail("dr.region", "", "must be set when environment is prod (database backups copied to a second region)")
    if not cfg.alb.https:
        r.fail(
            "alb.certificateArn",
            "",
            "prod must serve HTTPS: set alb.certificateArn, or alb.domainName with alb.hostedZoneId",
        )
    if cfg.database.engine == "postgres" and cfg.database.multi_az is False:
        r.fail("database.multiAz", False, "must be true when environment is prod (or use aurora-postgresql)")
    if cfg.database.engine == "aurora-postgresql" and cfg.database.aurora_readers == 0:
        r.fail(
            "database.auroraReaders",
            0,
            "must be >= 1 when environment is prod with aurora-postgresql (a reader in another AZ to fail over to)",
        )
    if cfg.cache.replicas_per_shard not in (_INVALID,) and cfg.cache.replicas_per_shard < 1:
        r.fail(
            "cache.replicasPerShard",
            cfg.cache.replicas_per_shard,
            "must be >= 1 when environment is prod (automatic failover needs a replica)",
        )


def load_config(now: datetime | None = None) -> StackConfig:
    """Read the stack's `flashsale:*` configuration once, through the Pulumi runtime."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    # The language host passes config either way depending on the CLI version: take both.
    everything = {**get_config_env(), **CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix) :]: v for k, v in everything.items() if k.startswith(prefix)}
    return parse_config(
        raw,
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        region=pulumi.Config("aws").get("region"),
        now=now,
    )
