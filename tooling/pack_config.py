"""Policy pack config (policy/config.<stack>.json) resolved the way the Pulumi engine does before it
calls the analyzer's Configure RPC: every policy starts at its own default level and schema
defaults, then the pack's initial config, then the file ("all" first, then per-policy entries).

File format (the CLI's --policy-pack-config format): {"all": "mandatory", "<policy>": "advisory",
"<policy>": {"enforcementLevel": "...", "<property>": value}}.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "disabled": analyzer_pb2.DISABLED,
    "remediate": analyzer_pb2.REMEDIATE,
}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


class PackConfigError(Exception):
    pass


@dataclass(frozen=True)
class PolicySetting:
    level: int | None  # analyzer_pb2.EnforcementLevel; None: keep the level set so far
    properties: dict[str, Any] = field(default_factory=dict)


def load_file(path: Path) -> dict[str, PolicySetting]:
    """Parse a config file into per-policy settings."""
    text = path.read_text()
    try:
        raw = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise PackConfigError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise PackConfigError(f"{path}: must be a JSON object of policy name -> level or object")
    return {name: _entry(path, name, value) for name, value in raw.items()}


def _entry(path: Path, name: str, value: Any) -> PolicySetting:
    if isinstance(value, str):
        return PolicySetting(_level(path, name, value))
    if isinstance(value, dict):
        props = dict(value)
        level = props.pop("enforcementLevel", None)
        return PolicySetting(_level(path, name, level) if level is not None else None, props)
    raise PackConfigError(f"{path}: {name}: {value!r} must be an enforcement level or an object")


def _level(path: Path, name: str, value: Any) -> int:
    if value not in LEVELS:
        raise PackConfigError(f"{path}: {name}: {value!r} is not one of {', '.join(LEVELS)}")
    return LEVELS[value]


def reconcile(
    info: analyzer_pb2.AnalyzerInfo, overrides: Mapping[str, PolicySetting], source: str
) -> dict[str, analyzer_pb2.PolicyConfig]:
    """The config the engine would send to Configure: one entry per policy of the pack."""
    names = {p.name for p in info.policies}
    unknown = sorted(set(overrides) - names - {"all"})
    if unknown:  # the engine would silently ignore these; a typo must not weaken a stack
        raise PackConfigError(f"{source}: no such policy in {info.name}: {', '.join(unknown)}")
    result: dict[str, PolicySetting] = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties)
        defaults = {k: v["default"] for k, v in schema.items() if isinstance(v, dict) and "default" in v}
        result[policy.name] = PolicySetting(policy.enforcementLevel, defaults)
    initial = {
        k: PolicySetting(v.enforcementLevel, json_format.MessageToDict(v.properties))
        for k, v in info.initialConfig.items()
    }
    for layer in (initial, overrides):
        result = _apply(result, layer)
    return {
        name: analyzer_pb2.PolicyConfig(enforcementLevel=s.level, properties=_struct(s.properties))
        for name, s in result.items()
    }


def _apply(result: dict[str, PolicySetting], layer: Mapping[str, PolicySetting]) -> dict[str, PolicySetting]:
    applied = dict(result)
    everything = layer.get("all")
    if everything is not None and everything.level is not None:
        applied = {k: PolicySetting(everything.level, v.properties) for k, v in applied.items()}
    for name, given in layer.items():
        if name == "all" or name not in applied:
            continue
        current = applied[name]
        level = given.level if given.level is not None else current.level
        applied[name] = PolicySetting(level, {**current.properties, **given.properties})
    return applied


def _struct(properties: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(properties))
    return struct
