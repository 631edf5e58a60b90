"""The service's layers (app/reservation/): the import-linter contract in the root pyproject.toml holds, and it
refuses an upward import, so the layering is enforced rather than only described."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "app" / "reservation"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run the repository's contract against the `reservation` package found in package_parent."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}  # ahead of the editable install's path
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_service_keeps_its_layers():
    result = _lint(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward_import", "reported"),
    [
        ("store/store.py", "from ..http import app", "reservation.store.store -> reservation.http.app"),
        ("gate/gate.py", "from ..relay import relay", "reservation.gate.gate -> reservation.relay.relay"),
        ("http/api.py", "from ..runtime import cli", "reservation.http.api -> reservation.runtime.cli"),
        (
            "domain/models.py",
            "from ..shared import settings",
            "reservation.domain.models -> reservation.shared.settings",
        ),
        ("http/api.py", "from ..relay import relay", "reservation.http.api -> reservation.relay.relay"),
    ],
)
def test_an_upward_or_sideways_import_breaks_the_contract(tmp_path, module, upward_import, reported):
    copy = tmp_path / "reservation"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / module).open("a") as f:
        f.write(f"\n{upward_import}  # noqa: E402\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert reported in result.stdout, result.stdout


def test_a_new_top_level_module_must_be_placed_in_a_layer(tmp_path):
    copy = tmp_path / "reservation"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "misc.py").write_text('"""Not in any layer."""\n')
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "reservation.misc" in result.stdout, result.stdout
