"""The workflow linter: the shipped workflows pass every layer; each project rule catches its mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tooling import lint_workflows

CHECKOUT = "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0"
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
    strategy:
      matrix:
        stack: [dev]
    steps:
      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0
        with:
          persist-credentials: false
      - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3
        with:
          role-to-assume: arn:aws:iam::123456789012:role/deploy
          aws-region: eu-west-1
      - env:
          STACK: ${{ matrix.stack }}
        run: make policy STACK="$STACK"
      - uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0
        with:
          pulumi-version: "3.200.1"
          command: up
          stack-name: dev
          policyPacks: policy
"""


def _findings(text: str, pulumi_version: str = "3.200.1") -> list[str]:
    return [f.message for f in lint_workflows.project_findings("w.yml", text, pulumi_version)]


def test_shipped_workflows_pass() -> None:
    files = lint_workflows.workflow_files()
    assert {f.name for f in files} >= {"pull-request.yml", "deploy.yml"}
    lines, ok = lint_workflows.lint(files, dependabot=lint_workflows.DEPENDABOT)
    assert ok, "\n".join(lines)
    assert "zizmor: ok" in lines


def test_good_workflow_has_no_project_findings() -> None:
    assert _findings(GOOD) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ((CHECKOUT, "actions/checkout@v6"), "not pinned to a full commit SHA"),
        ((CHECKOUT, "actions/checkout@main"), "not pinned to a full commit SHA"),
        ((CHECKOUT, CHECKOUT.split(" #")[0]), "no `# vX.Y.Z` comment"),
        (("          persist-credentials: false\n", "          persist-credentials: true\n"), "persist-credentials"),
        (("          persist-credentials: false\n", "          fetch-depth: 1\n"), "persist-credentials"),
        (('run: make policy STACK="$STACK"', "run: make policy STACK=${{ matrix.stack }}"), "inside `run:`"),
        (('          pulumi-version: "3.200.1"\n', ""), "pulumi-version is unset"),
        (('pulumi-version: "3.200.1"', 'pulumi-version: "3.199.0"'), "must be 3.200.1"),
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


def test_local_and_docker_actions_need_no_sha() -> None:
    text = GOOD.replace(f"uses: {CHECKOUT}\n        with:\n          persist-credentials: false", "uses: ./.github/a")
    assert "uses: ./.github/a" in text
    assert _findings(text) == []


def test_workflows_install_the_pulumi_cli_locked_in_uv_lock() -> None:
    """The CLI that runs `pulumi up` in CI is the version of the SDK the program was tested with."""
    locked = lint_workflows.locked_version("pulumi")
    assert locked.count(".") == 2
    for path in lint_workflows.workflow_files():
        messages = [
            f.message
            for f in lint_workflows.project_findings(path.name, path.read_text(), locked)
            if "pulumi-version" in f.message
        ]
        assert messages == [], f"{path.name}: {messages}"
        assert f'pulumi-version: "{locked}"' in path.read_text()


def test_locked_version_names_a_missing_package(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text('version = 1\n[[package]]\nname = "pulumi"\nversion = "3.1.0"\n')
    assert lint_workflows.locked_version("pulumi", lock) == "3.1.0"
    with pytest.raises(LookupError, match="pulumi-aws is not in"):
        lint_workflows.locked_version("pulumi-aws", lock)


def test_zizmor_catches_a_template_injection(tmp_path: Path) -> None:
    path = tmp_path / "injectable.yml"
    path.write_text(
        GOOD.replace('run: make policy STACK="$STACK"', 'run: echo "${{ github.event.head_commit.message }}"')
    )
    lines, ok = lint_workflows.lint([path])
    assert not ok
    assert any(line.startswith("zizmor: FAILED") and "template-injection" in line for line in lines)


def test_zizmor_wants_a_dependabot_cooldown(tmp_path: Path) -> None:
    shipped = lint_workflows.DEPENDABOT.read_text()
    assert "cooldown" in shipped
    config = tmp_path / "dependabot.yml"
    config.write_text(
        "\n".join(line for line in shipped.splitlines() if "cooldown" not in line and "default-days" not in line)
    )
    lines, ok = lint_workflows.lint(lint_workflows.workflow_files(), dependabot=config)
    assert not ok
    assert any(line.startswith("zizmor: FAILED") and "dependabot-cooldown" in line for line in lines)


def test_broken_workflow_fails_the_schema_or_actionlint(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("name: broken\non: push\njobs:\n  a:\n    steps: 3\n")
    lines, ok = lint_workflows.lint([path])
    assert not ok
    assert any("workflow schema: FAILED" in line for line in lines)


def test_main_fails_on_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "unpinned.yml"
    path.write_text(
        GOOD.replace("pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0", "pulumi/actions@v7")
    )
    assert lint_workflows.main([str(path)]) == 1
