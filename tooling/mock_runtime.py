"""Run the real program (__main__.py) under Pulumi's mock runtime and record every registration.

No CLI, no provider plugin, no cloud: the engine's side of the gRPC conversation is a MockMonitor
that records each RegisterResource request whole (parent, protect, ignoreChanges, dependencies)
and answers with tooling/mock_outputs.py. One run takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime import stack as pulumi_stack

from tooling import mock_outputs
from tooling.stack_files import ROOT, load_stack_files


@dataclass(frozen=True)
class RecordedResource:
    type: str
    name: str
    urn: str
    parent: str | None
    inputs: dict[str, Any]
    protect: bool
    ignore_changes: tuple[str, ...]
    dependencies: tuple[str, ...]
    custom: bool
    provider: str
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    before_update_hooks: tuple[str, ...] = ()  # names of the resource hooks bound to run before an update
    alias_names: tuple[str, ...] = ()  # the names of the resource's aliases (its former names)
    custom_timeouts: tuple[tuple[str, str], ...] = ()  # (operation, duration) pairs that were set
    # The whole RegisterResourceRequest, for the registration record (tests/infra/registration_record.py).
    request: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ProgramRun:
    stack: str
    resources: tuple[RecordedResource, ...]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_}{f' named {name}' if name else ''}, found {len(found)}")
        return found[0]

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)


class _Mocks(pulumi_mocks.Mocks):
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        return mock_outputs.resource_outputs(args.typ, args.name, args.inputs)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
        return mock_outputs.invoke(args.token, args.args), []  # no check failures (None crashes MockMonitor.Invoke)


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent or None,
                    inputs=rpc.deserialize_properties(request.object),
                    protect=bool(request.protect),
                    ignore_changes=tuple(request.ignoreChanges),
                    dependencies=tuple(request.dependencies),
                    custom=bool(request.custom),
                    provider=request.provider,
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    before_update_hooks=tuple(request.hooks.before_update),
                    alias_names=tuple(_alias_name(a) for a in request.aliases),
                    custom_timeouts=tuple(
                        (op, getattr(request.customTimeouts, op))
                        for op in ("create", "update", "delete")
                        if getattr(request.customTimeouts, op)
                    ),
                    request=request,
                )
            )
        return response


def _alias_name(alias) -> str:
    """An alias arrives as a spec (name, ...) or as a whole URN (name after the last `::`)."""
    return alias.spec.name if alias.HasField("spec") else alias.urn.rsplit("::", 1)[-1]


def run_program(
    stack: str, overrides: dict[str, Any] | None = None, quiet: bool = True, workdir: Path = ROOT
) -> ProgramRun:
    """Run __main__.py for `stack` (Pulumi.yaml defaults + Pulumi.<stack>.yaml + overrides).

    `workdir` is the directory the program runs in, as `pulumi up` runs it in the project folder: the
    image is built from its ./app (tests point it at a copy to change the build context).
    Raises whatever the program raises (a ConfigError for bad configuration)."""
    files = load_stack_files(stack, overrides)
    # A fresh loop before set_mocks: the runtime binds its futures to the current loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=files.project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(files.config)
    cwd, path = os.getcwd(), list(sys.path)
    sink = io.StringIO()
    try:
        os.chdir(workdir)
        sys.path.insert(0, str(ROOT))
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
            loop.run_until_complete(pulumi_stack.wait_for_rpcs())
            root = settings.get_root_resource()
            outputs = loop.run_until_complete(_resolve(dict(getattr(root, "outputs", {}) or {})))
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        settings.reset_options()
        loop.close()
        asyncio.set_event_loop(None)
    return ProgramRun(stack=stack, resources=tuple(monitor.recorded), outputs=outputs)


async def _resolve(outputs: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        resolved[key] = await pulumi.Output.from_input(value).future(with_unknowns=False)
    return resolved
