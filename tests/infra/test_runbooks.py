"""docs/runbooks.md names only what the program builds: its alarm, topic, log group, secret and WAF names exist in
each stack's record (the runbook writes them for prod; another stack's names differ only by the stack name), its
configuration keys in Pulumi.yaml, its make targets in the Makefile. A rename in the program fails here until the
runbook follows."""

from __future__ import annotations

import re

import yaml

from tooling.mock_runtime import ProgramRun
from tooling.stack_files import ROOT

RUNBOOK = (ROOT / "docs" / "runbooks.md").read_text()
TICKED = re.findall(r"`([^`\n]+)`", RUNBOOK)
# A config key may carry its value (`flashsale:waf.managedCommonRules: false`); `kafka.m7g.large` is no key.
CONFIG_KEY = re.compile(
    r"^(?:flashsale:)?(saleWindows|(?:alarms|alb|cache|capacity|database|kafka|waf)\.[A-Za-z0-9]+)(?::.*)?$"
)


def _names(run: ProgramRun, type_: str) -> set[str]:
    return {str(r.inputs.get("name")) for r in run.of_type(type_)}


def test_every_alarm_and_topic_named_exists(run: ProgramRun, stack: str) -> None:
    named = {t.replace("-prod-", f"-{stack}-") for t in TICKED if re.fullmatch(r"flashsale-prod-[a-z0-9-]+", t)}
    alarms = _names(run, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(named & alarms) >= 10, "the runbook's alarm table went missing"
    dashboards = {str(r.inputs.get("dashboardName")) for r in run.of_type("aws:cloudwatch/dashboard:Dashboard")}
    assert named <= alarms | _names(run, "aws:sns/topic:Topic") | dashboards, named - alarms


def test_log_groups_and_secrets_named_exist(run: ProgramRun, stack: str) -> None:
    groups = {m.replace("-prod-", f"-{stack}-") for t in TICKED for m in re.findall(r"/ecs/flashsale-prod-[a-z]+", t)}
    assert groups
    assert groups <= _names(run, "aws:cloudwatch/logGroup:LogGroup")
    assert "`flashsale/prod/jwt-signing-key`" in RUNBOOK
    assert f"flashsale/{stack}/jwt-signing-key" in _names(run, "aws:secretsmanager/secret:Secret")


def test_waf_rule_and_metric_names_exist(run: ProgramRun, stack: str) -> None:
    acl = run.one("aws:wafv2/webAcl:WebAcl")
    assert acl.inputs["rules"]
    for rule in acl.inputs["rules"]:
        assert f"`{rule['name']}`" in RUNBOOK
        assert f"`{rule['visibilityConfig']['metricName'].replace(stack, 'prod', 1)}`" in RUNBOOK
    assert f"'{acl.name.replace(stack, 'prod', 1)}'" in RUNBOOK  # the name prefix list-web-acls filters on


def test_config_keys_named_are_declared() -> None:
    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])
    keys = {m[1] for t in TICKED if (m := CONFIG_KEY.match(t))}
    assert {"saleWindows", "alb.reservedCapacityUnits", "waf.rateLimitPer5Min", "capacity.onDemandBase"} <= keys
    assert keys <= declared, keys - declared


def test_make_targets_named_exist() -> None:
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    used = set(re.findall(r"\bmake ([a-z-]+)", RUNBOOK))
    assert {"rollback", "verify"} <= used
    assert used <= targets, used - targets
