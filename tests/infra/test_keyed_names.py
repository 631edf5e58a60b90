"""Resources made from a list are named by what they are, and a rename keeps its URN with an alias.

Each CIDR block's rules are keyed by port and CIDR (and the email subscriptions by address), so a
removal replaces no neighbour; each carries an alias with the index name the earlier code gave it, so
the first `pulumi up` after the rename adopts the existing rule instead of replacing it. Checked on
every stack and on the variants that list several blocks (tests/infra/registration_record.py).
"""

from __future__ import annotations

import pytest

from components.network import cidr_key
from stackconfig import NAMESPACE, StackConfig, parse_config
from tests.infra.registration_record import VARIANTS, run_record
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import load_stack_files, stack_names

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
_RUNS: dict[str, tuple[ProgramRun, StackConfig]] = {}


def recorded(name: str) -> tuple[ProgramRun, StackConfig]:
    if name not in _RUNS:
        stack, overrides = VARIANTS.get(name, (name, {}))
        files = load_stack_files(stack, overrides)
        prefix = f"{NAMESPACE}:"
        raw = {k[len(prefix) :]: v for k, v in files.config.items() if k.startswith(prefix)}
        cfg = parse_config(raw, project=files.project, stack=stack, region=files.config.get("aws:region"))
        _RUNS[name] = (run_record(name), cfg)
    return _RUNS[name]


@pytest.fixture(scope="module", params=[*stack_names(), *sorted(VARIANTS)])
def record(request: pytest.FixtureRequest) -> tuple[ProgramRun, StackConfig]:
    return recorded(request.param)


def renamed(run: ProgramRun, name: str, former: str) -> RecordedResource:
    """The resource now called `name`, after checking it keeps `former`'s URN through an alias."""
    found = [r for r in run.resources if r.name == name]
    assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
    resource = found[0]
    assert former in resource.alias_names, f"{name} does not alias its former name {former}"
    # The alias names only the former name: same parent, type, stack and project, so the former URN
    # is the new one with the name swapped; nothing registered may hold it.
    former_urn = resource.urn[: -len(name)] + former
    assert former_urn not in {r.urn for r in run.resources}, f"{former_urn} is still registered"
    return resource


def test_alb_ingress_rules_are_keyed_by_port_and_cidr_and_alias_their_index(
    record: tuple[ProgramRun, StackConfig],
) -> None:
    run, cfg = record
    network = cfg.stack
    for i, cidr in enumerate(cfg.network.alb_ingress_cidrs):
        for port in (80, 443):
            rule = renamed(run, f"{network}-alb-in-{port}-{cidr_key(cidr)}", f"{network}-alb-in-{port}-{i}")
            assert (rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6")) == cidr
            assert rule.inputs["fromPort"] == port


def test_test_listener_rules_are_keyed_by_cidr_and_alias_their_index(record: tuple[ProgramRun, StackConfig]) -> None:
    run, cfg = record
    edge = f"{cfg.stack}-edge"
    for i, cidr in enumerate(cfg.alb.test_listener_cidrs):
        rule = renamed(run, f"{edge}-test-in-{cidr_key(cidr)}", f"{edge}-test-in-{i}")
        assert (rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6")) == cidr


def test_the_variants_reach_several_blocks_of_each_list() -> None:
    _, cfg = recorded("prod-variant")
    assert len(cfg.network.alb_ingress_cidrs) >= 2 and len(cfg.alb.test_listener_cidrs) >= 2
    assert any(":" in c for c in cfg.alb.test_listener_cidrs), "an IPv6 block: its colons must not reach the URN"


def test_removing_a_cidr_block_leaves_the_other_blocks_rules_alone() -> None:
    blocks = ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"]
    names = {}
    for listed in (blocks, blocks[1:]):
        result = run_program("dev", overrides={"flashsale:network.albIngressCidrs": listed})
        names[len(listed)] = {
            (r.inputs["cidrIpv4"], r.inputs["fromPort"]): r.urn
            for r in result.of_type(INGRESS)
            if r.inputs.get("cidrIpv4")
        }
    assert {k: v for k, v in names[3].items() if k[0] != blocks[0]} == names[2]
