"""Queries over a recorded program run for the compute-tier tests (services, edge, scaling, alarms)."""

from __future__ import annotations

import json
from typing import Any

from stackconfig import ServiceConfig, StackConfig
from tooling.mock_outputs import mock_id, resource_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

HTTPS_OVERRIDES = {
    "flashsale:alb.certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc",
    "flashsale:alb.testListenerCidrs": ["203.0.113.0/24"],
}


def arn_of(r: RecordedResource) -> str:
    """The ARN the mocked provider gave this resource (what other resources' inputs reference)."""
    return resource_outputs(r.type, r.name, r.inputs)[1]["arn"]


def id_of(r: RecordedResource) -> str:
    return mock_id(r.name)


def component(run: ProgramRun, svc: ServiceConfig) -> RecordedResource:
    return run.one("flashsale:service:FargateService", f"{run.stack}-{svc.name}")


def child(run: ProgramRun, parent: RecordedResource, type_: str, suffix: str) -> RecordedResource:
    found = [r for r in run.children(parent) if r.type == type_ and r.name == f"{parent.name}-{suffix}"]
    assert len(found) == 1, f"{parent.name}: expected one {type_} named {parent.name}-{suffix}, found {len(found)}"
    return found[0]


def children(run: ProgramRun, parent: RecordedResource, type_: str) -> list[RecordedResource]:
    return [r for r in run.children(parent) if r.type == type_]


def ecs_service(run: ProgramRun, svc: ServiceConfig) -> RecordedResource:
    return child(run, component(run, svc), SERVICE, "service")


def containers(run: ProgramRun, svc: ServiceConfig) -> dict[str, dict[str, Any]]:
    task = child(run, component(run, svc), TASK_DEFINITION, "task")
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def services_in(cfg: StackConfig) -> list[ServiceConfig]:
    assert cfg.services, "the stack declares no service"
    return list(cfg.services)


def load_balancer(run: ProgramRun) -> RecordedResource:
    return run.one("aws:lb/loadBalancer:LoadBalancer")


def policy_documents(run: ProgramRun, role: RecordedResource) -> list[dict[str, Any]]:
    return [json.loads(p.inputs["policy"]) for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == id_of(role)]
