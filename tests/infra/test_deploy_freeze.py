"""Deploy freeze: a service's task definition does not change while a sale window is in progress."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pulumi import ResourceHookArgs

from components.deploy_freeze import DeployFreezeArgs, DeployFrozenError, FreezeWindow, check_task_definition_change
from tooling.mock_runtime import ProgramRun

# Black Friday in Berlin (CET, UTC+1): 09:00-13:00 local with a 20-minute lead = 07:40-12:00 UTC.
WINDOW = FreezeWindow.local("black-friday", datetime(2026, 11, 27, 9), datetime(2026, 11, 27, 13), "Europe/Berlin", 20)
OLD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/flashsale-prod-api:7"
NEW = "arn:aws:ecs:eu-west-1:123456789012:task-definition/flashsale-prod-api:8"


def _at(hour: int, minute: int = 0) -> DeployFreezeArgs:
    return DeployFreezeArgs(windows=[WINDOW], clock=lambda: datetime(2026, 11, 27, hour, minute, tzinfo=UTC))


def _update(old: str | None, new: str) -> ResourceHookArgs:
    return ResourceHookArgs(
        urn="urn:pulumi:prod::flashsale::aws:ecs/service:Service::prod-api-service",
        id="svc",
        name="prod-api-service",
        type="aws:ecs/service:Service",
        new_inputs={"taskDefinition": new, "desiredCount": 30},
        old_inputs=None if old is None else {"taskDefinition": old, "desiredCount": 10},
    )


def test_local_window_is_converted_with_its_time_zone_and_lead() -> None:
    assert WINDOW.starts == datetime(2026, 11, 27, 7, 40, tzinfo=UTC)
    assert WINDOW.ends == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("hour", "minute"), [(7, 40), (8, 0), (11, 59)])  # lead time, the sale, its last minute
def test_new_task_definition_during_a_window_is_refused_naming_it(hour: int, minute: int) -> None:
    with pytest.raises(DeployFrozenError) as refused:
        check_task_definition_change(_at(hour, minute), _update(OLD, NEW))
    message = str(refused.value)
    assert "prod-api-service" in message
    assert "sale window 'black-friday' (2026-11-27 08:40 to 2026-11-27 13:00 Europe/Berlin" in message
    assert "flashsale:deploy.allowDuringSale=true" in message


@pytest.mark.parametrize(("hour", "minute"), [(7, 39), (12, 0), (23, 0)])
def test_outside_the_window_the_release_goes_through(hour: int, minute: int) -> None:
    check_task_definition_change(_at(hour, minute), _update(OLD, NEW))


def test_other_changes_during_a_window_go_through() -> None:
    check_task_definition_change(_at(9), _update(OLD, OLD))  # e.g. the desired count only


def test_allow_during_sale_lifts_the_freeze() -> None:
    args = DeployFreezeArgs(windows=[WINDOW], allow_during_sale=True, clock=_at(9).clock)
    check_task_definition_change(args, _update(OLD, NEW))


def test_every_ecs_service_is_bound_to_the_freeze(run: ProgramRun) -> None:
    services = run.of_type("aws:ecs/service:Service")
    assert services
    assert {s.before_update_hooks for s in services} == {(f"{run.stack}-deploy-freeze",)}
