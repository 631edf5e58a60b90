"""policy/registry.py: every rule registered once, under the domain module it comes from, and a
resource policy only judges the types it governs."""

from __future__ import annotations

from pathlib import Path

from policy_harness import POLICIES, check_resource
from pulumi_policy import EnforcementLevel

from policy import registry

RULES = Path(registry.__file__).parent / "rules"
HELPERS = {"__init__", "props", "resource_types"}


def test_every_policy_is_registered_once_under_one_domain() -> None:
    names = [p.name for group in registry.BY_DOMAIN.values() for p in group]
    assert len(names) == len(set(names))
    assert set(names) == {p.name for p in registry.ALL_POLICIES}
    assert len(registry.ALL_POLICIES) == len(registry.RESOURCE_POLICIES) + len(registry.STACK_POLICIES)


def test_domains_are_the_rule_modules_and_each_has_its_tests() -> None:
    modules = {p.stem for p in RULES.glob("*.py")} - HELPERS
    assert set(registry.BY_DOMAIN) == modules
    tests = Path(__file__).parent / "rules"
    assert {p.stem for p in tests.glob("test_*.py")} >= {f"test_{m}" for m in modules}


def test_pack_is_strict_unless_a_stack_config_relaxes_it() -> None:
    assert registry.ENFORCEMENT == EnforcementLevel.MANDATORY


def test_policy_ignores_types_it_does_not_govern() -> None:
    assert check_resource(POLICIES["log-group-retention"], "aws:s3/bucket:Bucket", {}) == []
