"""How one ECS service rolls out a new task definition: ECS-native blue/green, canary or linear.

Bake times are strings in this SDK (aws.ecs.ServiceDeploymentConfigurationArgs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi_aws as aws

# How long `pulumi up` may wait for one ECS deployment (wait_for_steady_state): starting and health-
# checking the green fleet takes up to the provider's default 20 minutes; traffic shifts and bakes add to it.
DEPLOY_START_MINUTES = 20


@dataclass(frozen=True)
class DeploymentArgs:
    """How ECS rolls out a new task definition (ECS-native blue/green)."""

    strategy: str = "BLUE_GREEN"
    """BLUE_GREEN, CANARY or LINEAR (web services; workers always deploy BLUE_GREEN). Default BLUE_GREEN."""
    bake_time_minutes: int = 2
    """Minutes ECS keeps blue alive after each shift, rolling back on alarms. Default 2."""
    canary_percent: float = 10
    """CANARY: percent of traffic shifted first. Default 10."""
    linear_step_percent: float = 25
    """LINEAR: percent shifted per step. Default 25."""

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


def deployment_strategy(deploy: DeploymentArgs, load_balanced: bool) -> str:
    return deploy.strategy if load_balanced else "BLUE_GREEN"


def deployment_configuration(deploy: DeploymentArgs, load_balanced: bool) -> aws.ecs.ServiceDeploymentConfigurationArgs:
    strategy = deployment_strategy(deploy, load_balanced)
    bake = str(deploy.bake_time_minutes)  # strings in this SDK
    return aws.ecs.ServiceDeploymentConfigurationArgs(
        strategy=strategy,
        bake_time_in_minutes=bake,
        canary_configuration=(
            aws.ecs.ServiceDeploymentConfigurationCanaryConfigurationArgs(
                canary_percent=deploy.canary_percent, canary_bake_time_in_minutes=bake
            )
            if strategy == "CANARY"
            else None
        ),
        linear_configuration=(
            aws.ecs.ServiceDeploymentConfigurationLinearConfigurationArgs(
                step_percent=deploy.linear_step_percent, step_bake_time_in_minutes=bake
            )
            if strategy == "LINEAR"
            else None
        ),
    )
