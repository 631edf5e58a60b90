"""The image is tagged by its build context's content, so a changed app/ pushes a new tag into the
IMMUTABLE repository (instead of a refused overwrite) and the task definitions follow its digest,
while an unchanged tree changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from components.image import context_tag
from tooling.mock_runtime import ProgramRun, run_program
from tooling.stack_files import ROOT

STACK = "dev"  # the tagging does not depend on the stack; each extra program run costs seconds


def _copy_project_app(workdir: Path) -> Path:
    app = workdir / "app"
    shutil.copytree(ROOT / "app", app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return app


def _tag(run: ProgramRun) -> str:
    return run.one("awsx:ecr:Image").inputs["imageTag"]


def _task_images(run: ProgramRun) -> dict[str, set[str]]:
    return {
        td.name: {c["image"] for c in json.loads(td.inputs["containerDefinitions"])}
        for td in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }


def _registrations(run: ProgramRun) -> list[tuple[str, str, str]]:
    """Every registration with its inputs and dependencies, order aside (the program registers concurrently)."""
    return sorted(
        (r.urn, json.dumps(r.inputs, sort_keys=True, default=str), str(sorted(r.dependencies))) for r in run.resources
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("project")
    _copy_project_app(path)
    return path


@pytest.fixture(scope="module")
def baseline(workdir: Path) -> ProgramRun:
    return run_program(STACK, workdir=workdir)


def test_every_stack_tags_the_image_by_its_context(run: ProgramRun) -> None:
    image = run.one("awsx:ecr:Image")
    assert image.inputs["imageTag"] == context_tag("./app", "./app/Dockerfile", image.inputs["platform"])
    assert image.inputs["imageTag"].startswith("ctx-")
    # Docker's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    assert len(image.inputs["imageTag"]) <= 128


def test_an_unchanged_tree_registers_exactly_the_same(workdir: Path, baseline: ProgramRun) -> None:
    again = run_program(STACK, workdir=workdir)
    assert _registrations(again) == _registrations(baseline)
    assert again.outputs["imageUri"] == baseline.outputs["imageUri"]


def test_a_changed_source_file_changes_the_tag_and_the_task_definitions_image(
    tmp_path: Path, baseline: ProgramRun
) -> None:
    app = _copy_project_app(tmp_path)
    with (app / "reservation" / "api.py").open("a") as f:
        f.write("\n# a change\n")
    changed = run_program(STACK, workdir=tmp_path)

    assert _tag(changed) != _tag(baseline)
    assert changed.outputs["imageUri"] != baseline.outputs["imageUri"]
    assert "@sha256:" in changed.outputs["imageUri"]
    images = _task_images(changed)
    assert images and all(refs == {changed.outputs["imageUri"]} for refs in images.values())
    assert all(_task_images(baseline)[name] != refs for name, refs in images.items())


def test_a_file_docker_ignores_does_not_change_the_tag(tmp_path: Path, baseline: ProgramRun) -> None:
    app = _copy_project_app(tmp_path)
    assert "**/__pycache__" in (app / ".dockerignore").read_text()
    (app / "reservation" / "__pycache__").mkdir()
    (app / "reservation" / "__pycache__" / "api.cpython-311.pyc").write_bytes(b"\x00compiled")
    (app / "notes.txt").write_text("not sent to docker: '*' ignores it")
    assert _tag(run_program(STACK, workdir=tmp_path)) == _tag(baseline)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY run.sh /\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / ".dockerignore").write_text("# comment\n*.log\n")
    return tmp_path


def _context_tag(context: Path, platform: str = "linux/arm64") -> str:
    return context_tag(str(context), str(context / "Dockerfile"), platform)


def test_the_exec_bit_and_the_platform_count_but_mtimes_do_not(context: Path) -> None:
    tag = _context_tag(context)
    (context / "run.sh").touch()
    (context / "build.log").write_text("ignored")
    assert _context_tag(context) == tag
    (context / "run.sh").chmod(0o755)
    assert _context_tag(context) != tag
    assert _context_tag(context, "linux/amd64") != _context_tag(context)


def test_a_renamed_file_changes_the_tag(context: Path) -> None:
    tag = _context_tag(context)
    (context / "run.sh").rename(context / "start.sh")
    assert _context_tag(context) != tag


def test_a_missing_context_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        context_tag(str(tmp_path / "nope"), str(tmp_path / "nope" / "Dockerfile"), "linux/arm64")
