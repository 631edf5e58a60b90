"""The network tier: VPC block, zones, NAT, endpoints, flow logs, who may reach the load balancer."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator

from stackconfig.allowed import NAT_STRATEGIES
from stackconfig.base import Bool, Int, LogRetention, Model, Str, between, checked_list, once_each, problem


def _vpc_block(cidr: str) -> str:
    try:
        net = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        raise problem("must be an IPv4 CIDR block such as 10.0.0.0/16", cidr) from None
    if not 16 <= net.prefixlen <= 20 or not net.is_private:
        raise problem("must be a private IPv4 block from /16 to /20", cidr)
    return cidr


def _ingress_block(block: str) -> str:
    try:
        ipaddress.ip_network(block, strict=True)
    except ValueError:
        raise problem("each entry must be a CIDR block such as 0.0.0.0/0", block) from None
    return block


def _ingress_blocks(blocks: tuple[str, ...]) -> tuple[str, ...]:
    if not blocks:
        raise problem("must list at least one CIDR block", [])
    return once_each(blocks)


class NetworkConfig(Model):
    cidr: Annotated[Str, AfterValidator(_vpc_block)] = "10.0.0.0/16"
    nat_strategy: Literal[NAT_STRATEGIES] = "Single"
    az_count: Annotated[Int, between(2, 3)] = 2
    interface_endpoints: Bool = False
    flow_log_retention_days: LogRetention = 14
    alb_ingress_cidrs: checked_list(_ingress_block, _ingress_blocks) = ("0.0.0.0/0",)
