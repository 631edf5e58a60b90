"""The ALB, its listeners and path rules, access logs and the test listener's reach, per stack; plus the
HTTPS variant every stack gets when it names a certificate. The WAF: test_web_firewall.py."""

from __future__ import annotations

import json

import pytest

from stackconfig import StackConfig
from tests.infra.compute import (
    HTTPS_OVERRIDES,
    INGRESS,
    LISTENER,
    LISTENER_RULE,
    arn_of,
    child,
    component,
    id_of,
    load_balancer,
    services_in,
)
from tooling.mock_runtime import ProgramRun, run_program

_HTTPS_RUNS: dict[str, ProgramRun] = {}


@pytest.fixture(scope="session")
def https_run(stack: str) -> ProgramRun:
    if stack not in _HTTPS_RUNS:
        _HTTPS_RUNS[stack] = run_program(stack, overrides=HTTPS_OVERRIDES)
    assert _HTTPS_RUNS[stack].of_type(LISTENER), "the program registered no listener"
    return _HTTPS_RUNS[stack]


def listeners(run: ProgramRun) -> dict[int, dict]:
    return {int(r.inputs["port"]): r.inputs for r in run.of_type(LISTENER)}


def test_alb_is_public_hardened_and_protected_per_stack(run: ProgramRun, cfg: StackConfig) -> None:
    alb = load_balancer(run).inputs
    network = run.one("flashsale:network:Network")
    assert alb["loadBalancerType"] == "application" and alb["internal"] is False
    assert alb["subnets"] == run.outputs["publicSubnetIds"]
    assert alb["securityGroups"] == [f"{network.name}-alb-id"]
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["enableDeletionProtection"] is cfg.is_prod
    assert run.outputs["albArn"] == arn_of(load_balancer(run))
    reserved = alb.get("minimumLoadBalancerCapacity")
    assert (reserved or {}).get("capacityUnits", 0) == cfg.alb.reserved_capacity_units


def test_access_logs_go_to_a_private_encrypted_bucket(run: ProgramRun, cfg: StackConfig) -> None:
    buckets = run.of_type("aws:s3/bucket:Bucket")
    logs = load_balancer(run).inputs.get("accessLogs")
    if not cfg.alb.access_logs:
        assert not logs and not buckets
        return
    (bucket,) = buckets
    assert logs["enabled"] is True and logs["bucket"] == id_of(bucket)
    sse = run.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    policy = json.loads(run.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    writer = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert writer["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"} and writer["Action"] == "s3:PutObject"
    assert bucket.inputs.get("forceDestroy", False) is (not cfg.protect_data)


def test_listeners_follow_the_stacks_certificate(run: ProgramRun, cfg: StackConfig) -> None:
    found = listeners(run)
    if not cfg.alb.https:
        assert set(found) == {80, 8080}
        assert all(listener["protocol"] == "HTTP" for listener in found.values())
        assert found[80]["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
        assert run.outputs["url"].startswith("http://")
        return
    assert set(found) == {80, 443, 8443}
    assert found[80]["defaultActions"][0]["type"] == "redirect"
    assert all(found[p]["protocol"] == "HTTPS" for p in (443, 8443))
    assert run.outputs["url"].startswith("https://")


def test_domain_gets_a_dns_validated_certificate_and_an_alias(run: ProgramRun, cfg: StackConfig) -> None:
    certificates = run.of_type("aws:acm/certificate:Certificate")
    if not (cfg.alb.domain_name and not cfg.alb.certificate_arn):
        assert certificates == []
        return
    certificate = run.one("aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == cfg.alb.domain_name
    assert certificate.inputs["validationMethod"] == "DNS"
    records = {r.inputs["type"]: r.inputs for r in run.of_type("aws:route53/record:Record")}
    assert records["CNAME"]["zoneId"] == cfg.alb.hosted_zone_id
    validation = run.one("aws:acm/certificateValidation:CertificateValidation").inputs
    assert validation["certificateArn"] == arn_of(certificate)
    # Listeners take the certificate only after validation: it is the validation's output they reference.
    validation_urn = run.one("aws:acm/certificateValidation:CertificateValidation").urn
    for listener in run.of_type(LISTENER):
        if listener.inputs["port"] in (443, 8443):
            assert listener.inputs["certificateArn"] == validation["certificateArn"]
            assert validation_urn in listener.dependencies
    assert records["A"]["name"] == cfg.alb.domain_name and records["A"]["aliases"][0]["evaluateTargetHealth"]
    assert run.outputs["url"] == f"https://{cfg.alb.domain_name}"


def test_listeners_with_certificate_redirect_http_to_https(https_run: ProgramRun) -> None:
    found = listeners(https_run)
    assert set(found) == {80, 443, 8443}
    cert = HTTPS_OVERRIDES["flashsale:alb.certificateArn"]
    for port in (443, 8443):
        assert found[port]["protocol"] == "HTTPS" and found[port]["certificateArn"] == cert
        assert found[port]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    redirect = found[80]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert https_run.outputs["url"].startswith("https://")


def test_test_listener_is_reachable_only_from_the_configured_cidrs(run: ProgramRun, https_run: ProgramRun) -> None:
    network = run.one("flashsale:network:Network")
    for program, port, cidrs in (
        (run, 8080, ()),
        (https_run, 8443, tuple(HTTPS_OVERRIDES["flashsale:alb.testListenerCidrs"])),
    ):
        rules = [r.inputs for r in program.of_type(INGRESS) if r.inputs["fromPort"] == port]
        assert sorted(r["cidrIpv4"] for r in rules) == sorted(cidrs)
        assert all(r["securityGroupId"] == f"{network.name}-alb-id" for r in rules)


def test_each_web_service_has_path_rules_on_both_listeners(run: ProgramRun, cfg: StackConfig) -> None:
    production_listener = next(
        r
        for r in run.of_type(LISTENER)
        if int(r.inputs["port"]) in (80, 443) and r.inputs["defaultActions"][0]["type"] == "fixed-response"
    )
    test_listener = next(r for r in run.of_type(LISTENER) if int(r.inputs["port"]) in (8080, 8443))
    for svc in (s for s in services_in(cfg) if s.is_web):
        parent = component(run, svc)
        blue, green = (arn_of(child(run, parent, "aws:lb/targetGroup:TargetGroup", c)) for c in ("blue", "green"))
        for suffix, listener, weights in (
            ("production-rule", production_listener, {blue: 100, green: 0}),
            ("test-rule", test_listener, {blue: 0, green: 100}),
        ):
            rule = child(run, parent, LISTENER_RULE, suffix)
            assert rule.inputs["listenerArn"] == arn_of(listener)
            assert rule.inputs["priority"] == svc.listener_priority
            assert rule.inputs["conditions"] == [{"pathPattern": {"values": list(svc.paths)}}]
            (action,) = rule.inputs["actions"]
            assert {g["arn"]: g["weight"] for g in action["forward"]["targetGroups"]} == weights
            assert "actions" in rule.ignore_changes  # ECS rewrites the weights


def test_target_groups_check_liveness_and_drain_fast(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in (s for s in services_in(cfg) if s.is_web):
        for color in ("blue", "green"):
            group = child(run, component(run, svc), "aws:lb/targetGroup:TargetGroup", color).inputs
            assert group["targetType"] == "ip" and group["port"] == svc.port
            assert group["healthCheck"]["path"] == svc.health_check_path
            assert 10 <= group["deregistrationDelay"] <= 30


def test_ecs_infrastructure_role_is_trusted_by_ecs_with_the_lb_policy(run: ProgramRun, cfg: StackConfig) -> None:
    role = run.one("aws:iam/role:Role", f"{cfg.stack}-edge-ecs-infrastructure")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "ecs.amazonaws.com"}
    attachment = run.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{cfg.stack}-edge-ecs-infrastructure")
    # Pinned whole: the same name under service-role/ does not exist and AttachRolePolicy fails.
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    assert attachment.inputs["role"] == role.inputs.get("name", role.name)


def test_a_new_certificate_reaches_the_ecs_service(https_run: ProgramRun) -> None:
    """Giving a stack a certificate replaces its listeners and so the production rule: the service must
    take the new rule ARN. Only the target-group pair ECS swaps after a deployment may be ignored."""
    https = next(r for r in https_run.of_type(LISTENER) if r.inputs["port"] == 443)
    services = [r for r in https_run.of_type("aws:ecs/service:Service") if r.inputs.get("loadBalancers")]
    assert services
    for service in services:
        parent = https_run.by_urn(service.parent)
        production = child(https_run, parent, LISTENER_RULE, "production-rule")
        assert production.inputs["listenerArn"] == arn_of(https)
        (lb,) = service.inputs["loadBalancers"]
        assert lb["advancedConfiguration"]["productionListenerRule"] == arn_of(production)
        tracked = ("productionListenerRule", "testListenerRule", "roleArn")
        for path in service.ignore_changes:
            for field in tracked:
                full = f"loadBalancers[0].advancedConfiguration.{field}"
                assert not (full == path or full.startswith(f"{path}.") or full.startswith(f"{path}[")), (
                    f"ignore_changes {path!r} hides {field}"
                )
        assert set(service.ignore_changes) >= {
            "loadBalancers[0].targetGroupArn",
            "loadBalancers[0].advancedConfiguration.alternateTargetGroupArn",
        }
