"""Exposure rules: what the internet can reach (data stores, security groups, tasks, HTTP listeners)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource

from policy.rules.props import UNKNOWN, Subject, elements, get, number, shown
from policy.rules.resource_types import (
    CERTIFICATES,
    LISTENERS,
    LOAD_BALANCERS,
    MSK,
    RDS_CLUSTER_INSTANCE,
    RDS_INSTANCE,
    SECURITY_GROUP,
    SG_INGRESS,
    SG_RULE,
)

WORLD = frozenset({"0.0.0.0/0", "::/0"})
WEB_PORTS = frozenset({80, 443})


def no_public_data_stores(s: Subject) -> Iterator[str]:
    if s.type in (RDS_INSTANCE, RDS_CLUSTER_INSTANCE) and get(s.props, "publiclyAccessible") is True:
        yield "publiclyAccessible must be false"
    if s.type == MSK:
        access = get(s.props, "brokerNodeGroupInfo", "connectivityInfo", "publicAccess", "type")
        if access not in (None, UNKNOWN, "DISABLED"):
            yield f"brokers have public access ({access}); keep them private"


@dataclass(frozen=True)
class OpenIngress:
    """One ingress permission from the whole internet."""

    cidr: str
    protocol: Any
    from_port: Any
    to_port: Any

    @property
    def web_only(self) -> bool:
        tcp = str(self.protocol).lower() in ("tcp", "6")
        return tcp and number(self.from_port) == number(self.to_port) and number(self.from_port) in WEB_PORTS

    @property
    def knowable(self) -> bool:
        return UNKNOWN not in (self.protocol, self.from_port, self.to_port)

    def describe(self) -> str:
        ports = "-".join(shown(p) for p in (self.from_port, self.to_port))
        return f"{self.cidr} on {self.protocol} {ports}"


def open_ingress(resource_type: str, props: Mapping[str, Any]) -> list[OpenIngress]:
    """Every world-open ingress a security group or rule resource declares (unknown CIDRs are skipped)."""
    if resource_type == SG_INGRESS:
        cidrs = [get(props, "cidrIpv4"), get(props, "cidrIpv6")]
        rules = [(props, cidrs, "ipProtocol")]
    elif resource_type == SG_RULE:
        if get(props, "type") != "ingress":
            return []
        rules = [(props, _cidrs(props), "protocol")]
    elif resource_type == SECURITY_GROUP:
        entries = elements(props, "ingress")
        rules = [] if entries is UNKNOWN else [(e, _cidrs(e), "protocol") for e in entries]
    else:
        return []
    found = []
    for rule, cidrs, protocol_key in rules:
        for cidr in cidrs:
            if cidr in WORLD:
                protocol = get(rule, protocol_key)
                found.append(OpenIngress(cidr, protocol, get(rule, "fromPort"), get(rule, "toPort")))
    return found


def _cidrs(rule: Any) -> list[Any]:
    out: list[Any] = []
    for key in ("cidrBlocks", "ipv6CidrBlocks"):
        values = elements(rule, key)
        out.extend([] if values is UNKNOWN else values)
    return out


def public_ingress_web_ports_only(s: Subject) -> Iterator[str]:
    for ingress in open_ingress(s.type, s.props):
        if ingress.knowable and not ingress.web_only:
            yield f"ingress from {ingress.describe()}: the internet may reach only TCP 80/443"


def public_ingress_on_load_balancer_only(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    # Which security groups front a public load balancer: by URN (the LB depends on them) and by id.
    lb_group_urns: set[str] = set()
    lb_group_ids: set[str] = set()
    for r in resources:
        if r.resource_type in LOAD_BALANCERS and get(r.props, "internal") is not True:
            lb_group_urns.update(d.urn for d in r.dependencies if d.resource_type == SECURITY_GROUP)
            ids = elements(r.props, "securityGroups")
            lb_group_ids.update(i for i in ([] if ids is UNKNOWN else ids) if isinstance(i, str))
    for r in resources:
        if not open_ingress(r.resource_type, r.props):
            continue
        if r.resource_type == SECURITY_GROUP:
            targets_lb = r.urn in lb_group_urns
            knowable = True
        else:
            group_id = get(r.props, "securityGroupId")
            dep_urns = {d.urn for d in r.dependencies}
            targets_lb = bool(dep_urns & lb_group_urns) or group_id in lb_group_ids
            knowable = group_id is not UNKNOWN or bool(dep_urns)
        if knowable and not targets_lb:
            yield (
                r.urn,
                f"{r.name} opens a security group to the internet that is not a public load balancer's",
            )


def tasks_without_public_ip(s: Subject) -> Iterator[str]:
    if get(s.props, "networkConfiguration", "assignPublicIp") is True:
        yield "networkConfiguration.assignPublicIp must be false; tasks run in private subnets"


def http_redirects_to_https(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    listeners = [r for r in resources if r.resource_type in LISTENERS]
    has_certificate = any(r.resource_type in CERTIFICATES for r in resources) or any(
        get(r.props, "certificateArn") not in (None, "") for r in listeners
    )
    https = any(get(r.props, "protocol") == "HTTPS" for r in listeners)
    for r in listeners:
        protocol, port = get(r.props, "protocol"), number(get(r.props, "port"))
        if protocol != "HTTP" or port != 80:  # other HTTP ports (the blue/green test listener) stay private
            continue
        actions = elements(r.props, "defaultActions")
        if actions is UNKNOWN or any(a is UNKNOWN for a in actions):
            continue
        redirects = bool(actions) and all(
            get(a, "type") == "redirect" and get(a, "redirect", "protocol") in ("HTTPS", UNKNOWN) for a in actions
        )
        if has_certificate and not redirects:
            yield r.urn, f"{r.name}: a certificate exists, so HTTP :80 must only redirect to HTTPS"
        if redirects and not https:
            yield r.urn, f"{r.name} redirects to HTTPS but the stack has no HTTPS listener"
