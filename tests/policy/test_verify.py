"""make verify, offline: botocore Stubber for ECS, ELBv2 and CloudWatch; a local http.server for the URL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tooling import verify

REGION = "eu-west-1"
TD_API = "arn:aws:ecs:eu-west-1:123456789012:task-definition/flashsale-api:7"
TD_RELAY = "arn:aws:ecs:eu-west-1:123456789012:task-definition/flashsale-relay:3"
ALB = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/flashsale/abc"
BLUE = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-blue/111"
GREEN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-green/222"
RAW_OUTPUTS = {
    "url": "http://flashsale-123.eu-west-1.elb.amazonaws.com/",
    "clusterName": "flashsale-prod",
    "serviceNames": ["api", "relay"],
    "albArn": ALB,
    "alarmPrefix": "flashsale-prod-",
    "region": REGION,
    "taskDefinitionArns": {"api": TD_API, "relay": TD_RELAY},
}
OUTPUTS = verify.StackOutputs.parse(RAW_OUTPUTS)


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def _service(name: str, td: str, running: int = 2, desired: int = 2, deployments: list | None = None) -> dict:
    return {
        "serviceName": name,
        "status": "ACTIVE",
        "runningCount": running,
        "desiredCount": desired,
        "taskDefinition": td,
        "deployments": deployments
        if deployments is not None
        else [{"status": "PRIMARY", "taskDefinition": td, "rolloutState": "COMPLETED"}],
    }


def _ecs(services: list[dict], failures: list[dict] | None = None) -> Any:
    ecs = _client("ecs")
    stub = Stubber(ecs)
    stub.add_response(
        "describe_services",
        {"services": services, "failures": failures or []},
        {"cluster": "flashsale-prod", "services": ["api", "relay"]},
    )
    stub.activate()
    return ecs


def test_steady_services_pass() -> None:
    results = verify.check_services(_ecs([_service("api", TD_API), _service("relay", TD_RELAY)]), OUTPUTS)
    assert [r.ok for r in results] == [True, True]


def test_unsteady_services_fail_with_reasons() -> None:
    rolling = [
        {"status": "PRIMARY", "taskDefinition": TD_API, "rolloutState": "IN_PROGRESS"},
        {"status": "ACTIVE", "taskDefinition": TD_API.replace(":7", ":6"), "rolloutState": "COMPLETED"},
    ]
    old = TD_RELAY.replace(":3", ":2")
    results = verify.check_services(
        _ecs([_service("api", TD_API, deployments=rolling), _service("relay", old, running=1)]), OUTPUTS
    )
    api, relay = results
    assert not api.ok and "2 deployment(s)" in api.detail
    assert not relay.ok and "running 1 of 2" in relay.detail and "the stack declares" in relay.detail


def test_missing_service_fails() -> None:
    failure = {"arn": "arn:aws:ecs:eu-west-1:123456789012:service/flashsale-prod/relay", "reason": "MISSING"}
    results = verify.check_services(_ecs([_service("api", TD_API)], [failure]), OUTPUTS)
    assert {(r.name, r.ok) for r in results} == {("service relay", False), ("service api", True)}


def _elbv2(weights: tuple[int, int], health: dict[str, list[str]]) -> Any:
    elbv2 = _client("elbv2")
    stub = Stubber(elbv2)
    https = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/flashsale/abc/443"
    test = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/flashsale/abc/8443"
    stub.add_response(
        "describe_listeners",
        {"Listeners": [{"ListenerArn": https, "Port": 443}, {"ListenerArn": test, "Port": 8443}]},
        {"LoadBalancerArn": ALB},
    )
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": BLUE, "Weight": weights[0]},
                {"TargetGroupArn": GREEN, "Weight": weights[1]},
            ]
        },
    }
    stub.add_response(
        "describe_rules",
        {
            "Rules": [
                {"RuleArn": "r1", "Priority": "100", "Actions": [forward]},
                {"RuleArn": "r0", "IsDefault": True, "Actions": [{"Type": "fixed-response"}]},
            ]
        },
        {"ListenerArn": https},
    )
    for arn, states in health.items():
        stub.add_response(
            "describe_target_health",
            {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": f"10.0.0.{i}", "Port": 8000}, "TargetHealth": {"State": s}}
                    for i, s in enumerate(states)
                ]
            },
            {"TargetGroupArn": arn},
        )
    stub.activate()
    return elbv2


def test_healthy_targets_in_the_active_group_pass() -> None:
    # After a blue/green shift only green carries weight; blue may be empty and is not checked.
    results = verify.check_targets(_elbv2((0, 100), {GREEN: ["healthy", "healthy"]}), OUTPUTS)
    assert [(r.name, r.ok) for r in results] == [("targets api-green", True)]


def test_unhealthy_or_empty_active_groups_fail() -> None:
    results = verify.check_targets(_elbv2((50, 50), {BLUE: ["healthy", "unhealthy"], GREEN: []}), OUTPUTS)
    assert [(r.name, r.ok) for r in results] == [("targets api-blue", False), ("targets api-green", False)]
    assert "10.0.0.1=unhealthy" in results[0].detail and "no registered targets" in results[1].detail


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == verify.HEALTH_PATH else 404)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"status": 200})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_health_endpoint_answering_200_passes(server: tuple[str, type[_Handler]]) -> None:
    url, _ = server
    assert verify.check_health(url, attempts=1).ok


def test_health_endpoint_failing_fails(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    handler.status = 503
    result = verify.check_health(url, attempts=2, pause_s=0)
    assert not result.ok and "HTTP 503" in result.detail


def test_unreachable_url_fails() -> None:
    result = verify.check_health("http://127.0.0.1:9", attempts=1, timeout_s=2)
    assert not result.ok


def _cloudwatch(firing: list[str]) -> Any:
    cloudwatch = _client("cloudwatch")
    stub = Stubber(cloudwatch)
    stub.add_response(
        "describe_alarms",
        {"MetricAlarms": [{"AlarmName": n, "StateValue": "ALARM"} for n in firing], "CompositeAlarms": []},
        {"AlarmNamePrefix": "flashsale-prod-", "StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
    )
    stub.activate()
    return cloudwatch


def test_no_alarm_firing_passes() -> None:
    assert verify.check_alarms(_cloudwatch([]), "flashsale-prod-").ok


def test_alarm_firing_fails() -> None:
    result = verify.check_alarms(_cloudwatch(["flashsale-prod-api-5xx"]), "flashsale-prod-")
    assert not result.ok and "flashsale-prod-api-5xx" in result.detail


def test_verify_runs_every_check(server: tuple[str, type[_Handler]]) -> None:
    url, _ = server
    outputs = verify.StackOutputs.parse({**RAW_OUTPUTS, "url": url})
    clients = {
        "ecs": _ecs([_service("api", TD_API), _service("relay", TD_RELAY)]),
        "elbv2": _elbv2((100, 0), {BLUE: ["healthy"]}),
        "cloudwatch": _cloudwatch([]),
    }
    results = verify.verify(outputs, clients.__getitem__, lambda u: verify.check_health(u, attempts=1))
    assert [r.name for r in results] == ["service api", "service relay", "targets api-blue", "health", "alarms"]
    assert all(r.ok for r in results)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({k: v for k, v in RAW_OUTPUTS.items() if k != "albArn"}, "albArn"),
        ({**RAW_OUTPUTS, "taskDefinitionArns": {"api": TD_API}}, "relay"),
        ({**RAW_OUTPUTS, "serviceNames": "api"}, "must be a list"),
    ],
)
def test_bad_outputs_are_rejected(raw: dict, fragment: str) -> None:
    with pytest.raises(verify.OutputsError, match=fragment):
        verify.StackOutputs.parse(raw)


def test_main_reports_unusable_outputs(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"url": "http://x"}))
    assert verify.main(["--stack", "prod", "--outputs", str(path)]) == 2
