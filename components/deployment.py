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

    def timeout_minutes(self, strategy: str) -> int:
        """The ECS service's create/update timeout for `strategy`."""
        return rollout_minutes(strategy, self.bake_time_minutes, self.linear_step_percent)


def rollout_minutes(strategy: str, bake_time_minutes: int, linear_step_percent: float) -> int:
    """How long one deployment may take: starting the green fleet, then shifting and baking. CANARY bakes the
    canary then the whole; LINEAR bakes after each of its ceil(100 / step) steps and once more at the end (an
    upper bound). The stack configuration refuses a rollout longer than `pulumi up` should wait with it."""
    if strategy == "CANARY":
        shifting = 2 * bake_time_minutes
    elif strategy == "LINEAR":
        shifting = (math.ceil(100 / linear_step_percent) + 1) * bake_time_minutes
    else:
        shifting = bake_time_minutes
    return DEPLOY_START_MINUTES + shifting


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
