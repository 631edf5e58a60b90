"""The registration record of a stack: every resource the program registers, with its inputs and options.

A refactor must not change the infrastructure: tests/infra/test_registration_record.py compares the
record of each stack with tests/infra/registrations/<stack>.json. After an intentional change,
regenerate the files and review their diff like code:

    .venv/bin/python -m tests.infra.registration_record --update

Normalised (not the program's doing, so they must not fail the comparison):
- the image tag `ctx-<sha256>`: a hash of the app/ build context, so any edit under app/ changes it;
- the image digest `sha256:<hex>` the mock derives from the build inputs (the tag among them), which
  flows into the task definitions;
- the request's bookkeeping: source positions and stack traces (they move with every edited line), the
  SDK's capability flags (acceptSecrets, supportsPartialValues...) and transforms' callback tokens
  (random per run).
The clock needs no normalising: the program reads it only to drop ended sale windows and raise floors
already due, and the stacks' one window lies in 2030. Resource ids in references are the mock's
`<name>-id` (tooling/mock_outputs.py), stable by construction.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import stack_names

DIRECTORY = Path(__file__).resolve().parent / "registrations"
_CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc"
# Besides each stack as it is: variants that reach what the stack files leave out (Aurora with readers,
# HTTPS with a given certificate, several CIDRs, addresses and windows, canary and linear deployments, a
# replica in dev), so the record covers every branch and every resource made from a list.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "prod-variant": (
        "prod",
        {
            "flashsale:database.engine": "aurora-postgresql",
            "flashsale:database.auroraReaders": 2,
            "flashsale:alb.certificateArn": _CERTIFICATE,
            "flashsale:alb.domainName": "",
            "flashsale:alb.hostedZoneId": "",
            "flashsale:alb.testListenerCidrs": ["203.0.113.0/24", "2001:db8::/32"],
            "flashsale:alb.reservedCapacityUnits": 100,
            "flashsale:network.albIngressCidrs": ["198.51.100.0/24", "203.0.113.0/24"],
            "flashsale:alarms.emails": ["oncall@flashsale.example.com", "sre@flashsale.example.com"],
            "flashsale:deploy.strategy": "CANARY",
        },
    ),
    "dev-variant": (
        "dev",
        {
            "flashsale:cache.replicasPerShard": 1,
            "flashsale:database.proxy": True,
            "flashsale:deploy.strategy": "LINEAR",
            "flashsale:alb.accessLogs": True,
            "flashsale:waf.managedCommonRules": True,
            "flashsale:saleWindows": [
                {"name": "spring", "start": "2031-03-20T10:00", "end": "2031-03-20T12:00", "minTasks": 4},
                {"name": "autumn", "start": "2031-09-20T10:00", "end": "2031-09-20T12:00", "minTasks": 6},
            ],
        },
    ),
}


def records() -> list[str]:
    """Every record kept: one per stack, and the variants."""
    return [*stack_names(), *VARIANTS]


def run_record(name: str) -> ProgramRun:
    stack, overrides = VARIANTS.get(name, (name, {}))
    return run_program(stack, overrides=overrides)


_CONTEXT_TAG = re.compile(r"ctx-[0-9a-f]{64}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HOOKS = ("before_create", "after_create", "before_update", "after_update", "before_delete", "after_delete", "on_error")
_TIMEOUTS = ("create", "update", "delete", "read")


def path_for(stack: str) -> Path:
    return DIRECTORY / f"{stack}.json"


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        return _DIGEST.sub("sha256:<digest>", _CONTEXT_TAG.sub("ctx-<build-context-hash>", value))
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def _alias(alias: Any) -> dict[str, Any] | str:
    if not alias.HasField("spec"):
        return alias.urn
    spec = alias.spec
    fields = {"name": spec.name, "type": spec.type, "stack": spec.stack, "project": spec.project}
    fields["parent"] = "<none>" if spec.noParent else spec.parentUrn
    return {k: v for k, v in fields.items() if v}


def options(resource: RecordedResource) -> dict[str, Any]:
    """Every option the program sets on a registration, with unset ones left out."""
    request = resource.request
    timeouts = request.customTimeouts
    found: dict[str, Any] = {
        "protect": request.protect,
        "dependencies": sorted(request.dependencies),
        # Which input came from which resource; inputs that depend on none are already in `inputs`.
        "propertyDependencies": {k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items()) if v.urns},
        "provider": request.provider,
        "providers": dict(sorted(request.providers.items())),
        "ignoreChanges": sorted(request.ignoreChanges),
        "replaceOnChanges": sorted(request.replaceOnChanges),
        "hideDiffs": sorted(request.hideDiffs),
        "additionalSecretOutputs": sorted(request.additionalSecretOutputs),
        "aliases": [_alias(a) for a in request.aliases],
        "deleteBeforeReplace": request.deleteBeforeReplace,
        "retainOnDelete": request.retainOnDelete,
        "deletedWith": request.deletedWith,
        "replaceWith": sorted(request.replace_with),
        "importId": request.importId,
        "customTimeouts": {t: getattr(timeouts, t) for t in _TIMEOUTS if getattr(timeouts, t)},
        "hooks": {h: list(getattr(request.hooks, h)) for h in _HOOKS if getattr(request.hooks, h)},
        "transforms": len(request.transforms),
        "version": request.version,
        "pluginDownloadURL": request.pluginDownloadURL,
        "remote": request.remote,
    }
    return {k: v for k, v in found.items() if v not in (None, False, "", [], {}, 0)}


def record(run: ProgramRun) -> list[dict[str, Any]]:
    """The stack's registrations sorted by URN (registration order is not infrastructure)."""
    entries = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "inputs": r.inputs,
            "options": options(r),
        }
        for r in run.resources
    ]
    return _normalise(sorted(entries, key=lambda e: e["urn"]))


def render(entries: list[dict[str, Any]]) -> str:
    return json.dumps(entries, indent=1, sort_keys=True, default=str) + "\n"


def difference(name: str, actual: str) -> str:
    """A unified diff from the stored record `name` to `actual` ('' when they are equal)."""
    stored = path_for(name).read_text() if path_for(name).exists() else ""
    lines = difflib.unified_diff(
        stored.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"registrations/{name}.json (stored)",
        tofile=f"{name} (this program)",
    )
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rewrite the stored records from the program")
    parser.add_argument("--only", action="append", choices=records(), help="only this record (repeatable)")
    args = parser.parse_args(argv)
    changed = False
    for stack in args.only or records():
        actual = render(record(run_record(stack)))
        diff = difference(stack, actual)
        if not diff:
            print(f"{stack}: unchanged")
            continue
        changed = True
        if args.update:
            DIRECTORY.mkdir(exist_ok=True)
            path_for(stack).write_text(actual)
            print(f"{stack}: rewrote {path_for(stack).relative_to(Path.cwd())}")
        else:
            sys.stdout.write(diff)
    return 1 if changed and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())
