"""`make plan`: the tree and counts for every stack; a bad stack file fails naming the key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tooling.mock_runtime import ProgramRun
from tooling.plan import render
from tooling.stack_files import ROOT


def test_plan_shows_the_component_tree_and_counts(run: ProgramRun) -> None:
    text = render(run)
    assert text.startswith(f"Stack {run.stack}: {len(run.resources)} resources")
    assert "└─ flashsale:network:Network" in text or "├─ flashsale:network:Network" in text
    assert f"natGateways.strategy={run.one('awsx:ec2:Vpc').inputs['natGateways']['strategy']}" in text
    counts = text.split("Resources by type:")[1]
    assert (
        f"{len(run.of_type('aws:ec2/securityGroup:SecurityGroup')):4d}  aws:ec2/securityGroup:SecurityGroup" in counts
    )


@pytest.fixture
def bad_stack() -> Iterator[str]:
    name = "test-bad-cidr"
    path = ROOT / f"Pulumi.{name}.yaml"
    path.write_text("config:\n  aws:region: eu-west-1\n  flashsale:network.cidr: 10.0.0.0/33\n")
    try:
        yield name
    finally:
        path.unlink()


def plan(stack: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tooling.plan", "--stack", stack],
        cwd=Path(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_stack_file_fails_with_the_key_named(bad_stack: str) -> None:
    result = plan(bad_stack)
    assert result.returncode == 1
    assert "flashsale:network.cidr = '10.0.0.0/33'" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_stack_is_a_clear_error() -> None:
    result = plan("no-such-stack")
    assert result.returncode == 1
    assert "no stack file Pulumi.no-such-stack.yaml" in result.stderr and "Traceback" not in result.stderr


def test_plan_shows_the_proxys_iam_auth_and_the_scoped_waf_rules(run: ProgramRun) -> None:
    text = render(run)
    if run.of_type("aws:rds/proxy:Proxy"):
        assert "auths.iamAuth=REQUIRED" in text
    acl = next(line for line in text.splitlines() if "aws:wafv2/webAcl:WebAcl" in line and "rules=" in line)
    assert "rate-limit-per-buyer(" in acl and "on POST ^/sales/[0-9]+/reservations$ -> 429" in acl
    assert "rate-limit-admin(" in acl and "per IP on /admin/ -> 429" in acl
    assert "rate-limit-per-ip(" in acl
