"""The web ACL of every stack: a per-buyer limit on reservation attempts only, a high per-IP backstop on
everything, a strict per-IP limit on the admin paths, each refusing with the API's own 429; the AWS
common rule set (where configured) without its blanket block of a missing User-Agent."""

from __future__ import annotations

import json
import re

import pytest
from reservation.http.errors import error_body
from reservation.shared.cloudwatch_metrics import RESERVATION_ROUTE

from components.web_firewall import RATE_WINDOW_SECONDS, RESERVATION_PATH_PATTERN, route_pattern
from stackconfig import StackConfig
from tests.infra.compute import arn_of, id_of, load_balancer
from tests.infra.test_config import one_problem
from tooling.mock_runtime import ProgramRun

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
RATE_RULES = ("rate-limit-per-buyer", "rate-limit-per-ip", "rate-limit-admin")


def _acl(run: ProgramRun) -> dict:
    return run.one(WEB_ACL).inputs


def _rules(run: ProgramRun) -> dict[str, dict]:
    return {r["name"]: r for r in _acl(run)["rules"]}


def test_the_web_acl_guards_the_alb_and_allows_by_default(run: ProgramRun, cfg: StackConfig) -> None:
    acl = run.one(WEB_ACL)
    assert acl.inputs["scope"] == "REGIONAL" and "allow" in acl.inputs["defaultAction"]
    rules = _rules(run)
    expected = {*RATE_RULES, *(("aws-common-rule-set",) if cfg.waf.managed_common_rules else ())}
    assert set(rules) == expected
    assert len({r["priority"] for r in rules.values()}) == len(rules)
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in rules.values())
    association = run.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert association.inputs["resourceArn"] == arn_of(load_balancer(run))
    assert association.inputs["webAclArn"] == arn_of(acl)
    assert id_of(acl)


def test_the_buyer_limit_counts_reservation_attempts_per_bearer_token(run: ProgramRun, cfg: StackConfig) -> None:
    """A buyer polling availability spends nothing; only POST on the reservation route counts, per token."""
    rate = _rules(run)["rate-limit-per-buyer"]["statement"]["rateBasedStatement"]
    assert rate["aggregateKeyType"] == "CUSTOM_KEYS" and rate["limit"] == cfg.waf.rate_limit_per_5min
    (key,) = rate["customKeys"]
    assert key["header"]["name"].lower() == "authorization"
    method, path = rate["scopeDownStatement"]["andStatement"]["statements"]
    assert method["byteMatchStatement"]["fieldToMatch"] == {"method": {}}
    assert (method["byteMatchStatement"]["positionalConstraint"], method["byteMatchStatement"]["searchString"]) == (
        "EXACTLY",
        "POST",
    )
    regex = path["regexMatchStatement"]
    assert regex["fieldToMatch"] == {"uriPath": {}} and regex["regexString"] == RESERVATION_PATH_PATTERN
    # The service routes on the decoded path: so must the match.
    assert [t["type"] for t in regex["textTransformations"]] == ["URL_DECODE"]


@pytest.mark.parametrize(
    ("path", "counted"),
    [
        ("/sales/42/reservations", True),
        ("/sales/7/availability", False),
        ("/sales/42/reservations/extra", False),
        ("/sales/abc/reservations", False),  # the route takes an int: the app answers 404 without counting
        ("/reservations/0f8e4c2a-1b2c-4d5e-8f90-1234567890ab/confirm", False),
        ("/admin/sales", False),
    ],
)
def test_the_reservation_pattern_is_the_apps_route_and_nothing_else(path: str, counted: bool) -> None:
    # WAF regexes are PCRE-like; this pattern uses only what Python's re reads the same way.
    assert bool(re.search(RESERVATION_PATH_PATTERN, path)) is counted
    assert RESERVATION_PATH_PATTERN == route_pattern(RESERVATION_ROUTE) == "^/sales/[0-9]+/reservations$"


def test_the_ip_backstop_counts_everything(run: ProgramRun, cfg: StackConfig) -> None:
    rate = _rules(run)["rate-limit-per-ip"]["statement"]["rateBasedStatement"]
    assert rate["aggregateKeyType"] == "IP" and rate["limit"] == cfg.waf.ip_rate_limit_per_5min
    assert "scopeDownStatement" not in rate
    buyer = cfg.waf.rate_limit_per_5min
    assert rate["limit"] >= 10 * buyer, "the per-IP limit would block buyers sharing one address (carrier NAT)"


def test_the_admin_paths_get_a_strict_limit_per_ip(run: ProgramRun, cfg: StackConfig) -> None:
    rate = _rules(run)["rate-limit-admin"]["statement"]["rateBasedStatement"]
    assert rate["aggregateKeyType"] == "IP" and rate["limit"] == cfg.waf.admin_rate_limit_per_5min
    match = rate["scopeDownStatement"]["byteMatchStatement"]
    assert match["fieldToMatch"] == {"uriPath": {}}
    assert (match["positionalConstraint"], match["searchString"]) == ("STARTS_WITH", "/admin/")
    assert [t["type"] for t in match["textTransformations"]] == ["URL_DECODE"]
    assert rate["limit"] < cfg.waf.ip_rate_limit_per_5min


def test_every_limit_answers_with_the_apis_429_and_retry_after(run: ProgramRun) -> None:
    bodies = {b["key"]: b for b in _acl(run)["customResponseBodies"]}
    for name in RATE_RULES:
        rule = _rules(run)[name]
        assert rule["statement"]["rateBasedStatement"]["evaluationWindowSec"] == RATE_WINDOW_SECONDS
        response = rule["action"]["block"]["customResponse"]
        assert response["responseCode"] == 429, name
        assert response["responseHeaders"] == [{"name": "Retry-After", "value": str(RATE_WINDOW_SECONDS)}], name
        body = bodies[response["customResponseBodyKey"]]
        assert body["contentType"] == "APPLICATION_JSON"
        # The shape the API's own errors have (app/reservation/http/errors.py), with its limit's code.
        sent = json.loads(body["content"])
        assert set(sent) == set(json.loads(error_body("too_many_attempts", "x")))
        assert sent["error"] == "too_many_attempts" and sent["detail"]


def test_the_common_rule_set_counts_a_missing_user_agent_instead_of_blocking(run: ProgramRun, cfg: StackConfig) -> None:
    rules = _rules(run)
    if not cfg.waf.managed_common_rules:
        assert "aws-common-rule-set" not in rules
        return
    rule = rules["aws-common-rule-set"]
    assert rule["overrideAction"] == {"none": {}}
    group = rule["statement"]["managedRuleGroupStatement"]
    assert (group["vendorName"], group["name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    # Only NoUserAgent_HEADER is relaxed (API clients may send no User-Agent); SizeRestrictions_BODY keeps
    # blocking bodies over 8 KB, far above the API's largest valid body.
    assert group["ruleActionOverrides"] == [{"name": "NoUserAgent_HEADER", "actionToUse": {"count": {}}}]


def test_an_admin_limit_below_what_waf_accepts_is_refused() -> None:
    assert one_problem(waf__adminRateLimitPer5Min=5) == (
        "flashsale:waf.adminRateLimitPer5Min = 5: must be between 10 and 2000000000"
    )
