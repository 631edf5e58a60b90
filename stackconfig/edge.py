"""The edge tier: the load balancer (TLS, name, access logs, test listener) and the web ACL."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import Field

from stackconfig.base import Bool, Int, Model, between, blank_is_none, checked_list, once_each, problem

_ACM_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$"
_DOMAIN = r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_ZONE_ID = r"^Z[A-Z0-9]{1,31}$"


def _test_listener_block(block: str) -> str:
    try:
        whole_internet = ipaddress.ip_network(block, strict=True).prefixlen == 0
    except ValueError:
        raise problem("each entry must be a CIDR block such as 203.0.113.0/24", block) from None
    # The test listener serves the green revision before it takes traffic: never to the world.
    if whole_internet:
        raise problem("must not open the test listener to the whole internet", block)
    return block


class AlbConfig(Model):
    certificate_arn: Annotated[
        str | None, blank_is_none(_ACM_ARN, "must be empty (HTTP only) or an ACM certificate ARN")
    ] = None
    access_logs: Bool = False
    reserved_capacity_units: Annotated[Int, between(0, 1500)] = 0
    test_listener_cidrs: checked_list(_test_listener_block, once_each) = ()
    domain_name: Annotated[
        str | None, blank_is_none(_DOMAIN, "must be empty or a DNS name such as shop.example.com")
    ] = None
    hosted_zone_id: Annotated[str | None, blank_is_none(_ZONE_ID, "must be empty or a Route 53 zone id (Z...)")] = None

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn or self.domain_name)


# WAF's RateLimit range (botocore wafv2 model: min 10, max 2,000,000,000).
_RateLimit = Annotated[Int, between(10, 2_000_000_000)]


class WafConfig(Model):
    # per buyer (bearer token), counting reservation attempts (POST /sales/{id}/reservations) only
    rate_limit_per_5min: _RateLimit = Field(3000, alias="rateLimitPer5Min")
    # per client IP, which many buyers may share
    ip_rate_limit_per_5min: _RateLimit = Field(100000, alias="ipRateLimitPer5Min")
    # per client IP on /admin/ paths: operators send a handful of requests, a guesser thousands
    admin_rate_limit_per_5min: _RateLimit = Field(100, alias="adminRateLimitPer5Min")
    managed_common_rules: Bool = False
