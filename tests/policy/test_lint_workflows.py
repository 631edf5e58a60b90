"""The workflow linter: the shipped workflows pass every layer; each project rule catches its mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tooling import lint_workflows

GOOD = """
name: t
on: push
permissions:
  contents: read
jobs:
  up:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: actions/checkout@v6
      - uses: aws-actions/configure-aws-credentials@v6
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: eu-west-1
      - uses: pulumi/actions@v7
        with:
          command: up
          stack-name: dev
          policyPacks: policy
"""


def _findings(text: str) -> list[str]:
    return [f.message for f in lint_workflows.project_findings("w.yml", yaml.safe_load(text))]


def test_shipped_workflows_pass() -> None:
    files = lint_workflows.workflow_files()
    assert {f.name for f in files} >= {"pull-request.yml", "deploy.yml"}
    lines, ok = lint_workflows.lint(files)
    assert ok, "\n".join(lines)


def test_good_workflow_has_no_project_findings() -> None:
    assert _findings(GOOD) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("actions/checkout@v6", "actions/checkout@main"), "not pinned"),
        (("      id-token: write\n", "      contents: read\n"), "id-token: write"),
        (("          role-to-assume: arn:aws:iam::123456789012:role/deploy\n", ""), "without role-to-assume"),
        (("          policyPacks: policy\n", ""), "without `policyPacks: policy`"),
        (
            (
                "          aws-region: eu-west-1\n",
                "          aws-region: eu-west-1\n          aws-access-key-id: AKIA\n",
            ),
            "never access keys",
        ),
    ],
)
def test_each_project_rule_catches_its_mistake(change: tuple[str, str], fragment: str) -> None:
    old, new = change
    assert old in GOOD
    assert any(fragment in m for m in _findings(GOOD.replace(old, new)))


def test_broken_workflow_fails_the_schema_or_actionlint(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("name: broken\non: push\njobs:\n  a:\n    steps: 3\n")
    lines, ok = lint_workflows.lint([path])
    assert not ok
    assert any("workflow schema: FAILED" in line for line in lines)


def test_main_fails_on_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "unpinned.yml"
    path.write_text(GOOD.replace("pulumi/actions@v7", "pulumi/actions@main"))
    assert lint_workflows.main([str(path)]) == 1
