"""No component reads the stack configuration: not the configuration package, not pulumi.Config.
(components.config is its old home: an import of it would be a component reaching for the configuration.)"""

from __future__ import annotations

import ast
from pathlib import Path

from tooling.stack_files import ROOT

CONFIGURATION_MODULES = ("components.config", "stackconfig")


def _component_modules() -> list[Path]:
    modules = sorted((ROOT / "components").glob("*.py"))
    assert len(modules) > 10, "found no component modules"
    return modules


def _is_configuration(module: str) -> bool:
    return any(module == m or module.startswith(f"{m}.") for m in CONFIGURATION_MODULES)


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def configuration_uses(source: str) -> list[str]:
    """Every import of a configuration module, and every use of pulumi.Config, in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _is_configuration(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _is_configuration(node.module):
                found.append(f"from {node.module} import ...")
            elif node.module == "components" and any(a.name == "config" for a in node.names):
                found.append("from components import config")
            elif node.module == "pulumi" and any(a.name == "Config" for a in node.names):
                found.append("from pulumi import Config")
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            if node.module == "config" or (node.module is None and any(a.name == "config" for a in node.names)):
                found.append("relative import of config")
        elif isinstance(node, ast.Attribute) and node.attr == "Config" and _is_name(node.value, "pulumi"):
            found.append("pulumi.Config")
    return found


def test_no_component_imports_the_configuration() -> None:
    offenders = {p.name: uses for p in _component_modules() if (uses := configuration_uses(p.read_text()))}
    assert not offenders, f"components must take their Args, not read the configuration: {offenders}"


def test_the_scan_finds_each_way_of_reading_the_configuration() -> None:
    for source in (
        "from components.config import CacheConfig",
        "import components.config",
        "from components import config",
        "from stackconfig.models import Stack",
        "import stackconfig",
        "from .config import X",
        "import pulumi\npulumi.Config('flashsale')",
        "from pulumi import Config",
    ):
        assert configuration_uses(source), source
    assert not configuration_uses("from components.kms import data_key\nimport pulumi_aws as aws")
