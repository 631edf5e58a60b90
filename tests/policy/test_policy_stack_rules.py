"""Every stack policy: a passing stack, a failing one, and one with props left unknown by preview."""

from __future__ import annotations

import json

from policies import RESOURCE_POLICIES, STACK_POLICIES
from policy_harness import UNKNOWN_ARRAY, UNKNOWN_BOOL, UNKNOWN_STRING, Res, check_resource, check_stack

POLICIES = {p.name: p for p in STACK_POLICIES}

LB = "aws:lb/loadBalancer:LoadBalancer"
SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENER = "aws:lb/listener:Listener"
CLUSTER = "aws:rds/cluster:Cluster"
MEMBER = "aws:rds/clusterInstance:ClusterInstance"
SERVICE = "aws:ecs/service:Service"
TARGET = "aws:appautoscaling/target:Target"

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


def _aurora(readers: int, link_by_dependency: bool = True) -> list[Res]:
    stack = [Res(CLUSTER, "db", {"engine": "aurora-postgresql"})]
    for i in range(1 + readers):
        props = {"clusterIdentifier": UNKNOWN_STRING}
        stack.append(Res(MEMBER, f"db-{i}", props, deps=("db",) if link_by_dependency else ()))
    return stack


def test_aurora_with_reader_passes() -> None:
    assert check_stack(POLICIES["database-multi-az"], _aurora(readers=1)) == []


def test_aurora_writer_only_fails() -> None:
    found = check_stack(POLICIES["database-multi-az"], _aurora(readers=0))
    assert len(found) == 1 and "1 instance" in found[0][1]


def test_aurora_members_matched_by_identifier() -> None:
    stack = [Res(CLUSTER, "db", {"clusterIdentifier": "flashsale"})]
    stack += [Res(MEMBER, f"db-{i}", {"clusterIdentifier": "flashsale"}) for i in range(2)]
    assert check_stack(POLICIES["database-multi-az"], stack) == []


def test_rds_instance_multi_az() -> None:
    policy = POLICIES["database-multi-az"]
    assert check_stack(policy, [Res("aws:rds/instance:Instance", "db", {"multiAz": True})]) == []
    assert len(check_stack(policy, [Res("aws:rds/instance:Instance", "db", {"multiAz": False})])) == 1
    assert check_stack(policy, [Res("aws:rds/instance:Instance", "db", {"multiAz": UNKNOWN_BOOL})]) == []


def test_service_with_scaling_target_passes() -> None:
    stack = [Res(SERVICE, "api", {"name": "api"}), Res(TARGET, "api-scaling", {"resourceId": UNKNOWN_STRING}, ("api",))]
    assert check_stack(POLICIES["ecs-service-autoscaled"], stack) == []


def test_service_matched_by_resource_id() -> None:
    stack = [Res(SERVICE, "api", {"name": "api"}), Res(TARGET, "t", {"resourceId": "service/flashsale/api"})]
    assert check_stack(POLICIES["ecs-service-autoscaled"], stack) == []


def test_service_without_scaling_target_fails() -> None:
    stack = [
        Res(SERVICE, "api", {"name": UNKNOWN_STRING}),
        Res(SERVICE, "relay", {"name": "relay"}),
        Res(TARGET, "api-scaling", {"resourceId": UNKNOWN_STRING}, ("api",)),
    ]
    found = check_stack(POLICIES["ecs-service-autoscaled"], stack)
    assert [urn for urn, _ in found] == [stack[1].urn]


def test_every_stack_policy_is_tested() -> None:
    tested = {
        "public-ingress-on-load-balancer-only",
        "http-redirects-to-https",
        "database-multi-az",
        "database-cross-region-backup",
        "ecs-service-autoscaled",
    }
    assert set(POLICIES) == tested


def test_required_tags_from_provider_default_tags_alone() -> None:
    policy = next(p for p in RESOURCE_POLICIES if p.name == "required-tags")
    tags = {"project": "flashsale", "environment": "dev", "managed-by": "pulumi"}
    provider = {"defaultTags": json.dumps({"tags": tags})}
    assert check_resource(policy, "aws:ecs/service:Service", {}, provider_props=provider) == []
    assert check_resource(policy, "aws:ecs/service:Service", {}, provider_props={}) != []


INSTANCE = "aws:rds/instance:Instance"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
HOME = {"region": "eu-west-1"}


def _replicated(dr_region: str) -> list[Res]:
    return [
        Res(INSTANCE, "db", {"multiAz": True}, provider_props=HOME),
        Res(REPLICATION, "copy", {"retentionPeriod": 7.0}, deps=("db",), provider_props={"region": dr_region}),
    ]


def test_instance_with_backups_replicated_to_another_region_passes() -> None:
    assert check_stack(POLICIES["database-cross-region-backup"], _replicated("eu-central-1")) == []


def test_instance_without_a_cross_region_copy_fails() -> None:
    stack = [Res(INSTANCE, "db", {"multiAz": True}, provider_props=HOME)]
    found = check_stack(POLICIES["database-cross-region-backup"], stack)
    assert [urn for urn, _ in found] == [stack[0].urn]


def test_instance_replicated_within_its_own_region_fails() -> None:
    found = check_stack(POLICIES["database-cross-region-backup"], _replicated("eu-west-1"))
    assert len(found) == 1 and "within eu-west-1" in found[0][1]


def test_read_replica_needs_no_copy_of_its_own() -> None:
    stack = [Res(INSTANCE, "replica", {"replicateSourceDb": "db"}, provider_props=HOME)]
    assert check_stack(POLICIES["database-cross-region-backup"], stack) == []


def _aurora_backed_up(rules: object) -> list[Res]:
    return [
        Res(CLUSTER, "aurora", {"engine": "aurora-postgresql"}),
        Res(PLAN, "plan", {"rules": rules}),
        Res(SELECTION, "selection", {}, deps=("aurora", "plan")),
    ]


def test_aurora_with_a_backup_plan_copying_elsewhere_passes() -> None:
    vault = "arn:aws:backup:eu-central-1:123456789012:backup-vault:v"
    rules = [{"ruleName": "r", "copyActions": [{"destinationVaultArn": vault}]}]
    assert check_stack(POLICIES["database-cross-region-backup"], _aurora_backed_up(rules)) == []


def test_aurora_with_a_plan_that_copies_nothing_fails() -> None:
    stack = _aurora_backed_up([{"ruleName": "r"}])
    found = check_stack(POLICIES["database-cross-region-backup"], stack)
    assert [urn for urn, _ in found] == [stack[0].urn]


def test_aurora_with_rules_unknown_in_preview_is_not_reported() -> None:
    assert check_stack(POLICIES["database-cross-region-backup"], _aurora_backed_up(UNKNOWN_ARRAY)) == []
