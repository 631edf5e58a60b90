"""Which model reads which `flashsale:*` key, and each key's default (the model's: one place per key)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from stackconfig.base import Model
from stackconfig.compute import (
    DEFAULT_SERVICES,
    AutoscalingConfig,
    CapacityConfig,
    DeployConfig,
    ImageConfig,
    SaleWindows,
    Services,
)
from stackconfig.data import CacheConfig, DatabaseConfig, DisasterRecoveryConfig, KafkaConfig
from stackconfig.edge import AlbConfig, WafConfig
from stackconfig.network import NetworkConfig
from stackconfig.operations import AlarmsConfig, JwtConfig, StackSettings

NAMESPACE = "flashsale"

# `<prefix>.<camelCaseField>` keys, by prefix: the StackConfig attribute and the model that reads them.
SECTIONS: dict[str, tuple[str, type[Model]]] = {
    "network": ("network", NetworkConfig),
    "database": ("database", DatabaseConfig),
    "dr": ("disaster_recovery", DisasterRecoveryConfig),
    "cache": ("cache", CacheConfig),
    "kafka": ("kafka", KafkaConfig),
    "image": ("image", ImageConfig),
    "capacity": ("capacity", CapacityConfig),
    "alb": ("alb", AlbConfig),
    "waf": ("waf", WafConfig),
    "deploy": ("deploy", DeployConfig),
    "autoscaling": ("autoscaling", AutoscalingConfig),
    "alarms": ("alarms", AlarmsConfig),
    "jwt": ("jwt", JwtConfig),
}
# Keys holding a list of objects, each validated as one value: the reader, the default.
LISTS: dict[str, tuple[TypeAdapter[Any], tuple[Any, ...]]] = {
    "services": (TypeAdapter(Services), DEFAULT_SERVICES),
    "saleWindows": (TypeAdapter(SaleWindows), ()),
}


def _aliases(model: type[Model]) -> dict[str, str]:
    return {field.alias or name: name for name, field in model.model_fields.items()}


def declared_defaults() -> dict[str, Any]:
    """Every key the program reads (without the namespace), with its default as the model holds it."""
    defaults = {alias: StackSettings.model_fields[name].default for alias, name in _aliases(StackSettings).items()}
    for prefix, (_, model) in SECTIONS.items():
        for alias, name in _aliases(model).items():
            defaults[f"{prefix}.{alias}"] = model.model_fields[name].default
    defaults.update({key: default for key, (_, default) in LISTS.items()})
    return defaults
