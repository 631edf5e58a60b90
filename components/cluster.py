"""Cluster: the ECS cluster (Container Insights) and its FARGATE / FARGATE_SPOT capacity providers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class CapacityArgs:
    """How tasks split between on-demand FARGATE and FARGATE_SPOT."""

    on_demand_base: int = 0
    """Tasks that always run on on-demand FARGATE. Default 0."""
    on_demand_weight: int = 1
    """Relative share of FARGATE beyond the base. Default 1."""
    spot_weight: int = 0
    """Relative share of FARGATE_SPOT beyond the base (interruptible, X86_64 only). Default 0: no Spot."""


def capacity_strategy(capacity: CapacityArgs) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs]:
    """The base runs on on-demand FARGATE; beyond it tasks split by weight (spot is cheaper, interruptible)."""
    return [
        aws.ecs.ServiceCapacityProviderStrategyArgs(
            capacity_provider="FARGATE", base=capacity.on_demand_base, weight=capacity.on_demand_weight
        ),
        aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider="FARGATE_SPOT", weight=capacity.spot_weight),
    ]


@dataclass(frozen=True)
class ClusterArgs:
    cluster_name: str
    """The ECS cluster's name. Required."""
    capacity: CapacityArgs = CapacityArgs()
    """The default capacity provider strategy. Default: on-demand FARGATE only."""


class Cluster(pulumi.ComponentResource):
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:service:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            # Enhanced: per-task metrics, and RunningTaskCount for the requests-per-task scaling metric.
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enhanced")],
            opts=child,
        )
        providers = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE", "FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider=s.capacity_provider, base=s.base, weight=s.weight
                )
                for s in capacity_strategy(args.capacity)
            ],
            opts=child,
        )
        # Services name the providers in their strategy: they must wait until the providers are attached.
        self.name = pulumi.Output.all(cluster.name, providers.id).apply(lambda v: v[0])
        self.arn = pulumi.Output.all(cluster.arn, providers.id).apply(lambda v: v[0])
        self.register_outputs({"name": self.name, "arn": self.arn})
