"""Autoscaling per service and stack: limits, target tracking, and the sale windows' scheduled floor."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from components.config import ConfigError, ServiceConfig, StackConfig
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
        assert set(policies) == ({"cpu", "memory", "requests"} if svc.is_web else {"cpu", "memory"})
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
        if svc.is_web:
            tracking = policies["requests"]["targetTrackingScalingPolicyConfiguration"]
            assert tracking["targetValue"] == auto.requests_per_target
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
            assert up["scalableTargetAction"] == {"minCapacity": w.min_tasks, "maxCapacity": svc.max_tasks}
            assert restore["schedule"] == _at(w.end)
            assert restore["scalableTargetAction"] == {"minCapacity": svc.min_tasks, "maxCapacity": svc.max_tasks}


def test_prod_black_friday_floor_rises_twenty_minutes_early_in_berlin_time(run: ProgramRun, cfg: StackConfig) -> None:
    if not cfg.is_prod:
        assert bool(run.of_type(SCHEDULED)) is bool(cfg.sale_windows)
        return
    api = next(s for s in cfg.services if s.name == "api")
    actions = scheduled(run, api)
    assert actions["api-black-friday-floor-up"]["schedule"] == "at(2026-11-27T08:40:00)"
    assert actions["api-black-friday-floor-up"]["timezone"] == "Europe/Berlin"
    assert actions["api-black-friday-floor-restore"]["schedule"] == "at(2026-11-27T13:00:00)"


def test_a_window_can_target_a_worker_by_name(stack: str, cfg: StackConfig) -> None:
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


def test_overlapping_windows_for_one_service_are_refused(stack: str, cfg: StackConfig) -> None:
    def window(name: str, start: str, end: str, timezone: str) -> dict:
        return {"name": name, "start": start, "end": end, "timezone": timezone, "minTasks": 1, "leadMinutes": 30}

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
