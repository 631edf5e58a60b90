"""The network each stack registers: VPC layout, NAT, endpoints, flow logs, security group rules."""

from __future__ import annotations

import pytest

from components.network import INTERFACE_ENDPOINT_SERVICES, subnet_masks
from stackconfig import StackConfig
from tests.infra.conftest import policy_document
from tooling.mock_outputs import mock_id, resource_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def vpc(run: ProgramRun) -> RecordedResource:
    return run.one("awsx:ec2:Vpc")


def group_roles(run: ProgramRun) -> dict[str, str]:
    """security group id -> role (alb, service, ...)."""
    network = run.one("flashsale:network:Network")
    return {mock_id(g.name): g.name.removeprefix(f"{network.name}-") for g in run.of_type(SG)}


def rules(run: ProgramRun, type_: str) -> list[tuple[str, int, str]]:
    """(group role, port, peer) per rule; peer is a role or a CIDR block."""
    roles = group_roles(run)
    found = []
    for r in run.of_type(type_):
        i = r.inputs
        assert i["fromPort"] == i["toPort"] and i["ipProtocol"] == "tcp", r.name
        peer = roles.get(i.get("referencedSecurityGroupId")) or i.get("cidrIpv4") or i.get("cidrIpv6")
        found.append((roles[i["securityGroupId"]], int(i["fromPort"]), peer))
    return sorted(found)


def test_vpc_uses_auto_subnet_strategy_and_three_tiers(run: ProgramRun, cfg: StackConfig) -> None:
    inputs = vpc(run).inputs
    assert inputs["subnetStrategy"] == "Auto"
    assert inputs["cidrBlock"] == cfg.network.cidr
    assert inputs["numberOfAvailabilityZones"] == cfg.network.az_count
    masks = subnet_masks(cfg.network.cidr)
    assert [(s["type"], s["cidrMask"]) for s in inputs["subnetSpecs"]] == [
        ("Public", masks["Public"]),
        ("Private", masks["Private"]),
        ("Isolated", masks["Isolated"]),
    ]


def test_subnet_ids_per_tier_span_every_zone(run: ProgramRun, cfg: StackConfig) -> None:
    for tier in ("public", "private", "isolated"):
        assert len(run.outputs[f"{tier}SubnetIds"]) == cfg.network.az_count


def test_nat_strategy_follows_config(run: ProgramRun, cfg: StackConfig) -> None:
    assert vpc(run).inputs["natGateways"] == {"strategy": cfg.network.nat_strategy}


def test_prod_has_a_nat_per_zone_and_dev_a_single_one(run: ProgramRun, cfg: StackConfig) -> None:
    expected = "OnePerAz" if cfg.is_prod else "Single"
    if cfg.environment in ("dev", "prod"):
        assert vpc(run).inputs["natGateways"]["strategy"] == expected


def test_s3_gateway_endpoint_always(run: ProgramRun, cfg: StackConfig) -> None:
    inputs = vpc(run).inputs
    assert inputs["vpcEndpointStrategy"] == "Auto"  # wires the gateway into every route table
    assert inputs["vpcEndpointSpecs"] == [
        {"serviceName": f"com.amazonaws.{cfg.region}.s3", "vpcEndpointType": "Gateway"}
    ]


def test_interface_endpoints_when_enabled(run: ProgramRun, cfg: StackConfig) -> None:
    endpoints = run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    if not cfg.network.interface_endpoints:
        assert endpoints == []
        return
    roles = group_roles(run)
    assert sorted(e.inputs["serviceName"] for e in endpoints) == sorted(
        f"com.amazonaws.{cfg.region}.{s}" for s in INTERFACE_ENDPOINT_SERVICES
    )
    for e in endpoints:
        assert e.inputs["vpcEndpointType"] == "Interface"
        assert e.inputs["privateDnsEnabled"] is True
        assert e.inputs["subnetIds"] == run.outputs["privateSubnetIds"]
        assert [roles[g] for g in e.inputs["securityGroupIds"]] == ["endpoints"]


def test_prod_turns_interface_endpoints_on(run: ProgramRun, cfg: StackConfig) -> None:
    if cfg.is_prod:
        assert len(run.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")) == len(INTERFACE_ENDPOINT_SERVICES)


def test_flow_logs_to_cloudwatch_with_retention(run: ProgramRun, cfg: StackConfig) -> None:
    flow_log = run.one("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["vpcId"] == run.outputs["vpcId"]
    group = next(g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if "vpc-flow-logs" in g.inputs["name"])
    assert group.inputs["retentionInDays"] == cfg.network.flow_log_retention_days
    assert flow_log.inputs["logDestination"] == resource_outputs(group.type, group.name, group.inputs)[1]["arn"]


def test_flow_log_role_writes_only_its_log_group(run: ProgramRun) -> None:
    policy = next(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("flow-logs"))
    statements = policy_document(policy.inputs["policy"])["Statement"]
    assert all("*" not in s["Resource"] and s["Resource"] for s in statements)


def test_ingress_rules_are_exactly_the_platform_paths(run: ProgramRun, cfg: StackConfig) -> None:
    ports = sorted({s.port for s in cfg.web_services})
    expected = [("alb", port, cidr) for cidr in cfg.network.alb_ingress_cidrs for port in (80, 443)]
    expected += [("service", p, "alb") for p in ports]
    expected += [("database", 5432, "service"), ("cache", 6379, "service"), ("kafka", 9098, "service"),
                 ("endpoints", 443, "service")]  # fmt: skip
    assert [
        r for r in rules(run, INGRESS) if r[0] in {"alb", "service", "database", "cache", "kafka", "endpoints"}
    ] == (sorted(expected))


def test_no_open_ingress_except_the_load_balancer_web_ports(run: ProgramRun) -> None:
    open_rules = [r for r in rules(run, INGRESS) if r[2] in ("0.0.0.0/0", "::/0")]
    assert all(role == "alb" and port in (80, 443) for role, port, _ in open_rules), open_rules


def test_data_tier_groups_admit_only_the_service_group(run: ProgramRun) -> None:
    for role, port in (("database", 5432), ("cache", 6379), ("kafka", 9098)):
        assert [r for r in rules(run, INGRESS) if r[0] == role] == [(role, port, "service")]


def test_egress_is_scoped(run: ProgramRun, cfg: StackConfig) -> None:
    egress = rules(run, EGRESS)
    assert ("service", 443, "0.0.0.0/0") in egress
    assert {(g, p, peer) for g, p, peer in egress if g == "service" and peer != "0.0.0.0/0"} >= {
        ("service", 5432, "database"), ("service", 6379, "cache"), ("service", 9098, "kafka")
    }  # fmt: skip
    assert {r for r in egress if r[0] == "alb"} == {("alb", s.port, "service") for s in cfg.web_services}
    assert not any(g in ("database", "cache", "kafka") for g, _, _ in egress)


def test_security_groups_have_no_inline_rules(run: ProgramRun) -> None:
    for group in run.of_type(SG):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress"), group.name


def test_every_network_resource_is_a_child_of_the_component(run: ProgramRun) -> None:
    network = run.one("flashsale:network:Network")
    children = run.children(network)
    assert {c.type for c in children} >= {"awsx:ec2:Vpc", SG, INGRESS, EGRESS, "aws:ec2/flowLog:FlowLog"}
    assert all(c.name.startswith(f"{network.name}-") for c in children)


def test_outputs_name_every_security_group(run: ProgramRun) -> None:
    assert set(run.outputs["securityGroupIds"]) == {"alb", "service", "database", "cache", "kafka", "endpoints"}
    assert run.outputs["vpcId"]


@pytest.mark.parametrize("cidr", ["203.0.113.0/24", "2001:db8::/32"])
def test_alb_ingress_cidrs_from_config(cidr: str) -> None:
    from tooling.mock_runtime import run_program

    result = run_program("dev", overrides={"flashsale:network.albIngressCidrs": [cidr]})
    assert [r for r in rules(result, INGRESS) if r[0] == "alb"] == [("alb", 80, cidr), ("alb", 443, cidr)]
