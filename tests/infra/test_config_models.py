"""The pydantic models: defaults in one place (Pulumi.yaml agrees), errors named by full key, all at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
import yaml

from stackconfig import StackConfig, parse_config
from stackconfig.keys import declared_defaults
from tests.infra.conftest import STACKS, stack_config
from tests.infra.test_config import one_problem, problems, raw_for
from tooling.stack_files import ROOT

PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def engine_encoded(value: Any) -> str:
    """A value as the engine hands it to the program: JSON for structures, lowercase booleans, text."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def parsed(raw: dict[str, str]) -> StackConfig:
    return parse_config(raw, project="flashsale", stack="dev", region="eu-west-1", now=NOW)


def test_pulumi_yaml_declares_exactly_the_keys_the_models_read() -> None:
    assert set(PROJECT) == set(declared_defaults())


@pytest.mark.parametrize("key", sorted(PROJECT))
def test_pulumi_yaml_default_is_the_models_default(key: str) -> None:
    # The model holds each default; Pulumi.yaml repeats it for `pulumi config` and the engine. Setting a key
    # to its Pulumi.yaml default must change nothing against leaving it unset.
    assert parsed({key: engine_encoded(PROJECT[key]["default"])}) == parsed({})


def test_a_changed_default_is_caught() -> None:
    # Guard for the test above: a key set to another value does change the configuration.
    assert parsed({"network.azCount": "3"}) != parsed({})


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_file_reads_like_the_engine_merges_it(stack: str) -> None:
    # Keys a stack file leaves out come from the model: the same result as the engine's Pulumi.yaml defaults.
    files_raw = raw_for(stack)
    own = {k: v for k, v in files_raw.items() if f"flashsale:{k}" in _stack_file(stack)}
    region = "eu-west-1"
    with_defaults = parse_config(files_raw, project="flashsale", stack=stack, region=region, now=NOW)
    assert parse_config(own, project="flashsale", stack=stack, region=region, now=NOW) == with_defaults


def _stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.mark.parametrize("stack", STACKS)
def test_models_are_frozen_and_keep_tuples(stack: str) -> None:
    cfg = stack_config(stack)
    with pytest.raises(pydantic.ValidationError):
        cfg.network.az_count = 9  # type: ignore[misc]
    for value in (cfg.services, cfg.kafka.topics, cfg.network.alb_ingress_cidrs, cfg.alarms.emails,
                  cfg.sale_windows, cfg.services[0].command, cfg.services[0].paths):  # fmt: skip
        assert isinstance(value, tuple)


def test_errors_inside_lists_name_the_item_and_field() -> None:
    topics = [{"name": "a", "partitions": 0}, {"name": "b", "partition": 3}, {"name": "c", "color": "red"}]
    found = problems(kafka__topics=topics)
    assert found == [
        "flashsale:kafka.topics[0].partitions = 0: must be between 1 and 1000",
        "flashsale:kafka.topics[1].partition = 3: unknown field (did you mean partitions?)",
        "flashsale:kafka.topics[2].color = 'red': unknown field; allowed fields: name, partitions, retentionHours",
    ]


def test_type_errors_and_missing_fields_in_items() -> None:
    services = [{"kind": "worker", "command": ["relay"], "cpu": "big"}]
    assert problems(services=services) == [
        "flashsale:services[0].name is missing: it is required",
        "flashsale:services[0].cpu = 'big': must be an integer",
    ]
    assert one_problem(services="api") == "flashsale:services = 'api': must be a list of objects"


def test_unknown_tier_suggests_the_declared_key() -> None:
    assert one_problem(netwrk__cidr="10.0.0.0/16") == (
        "flashsale:netwrk.cidr = '10.0.0.0/16': unknown key (did you mean flashsale:network.cidr?)"
    )
    assert one_problem(colour="blue") == "flashsale:colour = 'blue': unknown key"


def test_model_problems_rule_problems_and_unknown_keys_come_together() -> None:
    found = problems(
        "prod",
        network__azCount="9",  # the model's range
        waf__ipRateLimitPer5Min="100",  # a rule across two keys
        database__multiAz="false",  # a prod rule
        deploy__strategie="CANARY",  # an unknown key
    )
    assert sorted(found) == sorted([
        "flashsale:network.azCount = 9: must be between 2 and 3",
        "flashsale:waf.ipRateLimitPer5Min = 100: must be >= waf.rateLimitPer5Min (2000): "
        "one IP can carry many buyers (carrier NAT)",
        "flashsale:database.multiAz = false: must be true when environment is prod (or use aurora-postgresql)",
        "flashsale:deploy.strategie = 'CANARY': unknown key (did you mean flashsale:deploy.strategy?)",
    ])  # fmt: skip


def test_booleans_and_integers_are_not_confused() -> None:
    assert one_problem(database__proxy="1") == "flashsale:database.proxy = '1': must be true or false"
    readers = one_problem(database__auroraReaders="true")
    assert readers == "flashsale:database.auroraReaders = 'true': must be an integer"
    assert one_problem(database__auroraMinAcu="half") == "flashsale:database.auroraMinAcu = 'half': must be a number"
