"""Operations rules: logs that expire, scanned immutable images, deployments that roll back, services
that scale, resources that carry the required tags."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from allowed_values import DEPLOY_STRATEGIES, REQUIRED_TAGS
from policy.rules.props import UNKNOWN, Subject, as_mapping, get, number
from policy.rules.resource_types import ECS_SERVICE, SCALING_TARGET


def log_group_retention(s: Subject) -> Iterator[str]:
    days = get(s.props, "retentionInDays")
    if days is not UNKNOWN and (number(days) or 0) <= 0:
        yield "retentionInDays must be set (logs otherwise never expire)"


def ecr_scan_and_immutable_tags(s: Subject) -> Iterator[str]:
    if get(s.props, "imageScanningConfiguration", "scanOnPush") in (False, None):
        yield "imageScanningConfiguration.scanOnPush must be true"
    mutability = get(s.props, "imageTagMutability")
    if mutability is not UNKNOWN and mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield f"imageTagMutability is {mutability or 'MUTABLE (default)'}; use IMMUTABLE"


def ecs_blue_green_rollback(s: Subject) -> Iterator[str]:
    strategies = tuple(s.config.get("strategies", DEPLOY_STRATEGIES))
    strategy = get(s.props, "deploymentConfiguration", "strategy")
    if strategy is not UNKNOWN and strategy not in strategies:
        shown = strategy or "ROLLING (default)"
        yield f"deploymentConfiguration.strategy is {shown}; use one of {', '.join(strategies)}"
    controller = get(s.props, "deploymentController", "type")
    if controller not in (None, UNKNOWN, "ECS"):
        yield f"deploymentController.type is {controller}; ECS-native blue/green needs ECS"
    switches = (
        get(s.props, "deploymentCircuitBreaker", "enable"),
        get(s.props, "deploymentCircuitBreaker", "rollback"),
    )
    if UNKNOWN not in switches and switches != (True, True):
        yield "deploymentCircuitBreaker must set enable: true and rollback: true"


def ecs_service_autoscaled(resources: Sequence[PolicyResource], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    targets = [r for r in resources if r.resource_type == SCALING_TARGET]
    for service in (r for r in resources if r.resource_type == ECS_SERVICE):
        name = get(service.props, "name")
        scaled = any(
            service.urn in {d.urn for d in t.dependencies}
            or (isinstance(name, str) and str(get(t.props, "resourceId")).endswith(f"/{name}"))
            for t in targets
        )
        if not scaled:
            yield service.urn, f"{service.name} has no aws.appautoscaling.Target (ecs:service:DesiredCount)"


def _tag_keys(value: Any) -> set[str] | Any:
    tags = as_mapping(value)
    if tags is UNKNOWN:
        return UNKNOWN
    return {str(k) for k in (tags or {}) if get(tags, str(k)) not in (None, "")}


def required_tags(s: Subject) -> Iterator[str]:
    required = tuple(s.config.get("requiredTags", REQUIRED_TAGS))
    own = _tag_keys(get(s.props, "tags"))
    # The program tags through the provider's defaultTags; provider inputs arrive JSON-encoded.
    defaults = _tag_keys(get(as_mapping(get(s.provider_props, "defaultTags")), "tags"))
    if own is UNKNOWN or defaults is UNKNOWN:
        return
    missing = [t for t in required if t not in own | defaults]
    if missing:
        yield f"missing tags {missing} (set them on the resource or in the aws provider's defaultTags)"
