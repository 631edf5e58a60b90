"""The compute tier: image, Fargate capacity, services, deployments, autoscaling and sale windows."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, PlainValidator

from components.deployment import rollout_minutes
from stackconfig.allowed import (
    DEPLOY_STRATEGIES,
    FARGATE_MEMORY,
    IMAGE_PLATFORMS,
    MAX_RULE_PATH_PATTERNS,
    MAX_RULE_WILDCARDS,
    SERVICE_KINDS,
)
from stackconfig.base import (
    NAME_PATTERN,
    Bool,
    Float,
    Int,
    Model,
    Str,
    StrList,
    between,
    checked_list,
    matches,
    objects,
    optional_int,
    problem,
)


class ImageConfig(Model):
    platform: Literal[IMAGE_PLATFORMS] = "linux/amd64"
    keep_last: Annotated[Int, between(1, 1000)] = 20

    @property
    def cpu_architecture(self) -> str:
        return "ARM64" if self.platform == "linux/arm64" else "X86_64"


class CapacityConfig(Model):
    on_demand_base: Annotated[Int, between(0, 100000)] = 0
    on_demand_weight: Annotated[Int, between(0, 1000)] = 0
    spot_weight: Annotated[Int, between(0, 1000)] = 1


def _tenths(percent: float) -> float:
    # ECS takes both percentages in steps of 0.1 (botocore ecs model: CanaryConfiguration, LinearConfiguration).
    if abs(percent * 10 - round(percent * 10)) > 1e-9:
        raise problem("must be a multiple of 0.1 (ECS shifts traffic in tenths of a percent)", percent)
    return percent


class DeployConfig(Model):
    strategy: Literal[DEPLOY_STRATEGIES] = "BLUE_GREEN"
    bake_time_minutes: Annotated[Int, between(0, 1440)] = 2
    canary_percent: Annotated[Float, between(0.1, 100), AfterValidator(_tenths)] = 10.0
    linear_step_percent: Annotated[Float, between(3, 100), AfterValidator(_tenths)] = 25.0
    allow_during_sale: Bool = False  # lifts the deploy freeze for one run (components/deploy_freeze.py)

    def timeout_minutes(self, strategy: str) -> int:
        """How long one deployment with `strategy` may take (the ECS service's custom timeouts)."""
        return rollout_minutes(strategy, self.bake_time_minutes, self.linear_step_percent)


class AutoscalingConfig(Model):
    cpu_target_percent: Annotated[Int, between(10, 95)] = 70
    memory_target_percent: Annotated[Int, between(10, 95)] = 80
    # 0: derived from the measured capacity (stackconfig/sale_sizing.py). Pulumi.yaml declares this 0 too: a
    # project key without a default is one every stack must set (pulumi/pulumi, sdk/go/common/workspace,
    # ValidateStackConfigAndApplyProjectConfig: "Stack '<name>' is missing configuration value").
    requests_per_target: Annotated[Int, between(0, 1_000_000)] = 0
    scale_out_cooldown_seconds: Annotated[Int, between(0, 3600)] = 60
    scale_in_cooldown_seconds: Annotated[Int, between(0, 3600)] = 300


# An ALB path pattern: * matches any characters, ? exactly one; case-sensitive, at most 128 characters
# (ELB API reference, PathPatternConditionConfig).
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9/_*?.-]{0,127}$")


def _path_pattern(pattern: str) -> str:
    if not _PATH_PATTERN.match(pattern):
        allowed = "must be an ALB path pattern: /, then letters, digits, / _ . - or the wildcards * ?; "
        raise problem(allowed + "at most 128 characters", pattern)
    return pattern


def _path_patterns(paths: tuple[str, ...]) -> tuple[str, ...]:
    """A web service's path patterns: they all go into one listener rule (and its twin on the test listener)."""
    if not 1 <= len(paths) <= MAX_RULE_PATH_PATTERNS:
        raise problem(f"must list 1 to {MAX_RULE_PATH_PATTERNS} path patterns (one ALB rule's limit)", paths)
    wildcards = sum(p.count("*") + p.count("?") for p in paths)
    if wildcards > MAX_RULE_WILDCARDS:
        raise problem(f"has {wildcards} wildcards; one ALB rule allows {MAX_RULE_WILDCARDS}", paths)
    return paths


def _fargate_cpu(cpu: int) -> int:
    if cpu not in FARGATE_MEMORY:
        raise problem(f"must be a Fargate CPU size: {', '.join(map(str, FARGATE_MEMORY))}", cpu)
    return cpu


def _command(command: tuple[str, ...]) -> tuple[str, ...]:
    if not command:
        raise problem("must name the image command, e.g. [serve]", [])
    return command


class ServiceConfig(Model):
    name: Annotated[Str, NAME_PATTERN]
    kind: Literal[SERVICE_KINDS]
    command: Annotated[StrList, AfterValidator(_command)]
    cpu: Annotated[Int, AfterValidator(_fargate_cpu)] = 512
    memory: Int = 1024
    min_tasks: Annotated[Int, between(0, 1000)] = 1
    max_tasks: Annotated[Int, between(1, 1000)] = 4
    port: Annotated[Int, between(1024, 65535)] = 8000
    # web: the ALB path patterns forwarded to it (its public routes only); worker: (). Whether the stack
    # file set it at all is in model_fields_set (stackconfig/rules.py tells a web service without it).
    paths: checked_list(_path_pattern, _path_patterns) = ()
    listener_priority: Annotated[int | None, optional_int(1, 50000)] = None
    health_check_path: Annotated[Str, matches(r"^/", "must start with /")] = "/health/live"

    @property
    def is_web(self) -> bool:
        return self.kind == "web"


Services = Annotated[tuple[ServiceConfig, ...], BeforeValidator(objects)]
DEFAULT_SERVICES = (
    # The API's public routes only, plus /health/live; /metrics, /health/ready and /openapi.json
    # are on INTERNAL_PORT, which the ALB never reaches. At most 5 patterns (one ALB rule).
    ServiceConfig(name="api", kind="web", command=("serve",), paths=("/sales/*", "/reservations/*", "/admin/*",
                  "/health/live"), listener_priority=100, cpu=512, memory=1024, min_tasks=2, max_tasks=10),
    ServiceConfig(name="relay", kind="worker", command=("relay",), cpu=256, memory=512, min_tasks=1, max_tasks=2),
)  # fmt: skip


def _local_time(value: Any) -> Any:
    allowed = "must be a local time such as 2026-12-01T10:00"
    if not isinstance(value, str):
        raise problem(allowed)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise problem(allowed) from None
    if parsed.tzinfo is not None:  # the window's timezone field carries the zone
        raise problem(allowed)
    return parsed.replace(second=0, microsecond=0)


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem("must be an IANA time zone such as Europe/Berlin", name) from None
    return name


LocalTime = Annotated[datetime, BeforeValidator(_local_time)]


def _rate(value: Any) -> float | None:
    """An optional rate of attempts/s: absent or null means None."""
    allowed = "must be a number of attempts/s above 0 and at most 10,000,000"
    if value is None:
        return None
    if isinstance(value, bool):
        raise problem(allowed)
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise problem(allowed) from None
    if not 0 < rate <= 10_000_000:
        raise problem(allowed, rate)
    return rate


class SaleWindow(Model):
    name: Annotated[Str, NAME_PATTERN]
    start: LocalTime
    end: LocalTime
    timezone: Annotated[Str, AfterValidator(_time_zone)] = "UTC"
    # Exactly one of the two (stackconfig/rules.py): the floor itself, or the sale's rate the program sizes it for.
    min_tasks: Annotated[int | None, optional_int(1, 1000)] = None
    expected_attempts_per_second: Annotated[float | None, PlainValidator(_rate)] = None
    lead_minutes: Annotated[Int, between(0, 720)] = 15
    # Unset in the stack file: every web service (stackconfig/load.py fills them in).
    services: StrList = ()

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


SaleWindows = Annotated[tuple[SaleWindow, ...], BeforeValidator(objects)]
