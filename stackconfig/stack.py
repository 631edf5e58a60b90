"""StackConfig: the validated configuration of one stack, composed of the tiers' models."""

from __future__ import annotations

from datetime import datetime

from stackconfig.base import Model
from stackconfig.compute import (
    AutoscalingConfig,
    CapacityConfig,
    DeployConfig,
    ImageConfig,
    SaleWindow,
    ServiceConfig,
)
from stackconfig.data import CacheConfig, DatabaseConfig, DisasterRecoveryConfig, KafkaConfig
from stackconfig.edge import AlbConfig, WafConfig
from stackconfig.network import NetworkConfig
from stackconfig.operations import AlarmsConfig, tags
from stackconfig.sale_sizing import StackSizing


class StackConfig(Model):
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
    sizing: StackSizing  # window floors and requests per target, from minTasks or the measured capacity

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def broker_count(self) -> int:
        return self.kafka.broker_count(self.network.az_count)

    @property
    def web_services(self) -> tuple[ServiceConfig, ...]:
        return tuple(s for s in self.services if s.is_web)

    def window_floor(self, window: SaleWindow, service: str) -> int:
        """The floor `window` raises `service` to: its minTasks, or sized from its expectedAttemptsPerSecond."""
        return self.sizing.floor(window.name, service)

    def requests_per_target(self, service: str) -> int | None:
        """ALB requests per task per minute to track (web services); None: no request-count policy."""
        return self.sizing.requests_for(service)

    @property
    def tags(self) -> dict[str, str]:
        return tags(self.project, self.environment, self.stack)
