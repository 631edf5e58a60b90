"""The image definition: hadolint-clean, built from the app lock, non-root, with a stdlib health check.

No Docker engine runs here, so the Dockerfile is checked as text against the lock and the CLI it runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reservation.runtime.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
DOCKERFILE = APP / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _stages() -> list[Stage]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())  # join continuation lines
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            base, _, name = args.partition(" AS ")
            stages.append(Stage(base.strip(), name.strip() or None))
        else:
            stages[-1].instructions.append((keyword.upper(), args.strip()))
    return stages


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None and (ROOT / ".bootstrap" / "bin" / name).exists():
        found = str(ROOT / ".bootstrap" / "bin" / name)
    assert found, f"{name} is not installed; run `make env`"
    return found


def test_hadolint_is_clean():
    result = subprocess.run([_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_app_lock_matches_app_pyproject():
    """The builder installs from app/uv.lock with --frozen: the lock must be current for app/pyproject.toml."""
    result = subprocess.run(
        [_tool("uv"), "lock", "--check", "--offline"], cwd=APP, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_ships_the_versions_the_tests_ran():
    """app/uv.lock (the image) and uv.lock (the test environment) pin the same version of every package."""

    def versions(lock: Path) -> dict[str, str]:
        return {p["name"]: p["version"] for p in tomllib.loads(lock.read_text())["package"] if "version" in p}

    image, tested = versions(APP / "uv.lock"), versions(ROOT / "uv.lock")
    assert {name: (v, tested.get(name)) for name, v in image.items() if tested.get(name) != v} == {}


def test_builder_installs_the_locked_dependencies_with_a_pinned_uv():
    stages = _stages()
    assert len(stages) >= 3, "a pinned uv stage, a builder and the runtime stage"
    uv_stage = next(s for s in stages if s.base.startswith("ghcr.io/astral-sh/uv:"))
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert uv_stage.base == f"ghcr.io/astral-sh/uv:{makefile_uv}", "the image's uv is the Makefile's uv"

    builder = next(s for s in stages if s.name == "builder")
    syncs = [r for r in builder.all("RUN") if r.startswith("uv sync")]
    assert syncs and all({"--frozen", "--no-dev", "--no-editable"} <= set(r.split()) for r in syncs), syncs
    copied = " ".join(builder.all("COPY"))
    assert "uv.lock" in copied and "pyproject.toml" in copied


def test_python_of_the_image_satisfies_the_lock():
    lock = tomllib.loads((APP / "uv.lock").read_text())
    assert lock["requires-python"] == ">=3.11"
    for stage in _stages()[1:]:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", stage.base), f"pinned slim 3.11: {stage.base}"
    assert _stages()[1].base == _stages()[-1].base, "the venv is built on the interpreter it runs on"


def test_runtime_stage_is_non_root_without_build_tools_and_checks_health():
    final = _stages()[-1]
    [user] = final.all("USER")
    assert user.split(":")[0] not in {"root", "0"}
    copies = final.all("COPY")
    assert copies == ["--from=builder /opt/venv /opt/venv"], "only the venv reaches the runtime image"
    assert not any(re.search(r"apt-get|apk|gcc|build-essential|pip install", r) for r in final.all("RUN"))
    [healthcheck] = final.all("HEALTHCHECK")
    assert healthcheck.endswith('CMD ["python", "-m", "reservation.healthcheck"]')
    assert final.all("ENTRYPOINT") == ['["reservation"]']
    assert final.all("CMD") == ['["serve"]']


def test_one_image_runs_serve_relay_and_migrate():
    commands = build_parser()._subparsers._group_actions[0].choices  # argparse keeps them here
    assert {"serve", "relay", "migrate"} <= set(commands)


def test_dockerignore_keeps_the_context_to_the_package_and_lock():
    lines = (APP / ".dockerignore").read_text().split()
    assert lines[lines.index("*") :][:4] == ["*", "!pyproject.toml", "!uv.lock", "!reservation/"]


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthcheck_exits_nonzero_when_nothing_listens(free_port):
    """The passing case runs against a live relay in test_relay_process.py."""
    env = {"PATH": "/usr/bin:/bin", "PORT": str(free_port), "RELAY_HEALTH_PORT": str(free_port)}
    command = [sys.executable, "-m", "reservation.healthcheck"]
    assert subprocess.run(command, env=env, check=False, timeout=10).returncode == 1


def test_the_builder_commands_install_a_working_non_editable_service(tmp_path):
    """Run the builder stage's own `uv sync` lines (offline, from the uv cache) outside Docker."""
    builder = next(s for s in _stages() if s.name == "builder")
    env_line = " ".join(builder.all("ENV"))
    env = dict(pair.split("=", 1) for pair in env_line.split())
    venv = tmp_path / "venv"
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)  # /opt/venv in the image
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(APP / name, src / name)
    for run in builder.all("RUN"):
        if run == "uv sync --frozen --no-dev --no-editable":  # the second sync needs the package sources
            shutil.copytree(APP / "reservation", src / "reservation", ignore=shutil.ignore_patterns("__pycache__"))
        command = [_tool("uv"), *run.split()[1:], "--offline"]
        result = subprocess.run(
            command, cwd=src, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"{run}\n{result.stdout}\n{result.stderr}"

    help_text = subprocess.run(
        [venv / "bin" / "reservation", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "{serve,migrate,relay}" in help_text
    installed = venv / "lib" / "python3.11" / "site-packages" / "reservation"
    assert (installed / "gate" / "lua" / "reserve.lua").is_file()
    assert (installed / "store" / "migrations" / "001_schema.sql").is_file()
    # The package data loads through the installed package's own loaders, and `python -m reservation` runs.
    loaders = (
        "from reservation.gate.scripts import LuaScript; from reservation.store.migrate import bundled_migrations; "
        "assert LuaScript.bundled('reserve').source; assert bundled_migrations()"
    )
    subprocess.run([venv / "bin" / "python", "-c", loaders], cwd=tmp_path, check=True, timeout=60)
    as_module = subprocess.run(
        [venv / "bin" / "python", "-m", "reservation", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert "{serve,migrate,relay}" in as_module.stdout
    # Non-editable: the code is copied into site-packages, no .pth points back at the sources.
    assert not list(venv.glob("lib/python3.11/site-packages/*.pth"))
