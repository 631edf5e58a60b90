"""The program's configuration and the policy pack agree on the values they share (allowed_values.py):
the pack's defaults are those values, and the configuration accepts what the pack accepts and refuses,
for prod, what the pack would refuse, before anything reaches `pulumi preview`."""

from __future__ import annotations

from typing import Any

import pytest

import allowed_values
from policy.registry import ALL_POLICIES
from stackconfig import NAMESPACE, ConfigError, StackConfig, parse_config
from tooling.stack_files import load_stack_files, stack_names


def _config(stack: str, **overrides: Any) -> StackConfig:
    """The program's configuration side: `stack`'s files read as the program reads them, plus overrides."""
    files = load_stack_files(stack)
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix) :]: v for k, v in files.config.items() if k.startswith(prefix)}
    return parse_config({**raw, **overrides}, project=files.project, stack=stack, region=files.config.get("aws:region"))


def _default(policy: str, key: str) -> Any:
    schema = next(p for p in ALL_POLICIES if p.name == policy).config_schema
    assert schema is not None, f"{policy} has no config schema"
    return schema.properties[key]["default"]


def test_pack_defaults_are_the_shared_values() -> None:
    assert _default("ecs-blue-green-rollback", "strategies") == list(allowed_values.DEPLOY_STRATEGIES)
    assert _default("required-tags", "requiredTags") == list(allowed_values.REQUIRED_TAGS)
    assert _default("backup-retention", "minDays") == allowed_values.MIN_BACKUP_RETENTION_DAYS
    assert _default("network-high-availability", "minZones") == allowed_values.MIN_AVAILABILITY_ZONES
    assert _default("kafka-brokers-across-azs", "minZones") == allowed_values.MIN_AVAILABILITY_ZONES


@pytest.mark.parametrize("strategy", allowed_values.DEPLOY_STRATEGIES)
def test_config_accepts_every_strategy_the_pack_accepts(strategy: str) -> None:
    assert _config("prod", **{"deploy.strategy": strategy}).deploy.strategy == strategy


def test_config_refuses_a_strategy_the_pack_refuses() -> None:
    with pytest.raises(ConfigError, match=r"deploy\.strategy = 'ROLLING': must be one of BLUE_GREEN, CANARY, LINEAR"):
        _config("dev", **{"deploy.strategy": "ROLLING"})


@pytest.mark.parametrize("days", allowed_values.LOG_RETENTION_DAYS)
def test_config_accepts_every_cloudwatch_retention(days: int) -> None:
    assert _config("dev", logRetentionDays=days).log_retention_days == days


@pytest.mark.parametrize("days", [0, 2, 10, 366, 3654])
def test_config_refuses_other_retentions(days: int) -> None:
    with pytest.raises(ConfigError, match="logRetentionDays"):
        _config("dev", logRetentionDays=days)


@pytest.mark.parametrize("stack", stack_names())
def test_program_tags_carry_every_tag_the_pack_requires(stack: str) -> None:
    assert set(allowed_values.REQUIRED_TAGS) <= set(_config(stack).tags)


def test_prod_config_refuses_fewer_backup_days_than_the_pack() -> None:
    minimum = allowed_values.MIN_BACKUP_RETENTION_DAYS
    assert _config("prod", **{"database.backupRetentionDays": minimum}).database.backup_retention_days == minimum
    with pytest.raises(ConfigError, match=r"database\.backupRetentionDays"):
        _config("prod", **{"database.backupRetentionDays": minimum - 1})


def test_prod_config_refuses_fewer_zones_than_the_pack() -> None:
    minimum = allowed_values.MIN_AVAILABILITY_ZONES
    assert _config("prod", **{"network.azCount": minimum}).network.az_count == minimum
    with pytest.raises(ConfigError, match=r"network\.azCount"):
        _config("prod", **{"network.azCount": minimum - 1})
