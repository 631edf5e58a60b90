"""Pack config resolution (what the engine sends to Configure) and the shipped per-stack files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from policy.registry import ALL_POLICIES
from tooling import pack_config
from tooling.stack_files import ROOT, stack_names

COST_DRIVEN = {
    "database-multi-az",
    "database-cross-region-backup",
    "redis-automatic-failover",
    "kafka-brokers-across-azs",
    "network-high-availability",
    "deletion-protection",
    "backup-retention",
}


def _info() -> analyzer_pb2.AnalyzerInfo:
    info = analyzer_pb2.AnalyzerInfo(name="pack")
    info.policies.append(analyzer_pb2.PolicyInfo(name="a", enforcementLevel=analyzer_pb2.MANDATORY))
    b = analyzer_pb2.PolicyInfo(name="b", enforcementLevel=analyzer_pb2.ADVISORY)
    b.configSchema.properties.update({"minDays": {"type": "integer", "default": 7}})
    info.policies.append(b)
    return info


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    return path


def test_all_then_per_policy_levels_and_properties(tmp_path: Path) -> None:
    path = _write(tmp_path, {"all": "advisory", "a": "mandatory", "b": {"minDays": 14}})
    resolved = pack_config.reconcile(_info(), pack_config.load_file(path), "config.json")
    assert resolved["a"].enforcementLevel == analyzer_pb2.MANDATORY
    assert resolved["b"].enforcementLevel == analyzer_pb2.ADVISORY
    assert json_format.MessageToDict(resolved["b"].properties) == {"minDays": 14}


def test_schema_defaults_are_sent(tmp_path: Path) -> None:
    resolved = pack_config.reconcile(_info(), pack_config.load_file(_write(tmp_path, {})), "config.json")
    assert json_format.MessageToDict(resolved["b"].properties) == {"minDays": 7}
    assert resolved["a"].enforcementLevel == analyzer_pb2.MANDATORY


@pytest.mark.parametrize("content", [{"a": "strict"}, {"a": 3}, ["a"], {"typo": "advisory"}])
def test_bad_config_is_rejected(tmp_path: Path, content: object) -> None:
    with pytest.raises(pack_config.PackConfigError):
        pack_config.reconcile(_info(), pack_config.load_file(_write(tmp_path, content)), "config.json")


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_has_a_config_naming_real_policies(stack: str) -> None:
    raw = json.loads((ROOT / "policy" / f"config.{stack}.json").read_text())
    assert set(raw) - {"all"} <= {p.name for p in ALL_POLICIES}


def test_prod_is_mandatory_and_dev_relaxes_only_cost_driven_rules() -> None:
    prod = json.loads((ROOT / "policy" / "config.prod.json").read_text())
    dev = json.loads((ROOT / "policy" / "config.dev.json").read_text())
    assert prod == {"all": "mandatory"}
    assert dev["all"] == "mandatory"
    assert {k for k, v in dev.items() if v == "advisory"} == COST_DRIVEN
