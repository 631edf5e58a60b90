"""Offline policy check: `make policy STACK=<name>`.

Runs the program under mocks (tooling.mock_runtime), then runs the policy pack exactly as the Pulumi
engine does: `python -u -m pulumi.policy <engine> .` in policy/ (what the CLI's
pulumi-analyzer-policy-python shim executes), the project/stack/config in the environment, the port
read from the pack's first stdout line. Over the analyzer gRPC protocol on 127.0.0.1 it calls
ConfigureStack, GetAnalyzerInfo, Configure (policy/config.<stack>.json resolved like the engine),
Analyze for every recorded resource and AnalyzeStack for the whole stack. Prints every violation
and exits 1 on any mandatory one (2 when the check itself could not run).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tooling import pack_config
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import ROOT, StackNotFound, load_stack_files

PACK_DIR = ROOT / "policy"
# The pack never dials the engine (it only serves); the shim still passes an address as argv[1].
ENGINE_PLACEHOLDER = "127.0.0.1:0"
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # "mandatory" | "advisory" | ...
    urn: str
    message: str

    @property
    def resource(self) -> str:
        # urn:pulumi:<stack>::<project>::<type chain>::<name>
        parts = self.urn.split("::")
        return f"{parts[2].rsplit('$', 1)[-1]} {parts[3]}" if len(parts) >= 4 else (self.urn or "(stack)")


@dataclass(frozen=True)
class Report:
    stack: str
    pack: str
    resources: int
    policies: int
    config_file: str
    violations: tuple[Violation, ...]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]


def config_path(stack: str) -> Path:
    return PACK_DIR / f"config.{stack}.json"


def pack_config_for(stack: str) -> Path:
    path = config_path(stack)
    if not path.exists():  # every stack states its enforcement explicitly
        raise pack_config.PackConfigError(f"no {path.relative_to(ROOT)}: add one (see policy/config.prod.json)")
    return path


# --------------------------------------------------------------------------------------------
# The pack process


@dataclass(frozen=True)
class RunningPack:
    stub: analyzer_pb2_grpc.AnalyzerStub
    pid: int


@contextmanager
def running_pack(stack: str, project: str, config: dict[str, str]) -> Iterator[RunningPack]:
    """Start policy/__main__.py like the engine, yield a connected stub, always stop the process."""
    env = {
        **os.environ,
        "PULUMI_PROJECT": project,
        "PULUMI_STACK": stack,
        "PULUMI_DRY_RUN": "false",
        "PULUMI_CONFIG": json.dumps(config),
    }
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", ENGINE_PLACEHOLDER, "."],
        cwd=PACK_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _read_port(proc)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=STARTUP_TIMEOUT_S)
            yield RunningPack(analyzer_pb2_grpc.AnalyzerStub(channel), proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_port(proc: subprocess.Popen[str]) -> int:
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""), daemon=True).start()
    try:
        first = lines.get(timeout=STARTUP_TIMEOUT_S).strip()
    except queue.Empty:
        first = ""
    if not first.isdigit():
        proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"policy pack did not print its port (got {first!r}):\n{stderr}")
    return int(first)


# --------------------------------------------------------------------------------------------
# Requests, built the way the engine marshals resources


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    # json round trip: tuples -> lists, anything exotic -> str, as the wire format would carry it
    struct.update(json.loads(json.dumps(values, default=str)))
    return struct


def _options(r: RecordedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=list(r.ignore_changes),
        parent=r.parent or "",
        deleteBeforeReplace=r.delete_before_replace,
        deleteBeforeReplaceDefined=r.delete_before_replace,
    )


def _providers(run: ProgramRun) -> dict[str, analyzer_pb2.AnalyzerProviderResource]:
    """Provider references ("<urn>::<id>") -> the provider resource as the engine sends it."""
    found = {}
    for r in run.resources:
        if r.type.startswith("pulumi:providers:"):
            found[r.urn] = analyzer_pb2.AnalyzerProviderResource(
                type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name
            )
    return found


def _provider_for(r: RecordedResource, providers: dict[str, analyzer_pb2.AnalyzerProviderResource]) -> Any:
    return providers.get(r.provider.rsplit("::", 1)[0]) if r.provider else None


def analyze_requests(run: ProgramRun) -> list[analyzer_pb2.AnalyzeRequest]:
    providers = _providers(run)
    return [
        analyzer_pb2.AnalyzeRequest(
            type=r.type,
            properties=_struct(r.inputs),
            urn=r.urn,
            name=r.name,
            options=_options(r),
            provider=_provider_for(r, providers),
        )
        for r in run.resources
    ]


def analyze_stack_request(run: ProgramRun) -> analyzer_pb2.AnalyzeStackRequest:
    providers = _providers(run)
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=_struct(r.inputs),
                urn=r.urn,
                name=r.name,
                options=_options(r),
                provider=_provider_for(r, providers),
                parent=r.parent or "",
                dependencies=list(r.dependencies),
            )
            for r in run.resources
        ]
    )


# --------------------------------------------------------------------------------------------
# The check


def check(run: ProgramRun, project: str, config: dict[str, str], pack_config_file: Path) -> Report:
    overrides = pack_config.load_file(pack_config_file)
    with running_pack(run.stack, project, config) as pack:
        stub = pack.stub
        stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(stack=run.stack, project=project, dry_run=False, config=config)
        )
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        settings = pack_config.reconcile(info, overrides, str(pack_config_file.relative_to(ROOT)))
        stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=settings))
        violations: list[Violation] = []
        for request in analyze_requests(run):
            violations += _violations(stub.Analyze(request).diagnostics, default_urn=request.urn)
        violations += _violations(stub.AnalyzeStack(analyze_stack_request(run)).diagnostics, default_urn="")
    return Report(
        stack=run.stack,
        pack=info.name,
        resources=len(run.resources),
        policies=len(info.policies),
        config_file=str(pack_config_file.relative_to(ROOT)),
        violations=tuple(violations),
    )


def _violations(diagnostics: Iterable[analyzer_pb2.AnalyzeDiagnostic], default_urn: str) -> list[Violation]:
    return [
        Violation(
            policy=d.policyName,
            level=pack_config.LEVEL_NAMES.get(d.enforcementLevel, str(d.enforcementLevel)),
            urn=d.urn or default_urn,
            # The pack prefixes every message with the policy description; keep the specific part.
            message=d.message.split("\n", 1)[-1],
        )
        for d in diagnostics
    ]


def render(report: Report) -> str:
    lines = [
        f"policy check: stack {report.stack}: {report.resources} resources, {report.policies} policies "
        f"({report.pack}, enforcement from {report.config_file})"
    ]
    order = {"mandatory": 0, "advisory": 1}
    for v in sorted(report.violations, key=lambda v: (order.get(v.level, 2), v.policy, v.urn)):
        lines.append(f"  {v.level.upper():<9} {v.policy}: {v.resource}\n            {v.message}")
        if v.urn:
            lines.append(f"            {v.urn}")
    mandatory, advisory = len(report.mandatory), len(report.violations) - len(report.mandatory)
    verdict = "FAILED" if mandatory else "passed"
    lines.append(f"policy check {verdict} for {report.stack}: {mandatory} mandatory, {advisory} advisory violation(s)")
    return "\n".join(lines)


def _parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or ":" not in key:
            raise SystemExit(f"--set expects namespace:key=value, got {pair!r}")
        overrides[key] = yaml.safe_load(value)  # 'true', '3', '[a, b]' as they would be in the stack file
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NS:KEY=VALUE",
        help="override one stack config value for this check (e.g. flashsale:network.natStrategy=Single)",
    )
    args = parser.parse_args(argv)
    overrides = _parse_overrides(args.set)
    try:
        pack_file = pack_config_for(args.stack)
        files = load_stack_files(args.stack, overrides)
    except (StackNotFound, pack_config.PackConfigError) as e:
        print(f"policy check could not run for {args.stack}: {e}", file=sys.stderr)
        return 2
    try:
        run = run_program(args.stack, overrides)
    except Exception:  # whatever the program raises (a ConfigError, a bug): no resources to check
        print(f"policy check: the program failed under mocks for {args.stack}:", file=sys.stderr)
        traceback.print_exc()
        return 2
    try:
        report = check(run, files.project, files.config, pack_file)
    except (pack_config.PackConfigError, RuntimeError, grpc.RpcError) as e:
        print(f"policy check could not run for {args.stack}: {e}", file=sys.stderr)
        return 2
    print(render(report))
    return 1 if report.mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
