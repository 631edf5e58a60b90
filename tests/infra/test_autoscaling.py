"""Autoscaling per service and stack: limits, target tracking, and the sale windows' scheduled floor."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

import stackconfig.load
from stackconfig import ConfigError, ServiceConfig, StackConfig
from tests.infra import sizing_by_hand as by_hand
from tests.infra.compute import child, component, load_balancer, services_in
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program

POLICY = "aws:appautoscaling/policy:Policy"
SCHEDULED = "aws:appautoscaling/scheduledAction:ScheduledAction"


def scaling(run: ProgramRun, svc: ServiceConfig) -> RecordedResource:
    return run.one("flashsale:autoscaling:ServiceAutoscaling", f"{run.stack}-{svc.name}-scaling")


def test_every_service_scales_between_its_configured_limits(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in services_in(cfg):
        target = child(run, scaling(run, svc), "aws:appautoscaling/target:Target", "target").inputs
        assert target["resourceId"] == f"service/{run.outputs['clusterName']}/{svc.name}"
        assert target["scalableDimension"] == "ecs:service:DesiredCount" and target["serviceNamespace"] == "ecs"
        assert (target["minCapacity"], target["maxCapacity"]) == (svc.min_tasks, svc.max_tasks)
        service = child(run, component(run, svc), "aws:ecs/service:Service", "service")
        assert service.inputs["desiredCount"] == svc.min_tasks and "desiredCount" in service.ignore_changes


def test_target_tracking_on_cpu_memory_and_requests(run: ProgramRun, cfg: StackConfig) -> None:
    auto = cfg.autoscaling
    for svc in services_in(cfg):
        policies = {
            r.name.removeprefix(f"{run.stack}-{svc.name}-scaling-"): r.inputs
            for r in run.children(scaling(run, svc))
            if r.type == POLICY
        }
        # A web service tracks requests per task unless the figure is derived from an unmeasured capacity.
        requests = svc.is_web and by_hand.requests_target(cfg, svc) is not None
        assert set(policies) == ({"cpu", "memory", "requests"} if requests else {"cpu", "memory"})
        for kind, target in (("cpu", auto.cpu_target_percent), ("memory", auto.memory_target_percent)):
            tracking = policies[kind]["targetTrackingScalingPolicyConfiguration"]
            assert tracking["targetValue"] == target
            assert tracking["scaleOutCooldown"] == auto.scale_out_cooldown_seconds
            assert tracking["scaleInCooldown"] == auto.scale_in_cooldown_seconds
            metric = tracking["predefinedMetricSpecification"]["predefinedMetricType"]
            assert (
                metric
                == {"cpu": "ECSServiceAverageCPUUtilization", "memory": "ECSServiceAverageMemoryUtilization"}[kind]
            )
        if requests:
            tracking = policies["requests"]["targetTrackingScalingPolicyConfiguration"]
            assert tracking["targetValue"] == by_hand.requests_target(cfg, svc) == cfg.requests_per_target(svc.name)
            queries = {q["id"]: q for q in tracking["customizedMetricSpecification"]["metrics"]}
            groups = {
                d["value"]
                for q in queries.values()
                if "metricStat" in q and q["metricStat"]["metric"]["metricName"] == "RequestCount"
                for d in q["metricStat"]["metric"]["dimensions"]
                if d["name"] == "TargetGroup"
            }
            # Both target groups: the policy keeps tracking production traffic after ECS swaps them.
            assert groups == {f"targetgroup/{run.stack}-{svc.name}-{c}/abc123" for c in ("blue", "green")}
            (result,) = [q for q in queries.values() if q.get("returnData")]
            assert result["expression"].endswith("/ tasks")
            assert queries["tasks"]["metricStat"]["metric"]["metricName"] == "RunningTaskCount"
            lb_dims = {
                d["value"]
                for q in queries.values()
                if "metricStat" in q
                for d in q["metricStat"]["metric"]["dimensions"]
                if d["name"] == "LoadBalancer"
            }
            assert lb_dims == {load_balancer_suffix(run)}


def load_balancer_suffix(run: ProgramRun) -> str:
    return f"app/{load_balancer(run).name}/abc123"


def scheduled(run: ProgramRun, svc: ServiceConfig) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in run.children(scaling(run, svc)) if r.type == SCHEDULED}


def _at(moment: datetime) -> str:
    return f"at({moment:%Y-%m-%dT%H:%M:%S})"


def test_sale_windows_raise_the_floor_before_and_restore_it_after(run: ProgramRun, cfg: StackConfig) -> None:
    if cfg.is_prod:
        assert cfg.sale_windows, "prod plans a sale window"
    for svc in services_in(cfg):
        actions = scheduled(run, svc)
        windows = [w for w in cfg.sale_windows if svc.name in w.services]
        assert len(actions) == 2 * len(windows)
        for w in windows:
            up, restore = actions[f"{svc.name}-{w.name}-floor-up"], actions[f"{svc.name}-{w.name}-floor-restore"]
            assert up["schedule"] == _at(w.start - timedelta(minutes=w.lead_minutes))
            assert up["timezone"] == restore["timezone"] == w.timezone
            floor = by_hand.window_floor(cfg, w, svc)
            assert up["scalableTargetAction"] == {"minCapacity": floor, "maxCapacity": svc.max_tasks}
            assert restore["schedule"] == _at(w.end)
            assert restore["scalableTargetAction"] == {"minCapacity": svc.min_tasks, "maxCapacity": svc.max_tasks}


def test_prod_black_friday_floor_rises_twenty_minutes_early_in_berlin_time(run: ProgramRun, cfg: StackConfig) -> None:
    if not cfg.is_prod:
        assert bool(run.of_type(SCHEDULED)) is bool(cfg.sale_windows)
        return
    api = next(s for s in cfg.services if s.name == "api")
    actions = scheduled(run, api)
    assert actions["api-black-friday-floor-up"]["schedule"] == "at(2030-11-29T08:40:00)"
    assert actions["api-black-friday-floor-up"]["timezone"] == "Europe/Berlin"
    assert actions["api-black-friday-floor-restore"]["schedule"] == "at(2030-11-29T13:00:00)"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Sets the program's clock (stackconfig.load.utc_now) to a fixed UTC time."""

    def set_to(moment: str) -> datetime:
        now = datetime.fromisoformat(moment).replace(tzinfo=UTC)
        monkeypatch.setattr(stackconfig.load, "utc_now", lambda: now)
        return now

    set_to("2026-11-01T00:00")
    return set_to


def _window(name: str, start: str, end: str, min_tasks: int, lead: int = 30) -> dict:
    return {"name": name, "start": start, "end": end, "timezone": "Europe/Berlin", "minTasks": min_tasks,
            "leadMinutes": lead}  # fmt: skip


def _target(run: ProgramRun, svc: ServiceConfig) -> dict:
    return child(run, scaling(run, svc), "aws:appautoscaling/target:Target", "target").inputs


def test_an_ended_window_is_not_deployed_and_the_plan_names_it(
    stack: str, cfg: StackConfig, clock, caplog: pytest.LogCaptureFixture
) -> None:
    clock("2026-12-02T12:00")
    api = next(s for s in cfg.services if s.is_web)
    windows = [
        _window("gone", "2026-12-01T10:00", "2026-12-01T11:00", api.max_tasks),
        _window("next", "2026-12-05T10:00", "2026-12-05T11:00", api.max_tasks),
    ]
    with caplog.at_level(logging.WARNING):
        run = run_program(stack, overrides={"flashsale:saleWindows": windows})
    assert set(scheduled(run, api)) == {f"{api.name}-next-floor-up", f"{api.name}-next-floor-restore"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("sale window gone ended 2026-12-01T11:00 Europe/Berlin: not deployed" in w for w in warnings)
    assert not any("next" in w for w in warnings)


def test_a_window_in_its_lead_time_raises_the_floor_now(stack: str, cfg: StackConfig, clock) -> None:
    api = next(s for s in cfg.services if s.is_web)
    window = _window("now", "2026-12-01T10:00", "2026-12-01T12:00", api.max_tasks, lead=60)
    # 08:30 UTC is 09:30 in Berlin: half an hour into the lead time.
    clock("2026-12-01T08:30")
    run = run_program(stack, overrides={"flashsale:saleWindows": [window]})
    assert _target(run, api)["minCapacity"] == api.max_tasks
    actions = scheduled(run, api)
    assert set(actions) == {f"{api.name}-now-floor-restore"}
    assert actions[f"{api.name}-now-floor-restore"]["scalableTargetAction"]["minCapacity"] == api.min_tasks
    # Before the lead time: the service's own floor, raised later by the scheduled action.
    clock("2026-12-01T07:59")
    run = run_program(stack, overrides={"flashsale:saleWindows": [window]})
    assert _target(run, api)["minCapacity"] == api.min_tasks
    assert set(scheduled(run, api)) == {f"{api.name}-now-floor-up", f"{api.name}-now-floor-restore"}


def test_a_window_can_target_a_worker_by_name(stack: str, cfg: StackConfig, clock) -> None:
    worker = next(s for s in cfg.services if not s.is_web)
    window = {
        "name": "drop",
        "start": "2026-12-24T18:00",
        "end": "2026-12-24T19:00",
        "timezone": "America/New_York",
        "minTasks": worker.max_tasks,
        "leadMinutes": 30,
        "services": [worker.name],
    }
    run = run_program(stack, overrides={"flashsale:saleWindows": [window]})
    actions = scheduled(run, worker)
    assert actions[f"{worker.name}-drop-floor-up"]["schedule"] == "at(2026-12-24T17:30:00)"
    assert actions[f"{worker.name}-drop-floor-up"]["timezone"] == "America/New_York"
    assert all(not scheduled(run, s) for s in cfg.services if s.is_web)


def test_overlapping_windows_for_one_service_are_refused(stack: str, cfg: StackConfig, clock) -> None:
    floor = max(s.min_tasks for s in cfg.services if s.is_web)

    def window(name: str, start: str, end: str, timezone: str) -> dict:
        return {"name": name, "start": start, "end": end, "timezone": timezone, "minTasks": floor, "leadMinutes": 30}

    web = [s.name for s in cfg.services if s.is_web]
    # 12:20 in Berlin is 11:20 UTC: with 30 minutes' lead its floor rises before the first window ends.
    overlapping = [
        window("first", "2026-12-01T10:00", "2026-12-01T11:00", "UTC"),
        window("second", "2026-12-01T12:20", "2026-12-01T13:00", "Europe/Berlin"),
    ]
    with pytest.raises(ConfigError, match=r'saleWindows = \["first", "second"\]: windows overlap .* for '):
        run_program(stack, overrides={"flashsale:saleWindows": overlapping})
    apart = [overlapping[0], window("second", "2026-12-01T12:31", "2026-12-01T13:00", "Europe/Berlin")]
    run = run_program(stack, overrides={"flashsale:saleWindows": apart})
    assert len(run.of_type(SCHEDULED)) == 2 * 2 * len(web)
