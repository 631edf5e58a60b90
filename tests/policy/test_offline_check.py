"""The offline check end to end: the real program under mocks, the real pack process, gRPC."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from tooling import policy_check
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import ROOT, load_stack_files, stack_names

STACKS = stack_names()
_RUNS: dict[str, ProgramRun] = {}


def _run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack)
    assert _RUNS[stack].resources, "the program registered nothing"
    return _RUNS[stack]


def _check(run: ProgramRun) -> policy_check.Report:
    files = load_stack_files(run.stack)
    return policy_check.check(run, files.project, files.config, policy_check.pack_config_for(run.stack))


def _crafted(run: ProgramRun, type_: str, name: str, inputs: dict) -> RecordedResource:
    provider = next(r for r in run.resources if r.type == "pulumi:providers:aws")
    return RecordedResource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:{run.stack}::flashsale::{type_}::{name}",
        parent=None,
        inputs=inputs,
        protect=True,
        ignore_changes=(),
        dependencies=(),
        custom=True,
        provider=f"{provider.urn}::{provider.name}-id",
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_is_clean(stack: str) -> None:
    report = _check(_run(stack))
    assert report.resources == len(_run(stack).resources) and report.policies >= 20
    assert report.mandatory == [], policy_check.render(report)


def test_broken_stack_fails_with_a_clear_message() -> None:
    run = _run("prod")
    database = _crafted(
        run,
        "aws:rds/instance:Instance",
        "open-db",
        {"publiclyAccessible": True, "storageEncrypted": True, "manageMasterUserPassword": True},
    )
    open_rule = _crafted(
        run,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "db-from-anywhere",
        {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0, "securityGroupId": "sg"},
    )
    broken = dataclasses.replace(run, resources=(*run.resources, database, open_rule))
    report = _check(broken)
    found = {(v.policy, v.resource.rsplit(" ", 1)[-1]) for v in report.mandatory}
    assert ("no-public-data-stores", "open-db") in found
    assert ("public-ingress-web-ports-only", "db-from-anywhere") in found
    assert ("public-ingress-on-load-balancer-only", "db-from-anywhere") in found
    assert "MANDATORY no-public-data-stores: aws:rds/instance:Instance open-db" in policy_check.render(report)
    assert "policy check FAILED for prod" in policy_check.render(report)


def test_dev_config_downgrades_cost_driven_rules_only() -> None:
    run = _run("dev")
    single_az_db = _crafted(
        run,
        "aws:rds/instance:Instance",
        "cheap-db",
        {"multiAz": False, "storageEncrypted": False, "manageMasterUserPassword": True},
    )
    report = _check(dataclasses.replace(run, resources=(*run.resources, single_az_db)))
    levels = {v.policy: v.level for v in report.violations if v.resource.endswith("cheap-db")}
    assert levels["database-multi-az"] == "advisory"
    assert levels["database-encryption"] == "mandatory"


def test_pack_process_is_stopped_even_on_error() -> None:
    files = load_stack_files("dev")
    with pytest.raises(RuntimeError), policy_check.running_pack("dev", files.project, files.config) as pack:
        pid = pack.pid
        raise RuntimeError("boom")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_unknown_stack_is_an_error() -> None:
    assert policy_check.main(["--stack", "no-such-stack"]) == 2


def test_stack_override_rejected_by_the_program_is_an_error() -> None:
    # stackconfig refuses what the policies would also refuse: the check stops with the program's message.
    # A subprocess, as `make policy` runs it; a failed program run leaves nothing behind in this process.
    done = subprocess.run(
        [sys.executable, "-m", "tooling.policy_check", "--stack", "dev", "--set", "flashsale:deploy.strategy=ROLLING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "flashsale:deploy.strategy" in done.stderr
