"""The stack configuration: pydantic models per tier, the rules across them, and the loader.

`load_config()` reads every `flashsale:*` key once and returns a frozen StackConfig, or raises one
ConfigError listing every problem with its full key, the value and what is allowed.
"""

from stackconfig.compute import (
    AutoscalingConfig,
    CapacityConfig,
    DeployConfig,
    ImageConfig,
    SaleWindow,
    ServiceConfig,
)
from stackconfig.data import CacheConfig, DatabaseConfig, DisasterRecoveryConfig, KafkaConfig, TopicConfig
from stackconfig.edge import AlbConfig, WafConfig
from stackconfig.errors import ConfigError
from stackconfig.keys import NAMESPACE
from stackconfig.load import load_config, parse_config
from stackconfig.network import NetworkConfig
from stackconfig.operations import AlarmsConfig
from stackconfig.stack import StackConfig

__all__ = [
    "NAMESPACE",
    "AlarmsConfig",
    "AlbConfig",
    "AutoscalingConfig",
    "CacheConfig",
    "CapacityConfig",
    "ConfigError",
    "DatabaseConfig",
    "DeployConfig",
    "DisasterRecoveryConfig",
    "ImageConfig",
    "KafkaConfig",
    "NetworkConfig",
    "SaleWindow",
    "ServiceConfig",
    "StackConfig",
    "TopicConfig",
    "WafConfig",
    "load_config",
    "parse_config",
]
