"""The stack's configuration as the engine would hand it to the program: Pulumi.yaml defaults
overlaid with Pulumi.<stack>.yaml, values encoded the way the language host receives them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class StackNotFound(Exception):
    pass


@dataclass(frozen=True)
class StackFiles:
    project: str
    stack: str
    config: dict[str, str]  # "namespace:key" -> engine-encoded string


def stack_names(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _encode(value: Any) -> str:
    # Scalars reach the program as strings, structured values as JSON (as the CLI does).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def load_stack_files(stack: str, overrides: dict[str, Any] | None = None, root: Path = ROOT) -> StackFiles:
    project_file = yaml.safe_load((root / "Pulumi.yaml").read_text())
    project = project_file["name"]
    stack_path = root / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        raise StackNotFound(f"no stack file {stack_path.name}; stacks here: {', '.join(stack_names(root))}")
    stack_config = (yaml.safe_load(stack_path.read_text()) or {}).get("config") or {}

    merged: dict[str, Any] = {}
    for key, declaration in (project_file.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            merged[full] = declaration["default"]
        elif not isinstance(declaration, dict):
            merged[full] = declaration
    merged.update(stack_config)
    merged.update(overrides or {})
    return StackFiles(project=project, stack=stack, config={k: _encode(v) for k, v in merged.items()})
