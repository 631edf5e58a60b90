"""Reading the stack's `flashsale:*` keys into a StackConfig, every problem reported at once.

pydantic reads each tier's keys (types, ranges, choices, patterns, unknown keys); stackconfig/rules.py
then checks what spans fields, tiers or the environment, and stackconfig/sale_sizing.py sizes what comes from
the measured capacity (window floors by rate, the derived requests per target). A tier that fails to read is
reported and its rules wait for the next run: they would only repeat the same mistake in other words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from stackconfig import rules, sale_sizing
from stackconfig.base import Model
from stackconfig.compute import SaleWindow, ServiceConfig
from stackconfig.errors import ConfigError, describe, unknown_key
from stackconfig.keys import LISTS, NAMESPACE, SECTIONS, declared_defaults
from stackconfig.operations import StackSettings
from stackconfig.stack import StackConfig

# Each rule with the parts it reads: it runs once all of them have been read without a problem.
RULES: tuple[tuple[Callable[..., list[str]], tuple[str, ...]], ...] = (
    (rules.no_nat_needs_endpoints, ("network",)),
    (rules.dr_region_differs, ("disaster_recovery", "region")),
    (rules.restore_from_this_region, ("disaster_recovery", "region")),
    (rules.capacity_ranges_ordered, ("database",)),
    (rules.app_role_is_not_the_master, ("database",)),
    (rules.cache_shape, ("cache",)),
    (rules.kafka_storage_grows, ("kafka",)),
    (rules.domain_with_zone, ("alb",)),
    (rules.capacity_is_placed, ("capacity", "image")),
    (rules.ip_limit_above_buyer_limit, ("waf",)),
    (rules.deployment_fits_pulumi_wait, ("deploy",)),
    (rules.service_shapes, ("services",)),
    (rules.windows_fit_services, ("saleWindows", "services")),
    (rules.windows_apart, ("saleWindows", "services")),
    (rules.restore_needs_postgres, ("disaster_recovery", "database")),
    (rules.prod_protects_data, ("settings",)),
    (rules.prod_spans_three_zones, ("settings", "network")),
    (rules.prod_database_survives, ("settings", "database")),
    (rules.prod_backups_leave_the_region, ("settings", "disaster_recovery")),
    (rules.prod_serves_https, ("settings", "alb")),
    (rules.prod_cache_fails_over, ("settings", "cache")),
)
_ITEMS = {"services": ServiceConfig, "saleWindows": SaleWindow}


def utc_now() -> datetime:
    """The deploy's clock. parse_config takes `now` instead, so tests never depend on today's date."""
    return datetime.now(UTC)


def _group(raw: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[tuple[str, Any]]]:
    """The keys by tier prefix ("" for those outside any tier), and the keys no tier reads."""
    groups: dict[str, dict[str, Any]] = {prefix: {} for prefix in ("", *SECTIONS, *LISTS)}
    unknown = []
    for key, value in raw.items():
        prefix, _, field = key.rpartition(".") if "." in key else ("", "", key)
        if key in LISTS:
            groups[key] = value
        elif prefix in groups and prefix not in LISTS:
            groups[prefix][field] = value
        else:
            unknown.append((key, value))
    return groups, unknown


def parse_config(
    raw: Mapping[str, Any], *, project: str, stack: str, region: str | None, now: datetime | None = None
) -> StackConfig:
    """Validate raw `flashsale:*` values (keys without the namespace) into a StackConfig, as of `now`
    (default: utc_now()), which decides the sale windows that have ended. A key not set takes its default."""
    now = now or utc_now()
    declared = declared_defaults()
    problems: list[str] = []
    if not region:
        problems.append("aws:region is missing: set it in the stack file, e.g. aws:region: eu-west-1")
    groups, unknown = _group(raw)
    parts: dict[str, Any] = {"region": region or None}
    for prefix, (name, model) in SECTIONS.items():
        parts[name] = _read(model, groups[prefix], prefix, model, declared, problems)
    for key, (adapter, default) in LISTS.items():
        value = groups[key] if key in raw else default
        parts[key] = _read(adapter.validate_python, value, key, _ITEMS[key], declared, problems)
    parts["settings"] = _read(StackSettings, groups[""], "", StackSettings, declared, problems)
    problems += [unknown_key(key, value, declared) for key, value in unknown]
    for rule, needs in RULES:
        if all(parts[n] is not None for n in needs):
            problems += rule(*(parts[n] for n in needs))
    if problems:
        raise ConfigError(problems)
    services = parts["services"]
    windows = tuple(w.model_copy(update={"services": rules.window_targets(w, services)}) for w in parts["saleWindows"])
    deployed = [(i, w) for i, w in enumerate(windows) if not w.has_ended(now)]
    stack_tiers = sale_sizing.data_tier(parts["network"], parts["kafka"], parts["alb"])
    sizing, problems = sale_sizing.size_stack(deployed, services, parts["autoscaling"], parts["cache"], stack_tiers)
    if problems:
        raise ConfigError(problems)
    settings = parts["settings"]
    return StackConfig(
        project=project,
        stack=stack,
        environment=settings.environment,
        region=region or "",
        protect_data=settings.protect_data,
        log_retention_days=settings.log_retention_days,
        jwt_key_generation=parts["jwt"].key_generation,
        **{name: parts[name] for name, _ in SECTIONS.values() if name != "jwt"},
        services=services,
        sale_windows=tuple(w for w in windows if not w.has_ended(now)),
        ended_sale_windows=tuple(w for w in windows if w.has_ended(now)),
        evaluated_at=now,
        sizing=sizing,
    )


def _read(
    reader: Callable[[Any], Any] | type[Model],
    value: Any,
    prefix: str,
    model: type[Model],
    declared: Mapping[str, Any],
    problems: list[str],
) -> Any:
    """The value read by `reader` (a model or a list adapter), or None with its problems added."""
    try:
        return reader.model_validate(value) if isinstance(reader, type) else reader(value)
    except ValidationError as err:
        problems += describe(err, prefix, model, declared)
        return None


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
