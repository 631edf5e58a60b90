"""policy/rules/exposure.py: what the internet can reach. Resource rules by table; the stack rules
(world ingress only on a public load balancer's group, HTTP :80 only redirecting) on small stacks."""

from __future__ import annotations

from policy_harness import (
    MSK_GOOD,
    POLICIES,
    UNKNOWN_ARRAY,
    UNKNOWN_BOOL,
    UNKNOWN_NUMBER,
    UNKNOWN_OBJECT,
    UNKNOWN_STRING,
    Case,
    Res,
    case_tests,
    check_stack,
    domain_policies,
)

CASES = [
    Case(
        "no-public-data-stores",
        "aws:rds/instance:Instance",
        {"publiclyAccessible": False},
        {"publiclyAccessible": True},
        {"publiclyAccessible": UNKNOWN_BOOL},
        "publiclyAccessible",
    ),
    Case(
        "no-public-data-stores",
        "aws:rds/clusterInstance:ClusterInstance",
        {},
        {"publiclyAccessible": True},
        {"publiclyAccessible": UNKNOWN_BOOL},
        "publiclyAccessible",
    ),
    Case(
        "no-public-data-stores",
        "aws:msk/cluster:Cluster",
        MSK_GOOD,
        {"brokerNodeGroupInfo": {"connectivityInfo": {"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}}}},
        {"brokerNodeGroupInfo": UNKNOWN_OBJECT},
        "public access",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0},
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0},
        {"cidrIpv4": UNKNOWN_STRING, "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0},
        "5432",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"cidrIpv4": "10.0.0.0/16", "ipProtocol": "-1"},
        {"cidrIpv6": "::/0", "ipProtocol": "-1"},
        {"cidrIpv6": "::/0", "ipProtocol": UNKNOWN_STRING},
        "::/0",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:ec2/securityGroup:SecurityGroup",
        {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 80.0, "toPort": 80.0}]},
        {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 0.0, "toPort": 65535.0}]},
        {"ingress": UNKNOWN_ARRAY},
        "0-65535",
    ),
    Case(
        "public-ingress-web-ports-only",
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "-1", "fromPort": 0.0, "toPort": 0.0},
        {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 22.0, "toPort": 22.0},
        {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": UNKNOWN_NUMBER, "toPort": 22.0},
        "22-22",
    ),
    Case(
        "tasks-without-public-ip",
        "aws:ecs/service:Service",
        {"networkConfiguration": {"assignPublicIp": False}},
        {"networkConfiguration": {"assignPublicIp": True}},
        {"networkConfiguration": {"assignPublicIp": UNKNOWN_BOOL}},
        "assignPublicIp",
    ),
]


# Every case: its passing resource passes, its failing one is reported, unknown values are no violation.
test_passing_resource_has_no_violation, test_failing_resource_is_reported, test_unknown_props_are_not_a_violation = (
    case_tests(CASES)
)


def test_every_exposure_policy_is_tested() -> None:
    resource, stack = domain_policies("exposure")
    assert {c.policy for c in CASES} == resource
    assert stack == {"public-ingress-on-load-balancer-only", "http-redirects-to-https"}


LB = "aws:lb/loadBalancer:LoadBalancer"
SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENER = "aws:lb/listener:Listener"

WEB = {"ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0}


def _ingress_stack(rule_props: dict, rule_deps: tuple[str, ...]) -> list[Res]:
    return [
        Res(SG, "alb-sg", {}),
        Res(SG, "db-sg", {}),
        Res(LB, "alb", {"securityGroups": ["sg-alb"]}, deps=("alb-sg",)),
        Res(RULE, "open", rule_props, deps=rule_deps),
    ]


def test_world_ingress_on_the_load_balancer_group_passes() -> None:
    stack = _ingress_stack({"cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-alb", **WEB}, ("alb-sg",))
    assert check_stack(POLICIES["public-ingress-on-load-balancer-only"], stack) == []


def test_world_ingress_on_another_group_fails() -> None:
    stack = _ingress_stack({"cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-db", **WEB}, ("db-sg",))
    found = check_stack(POLICIES["public-ingress-on-load-balancer-only"], stack)
    assert [urn for urn, _ in found] == [stack[3].urn]


def test_world_ingress_with_unknown_group_and_no_dependency_is_not_reported() -> None:
    stack = _ingress_stack({"cidrIpv4": "0.0.0.0/0", "securityGroupId": UNKNOWN_STRING, **WEB}, ())
    assert check_stack(POLICIES["public-ingress-on-load-balancer-only"], stack) == []


def test_world_ingress_matched_by_dependency_when_ids_are_unknown() -> None:
    stack = _ingress_stack({"cidrIpv4": "0.0.0.0/0", "securityGroupId": UNKNOWN_STRING, **WEB}, ("alb-sg",))
    stack[2] = Res(LB, "alb", {"securityGroups": UNKNOWN_ARRAY}, deps=("alb-sg",))
    assert check_stack(POLICIES["public-ingress-on-load-balancer-only"], stack) == []


def test_inline_world_ingress_on_an_internal_load_balancer_fails() -> None:
    stack = [
        Res(SG, "alb-sg", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 80.0}]}),
        Res(LB, "alb", {"internal": True}, deps=("alb-sg",)),
    ]
    assert len(check_stack(POLICIES["public-ingress-on-load-balancer-only"], stack)) == 1


REDIRECT = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
FORWARD = [{"type": "forward", "targetGroupArn": "arn:tg"}]


def _listeners(http_actions: object, with_https: bool) -> list[Res]:
    stack = [Res(LISTENER, "http", {"protocol": "HTTP", "port": 80.0, "defaultActions": http_actions})]
    if with_https:
        stack.append(Res(LISTENER, "https", {"protocol": "HTTPS", "port": 443.0, "certificateArn": "arn:acm"}))
    return stack


def test_http_redirecting_to_https_passes() -> None:
    assert check_stack(POLICIES["http-redirects-to-https"], _listeners(REDIRECT, with_https=True)) == []


def test_http_forward_without_certificate_passes() -> None:
    assert check_stack(POLICIES["http-redirects-to-https"], _listeners(FORWARD, with_https=False)) == []


def test_http_forward_with_certificate_fails() -> None:
    found = check_stack(POLICIES["http-redirects-to-https"], _listeners(FORWARD, with_https=True))
    assert len(found) == 1 and "only redirect" in found[0][1]


def test_redirect_without_https_listener_fails() -> None:
    found = check_stack(POLICIES["http-redirects-to-https"], _listeners(REDIRECT, with_https=False))
    assert len(found) == 1 and "no HTTPS listener" in found[0][1]


def test_http_listener_with_unknown_actions_is_not_reported() -> None:
    assert check_stack(POLICIES["http-redirects-to-https"], _listeners(UNKNOWN_ARRAY, with_https=True)) == []


def test_blue_green_test_listener_on_another_port_may_forward() -> None:
    stack = [
        *_listeners(REDIRECT, True),
        Res(LISTENER, "test", {"protocol": "HTTP", "port": 8080.0, "defaultActions": FORWARD}),
    ]
    assert check_stack(POLICIES["http-redirects-to-https"], stack) == []
