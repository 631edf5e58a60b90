"""Post-deploy verification: `make verify STACK=<name>` (needs AWS credentials for the stack's account).

Reads the stack's outputs (`pulumi stack output --json --show-secrets -s <stack>`, or a JSON file
given with --outputs) and checks the live deployment:

1. every ECS service is steady: ACTIVE, exactly one deployment (PRIMARY), runningCount ==
   desiredCount, on the task definition revision the stack declares;
2. every target group receiving traffic from the load balancer's production listeners (ports 80
   and 443; forward actions with weight > 0, so after a blue/green shift the green group) has
   targets, all healthy;
3. the load balancer answers GET <url>/health/live with 200;
4. no CloudWatch alarm whose name starts with the stack's alarm prefix is in ALARM.

Prints one line per check and exits 1 if any failed (2 if the outputs are unusable).

Stack outputs it expects (exported by __main__.py under exactly these names):
    url                 base URL of the load balancer, e.g. "https://shop.example.com"
    clusterName         ECS cluster name
    serviceNames        list of ECS service names
    albArn              the application load balancer's ARN
    alarmPrefix         common prefix of the stack's CloudWatch alarm names
    region              AWS region of the stack
    taskDefinitionArns  map of service name -> task definition ARN (with revision) the stack declares
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

HEALTH_PATH = "/health/live"
PRODUCTION_PORTS = frozenset({80, 443})
DESCRIBE_SERVICES_BATCH = 10  # ECS API limit per call


class OutputsError(Exception):
    pass


@dataclass(frozen=True)
class StackOutputs:
    url: str
    cluster_name: str
    service_names: tuple[str, ...]
    alb_arn: str
    alarm_prefix: str
    region: str
    task_definition_arns: Mapping[str, str]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> StackOutputs:
        keys = ("url", "clusterName", "serviceNames", "albArn", "alarmPrefix", "region", "taskDefinitionArns")
        missing = [k for k in keys if raw.get(k) in (None, "", [], {})]
        if missing:
            raise OutputsError(f"stack outputs lack {', '.join(missing)} (see tooling/verify.py for the contract)")
        services, arns = raw["serviceNames"], raw["taskDefinitionArns"]
        if not isinstance(services, list) or not isinstance(arns, dict):
            raise OutputsError("serviceNames must be a list and taskDefinitionArns a map of service -> ARN")
        undeclared = [s for s in services if s not in arns]
        if undeclared:
            raise OutputsError(f"taskDefinitionArns has no entry for {', '.join(undeclared)}")
        return cls(
            url=str(raw["url"]).rstrip("/"),
            cluster_name=str(raw["clusterName"]),
            service_names=tuple(str(s) for s in services),
            alb_arn=str(raw["albArn"]),
            alarm_prefix=str(raw["alarmPrefix"]),
            region=str(raw["region"]),
            task_definition_arns={str(k): str(v) for k, v in arns.items()},
        )


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


# --------------------------------------------------------------------------------------------
# 1. ECS services


def check_services(ecs: Any, outputs: StackOutputs) -> list[CheckResult]:
    results: list[CheckResult] = []
    names = list(outputs.service_names)
    for start in range(0, len(names), DESCRIBE_SERVICES_BATCH):
        batch = names[start : start + DESCRIBE_SERVICES_BATCH]
        response = ecs.describe_services(cluster=outputs.cluster_name, services=batch)
        for failure in response.get("failures", []):
            name = failure.get("arn", "").rsplit("/", 1)[-1]
            results.append(CheckResult(f"service {name}", False, f"not found ({failure.get('reason')})"))
        for service in response.get("services", []):
            results.append(_service_result(service, outputs.task_definition_arns))
    return results


def _service_result(service: Mapping[str, Any], declared: Mapping[str, str]) -> CheckResult:
    name = service["serviceName"]
    problems = []
    if service.get("status") != "ACTIVE":
        problems.append(f"status {service.get('status')}")
    deployments = service.get("deployments", [])
    if len(deployments) != 1 or deployments[0].get("status") != "PRIMARY":
        states = ", ".join(f"{d.get('status')}/{d.get('rolloutState', '?')}" for d in deployments)
        problems.append(f"{len(deployments)} deployment(s) ({states}); a steady service has one PRIMARY")
    running, desired = service.get("runningCount"), service.get("desiredCount")
    if running != desired:
        problems.append(f"running {running} of {desired} desired task(s)")
    current = deployments[0].get("taskDefinition") if len(deployments) == 1 else service.get("taskDefinition")
    if current != declared.get(name):
        problems.append(f"runs {current}, the stack declares {declared.get(name)}")
    if problems:
        return CheckResult(f"service {name}", False, "; ".join(problems))
    return CheckResult(f"service {name}", True, f"steady, {running}/{desired} tasks on {current.rsplit('/', 1)[-1]}")


# --------------------------------------------------------------------------------------------
# 2. Target health


def active_target_groups(elbv2: Any, alb_arn: str) -> list[str]:
    """Target groups that production listeners (80/443) forward traffic to with weight > 0."""
    groups: list[str] = []
    for listener in _paged(elbv2, "describe_listeners", "Listeners", LoadBalancerArn=alb_arn):
        if listener.get("Port") not in PRODUCTION_PORTS:
            continue  # e.g. the blue/green test listener
        # describe_rules includes the listener's default rule; ECS blue/green rewrites the weights here.
        for rule in elbv2.describe_rules(ListenerArn=listener["ListenerArn"]).get("Rules", []):
            for action in rule.get("Actions", []):
                groups += [arn for arn in _forward_targets(action) if arn not in groups]
    return groups


def _forward_targets(action: Mapping[str, Any]) -> list[str]:
    if action.get("Type") != "forward":
        return []
    weighted = action.get("ForwardConfig", {}).get("TargetGroups")
    if weighted:
        return [g["TargetGroupArn"] for g in weighted if g.get("Weight", 1) > 0]
    return [action["TargetGroupArn"]] if action.get("TargetGroupArn") else []


def check_targets(elbv2: Any, outputs: StackOutputs) -> list[CheckResult]:
    groups = active_target_groups(elbv2, outputs.alb_arn)
    if not groups:
        return [CheckResult("target groups", False, "no production listener forwards to a target group")]
    results = []
    for arn in groups:
        name = arn.split(":")[-1].split("/")[1] if "/" in arn else arn
        health = elbv2.describe_target_health(TargetGroupArn=arn).get("TargetHealthDescriptions", [])
        states = [h.get("TargetHealth", {}).get("State") for h in health]
        unhealthy = [f"{h['Target']['Id']}={s}" for h, s in zip(health, states, strict=True) if s != "healthy"]
        if not health:
            results.append(CheckResult(f"targets {name}", False, "no registered targets"))
        elif unhealthy:
            results.append(CheckResult(f"targets {name}", False, f"not healthy: {', '.join(unhealthy)}"))
        else:
            results.append(CheckResult(f"targets {name}", True, f"{len(health)} healthy"))
    return results


# --------------------------------------------------------------------------------------------
# 3. HTTP health through the load balancer


def check_health(url: str, attempts: int = 3, timeout_s: float = 10.0, pause_s: float = 2.0) -> CheckResult:
    target = f"{url}{HEALTH_PATH}"
    last = ""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(target, timeout=timeout_s) as response:
                if response.status == 200:
                    return CheckResult("health", True, f"GET {target} -> 200")
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        if attempt + 1 < attempts:
            time.sleep(pause_s)
    return CheckResult("health", False, f"GET {target} -> {last} (after {attempts} attempts)")


# --------------------------------------------------------------------------------------------
# 4. Alarms


def check_alarms(cloudwatch: Any, prefix: str) -> CheckResult:
    firing: list[str] = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        firing += [a["AlarmName"] for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])]
    if firing:
        return CheckResult("alarms", False, f"in ALARM: {', '.join(sorted(firing))}")
    return CheckResult("alarms", True, f"none starting with {prefix!r} in ALARM")


# --------------------------------------------------------------------------------------------


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


def verify(
    outputs: StackOutputs, client: Callable[[str], Any], url_check: Callable[[str], CheckResult]
) -> list[CheckResult]:
    return [
        *check_services(client("ecs"), outputs),
        *check_targets(client("elbv2"), outputs),
        url_check(outputs.url),
        check_alarms(client("cloudwatch"), outputs.alarm_prefix),
    ]


def load_outputs(stack: str, outputs_file: Path | None) -> StackOutputs:
    if outputs_file is not None:
        raw = json.loads(outputs_file.read_text())
    else:
        cmd = ["pulumi", "stack", "output", "--json", "--show-secrets", "-s", stack]
        try:
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise OutputsError(f"`{' '.join(cmd)}` failed: {getattr(e, 'stderr', '') or e}") from e
        raw = json.loads(done.stdout)
    return StackOutputs.parse(raw)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a live deployment of a stack.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outputs", type=Path, help="stack outputs as JSON (default: pulumi stack output)")
    args = parser.parse_args(argv)
    try:
        outputs = load_outputs(args.stack, args.outputs)
    except (OutputsError, ValueError) as e:
        print(f"verify {args.stack}: {e}", file=sys.stderr)
        return 2
    session = boto3.session.Session(region_name=outputs.region)
    results = verify(outputs, session.client, check_health)
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok]
    print(f"verify {args.stack}: {'FAILED' if failed else 'passed'} ({len(results) - len(failed)}/{len(results)} ok)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
