"""make rollback, offline: botocore's Stubber answers ECS and checks every call's parameters against the ECS
API model shipped with botocore (a misspelled parameter or a bad enum value fails the test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tooling import rollback

REGION = "eu-west-1"
CLUSTER = "flashsale-prod"
ACCOUNT = "123456789012"
DEPLOYMENT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{CLUSTER}/api/NCWGC2ZR-taawPAYrIaU5"
RAW_OUTPUTS = {
    "url": "https://shop.example.com",
    "clusterName": CLUSTER,
    "serviceNames": ["api", "relay"],
    "albArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/flashsale/abc",
    "alarmPrefix": "flashsale-prod-",
    "region": REGION,
    "taskDefinitionArns": {"api": "unused", "relay": "unused"},
}


def td(family: str, revision: int) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def ecs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ecs", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def outputs_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(RAW_OUTPUTS))
    return path


def _deployments(stub: Stubber, *found: tuple[str, str]) -> None:
    stub.add_response(
        "list_service_deployments",
        {"serviceDeployments": [{"serviceDeploymentArn": arn, "status": status} for arn, status in found]},
        {
            "cluster": CLUSTER,
            "service": "api",
            "status": ["PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED"],
        },
    )


def _service_on(stub: Stubber, arn: str) -> None:
    stub.add_response(
        "describe_services",
        {"services": [{"serviceName": "api", "status": "ACTIVE", "taskDefinition": arn}], "failures": []},
        {"cluster": CLUSTER, "services": ["api"]},
    )


def _active_pages(stub: Stubber, *pages: list[str]) -> None:
    for index, arns in enumerate(pages):
        response: dict[str, Any] = {"taskDefinitionArns": arns}
        params: dict[str, Any] = {"familyPrefix": "flashsale-api", "status": "ACTIVE", "sort": "DESC"}
        if index + 1 < len(pages):
            response["nextToken"] = f"page-{index + 1}"
        if index:
            params["nextToken"] = f"page-{index}"
        stub.add_response("list_task_definitions", response, params)


def _run(ecs_client: Any, outputs_file: Path, service: str = "api") -> int:
    return rollback.run("prod", service, outputs_file, lambda region: ecs_client)


def test_an_in_progress_deployment_is_stopped_with_rollback(
    ecs: tuple[Any, Stubber], outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = ecs
    _deployments(stub, (DEPLOYMENT, "IN_PROGRESS"))
    stub.add_response(
        "stop_service_deployment",
        {"serviceDeploymentArn": DEPLOYMENT},
        {"serviceDeploymentArn": DEPLOYMENT, "stopType": "ROLLBACK"},
    )
    assert _run(client, outputs_file) == 0
    out = capsys.readouterr().out
    assert f"stopped the IN_PROGRESS deployment {DEPLOYMENT} with ROLLBACK" in out
    assert f"cluster {CLUSTER}, {REGION}" in out


def test_a_pending_deployment_is_stopped_too(ecs: tuple[Any, Stubber], outputs_file: Path) -> None:
    client, stub = ecs
    _deployments(stub, (DEPLOYMENT, "PENDING"))
    stub.add_response(
        "stop_service_deployment",
        {"serviceDeploymentArn": DEPLOYMENT},
        {"serviceDeploymentArn": DEPLOYMENT, "stopType": "ROLLBACK"},
    )
    assert _run(client, outputs_file) == 0


def test_a_rollback_under_way_is_left_alone(
    ecs: tuple[Any, Stubber], outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second `make rollback` must neither stop again nor go back a further revision."""
    client, stub = ecs
    _deployments(stub, (DEPLOYMENT, "ROLLBACK_IN_PROGRESS"))
    assert _run(client, outputs_file) == 0  # no further stubbed call: any would fail the Stubber
    assert "already under way (ROLLBACK_IN_PROGRESS)" in capsys.readouterr().out


def test_without_a_deployment_the_service_returns_to_the_previous_active_revision(
    ecs: tuple[Any, Stubber], outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = ecs
    _deployments(stub)
    _service_on(stub, td("flashsale-api", 7))
    # Paged, newest first; :8 is newer than what runs (a release rolled back before), :6 was deregistered,
    # and a family that only shares the prefix is not this service's.
    _active_pages(
        stub,
        [td("flashsale-api", 8), td("flashsale-api", 7), td("flashsale-api-admin", 9)],
        [td("flashsale-api", 5), td("flashsale-api", 2)],
    )
    stub.add_response(
        "update_service",
        {"service": {"serviceName": "api", "taskDefinition": td("flashsale-api", 5)}},
        {"cluster": CLUSTER, "service": "api", "taskDefinition": td("flashsale-api", 5)},
    )
    assert _run(client, outputs_file) == 0
    assert "from flashsale-api:7 to flashsale-api:5" in capsys.readouterr().out


def test_no_previous_revision_fails_with_a_message(
    ecs: tuple[Any, Stubber], outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = ecs
    _deployments(stub)
    _service_on(stub, td("flashsale-api", 1))
    _active_pages(stub, [td("flashsale-api", 1)])
    assert _run(client, outputs_file) == 1
    assert "no previous ACTIVE revision of flashsale-api before flashsale-api:1" in capsys.readouterr().err


def test_an_unknown_service_in_aws_fails_with_a_message(
    ecs: tuple[Any, Stubber], outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = ecs
    stub.add_client_error(
        "list_service_deployments", "ServiceNotFoundException", "Service not found.", http_status_code=400
    )
    assert _run(client, outputs_file) == 1
    err = capsys.readouterr().err
    assert "rollback prod/api" in err
    assert "ListServiceDeployments failed: ServiceNotFoundException: Service not found." in err


def test_an_inactive_service_fails_with_a_message(
    ecs: tuple[Any, Stubber], outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stub = ecs
    _deployments(stub)
    stub.add_response(
        "describe_services",
        {"services": [], "failures": [{"arn": "arn:aws:ecs:eu-west-1:1:service/api", "reason": "MISSING"}]},
        {"cluster": CLUSTER, "services": ["api"]},
    )
    assert _run(client, outputs_file) == 1
    assert f"service api not found in cluster {CLUSTER} (MISSING)" in capsys.readouterr().err


def test_a_name_the_stack_does_not_have_is_refused_before_any_call(
    outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_client(region: str) -> Any:
        raise AssertionError("no AWS call for a bad name")

    assert rollback.run("prod", "apii", outputs_file, no_client) == 2
    assert "SERVICE=apii is not a service of this stack; one of: api, relay" in capsys.readouterr().err
    assert rollback.run("prod", "", outputs_file, no_client) == 2
    assert "SERVICE=(none given)" in capsys.readouterr().err


def test_unusable_outputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: v for k, v in RAW_OUTPUTS.items() if k != "clusterName"}))
    assert rollback.main(["--stack", "prod", "--service", "api", "--outputs", str(path)]) == 2
    assert "lack clusterName" in capsys.readouterr().err


def test_no_credentials_fails_with_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, outputs_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A real client with every credential source empty: botocore raises before sending anything.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    assert rollback.main(["--stack", "prod", "--service", "api", "--outputs", str(outputs_file)]) == 1
    assert "no AWS credentials" in capsys.readouterr().err


def test_a_task_definition_arn_without_a_revision_is_reported() -> None:
    with pytest.raises(rollback.RollbackError, match="cannot read family and revision"):
        rollback.TaskDefinition.parse("arn:aws:ecs:eu-west-1:1:task-definition/flashsale-api")
