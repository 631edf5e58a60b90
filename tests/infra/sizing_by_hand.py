"""What the program should size, computed here by hand from capacity/measured.yaml (not through `sizing`), so
the infra tests check the recorded floors and targets against an independent reading of the same figures."""

from __future__ import annotations

import math

import yaml

from stackconfig import SaleWindow, ServiceConfig, StackConfig
from tooling.stack_files import ROOT


def per_task(cfg: StackConfig, svc: ServiceConfig) -> float:
    """Attempts/s one task carries at the target: the median per vCPU x min(cpu / 1024, 1) (one worker)."""
    mode = "cluster" if cfg.cache.cluster_mode else "single"
    measured = yaml.safe_load((ROOT / "capacity" / "measured.yaml").read_text())["by_redis_mode"][mode]
    return float(measured["attempts_per_second_at_target"]["median"]) * min(svc.cpu / 1024, 1)


def requests_target(cfg: StackConfig, svc: ServiceConfig) -> int | None:
    """The stack's own figure, else per task x 60 x 0.7 rounded down; None (no policy) when unmeasured."""
    if cfg.autoscaling.requests_per_target:
        return cfg.autoscaling.requests_per_target
    capacity = per_task(cfg, svc)
    return math.floor(capacity * 60 * 0.7) if capacity > 0 else None


def window_floor(cfg: StackConfig, window: SaleWindow, svc: ServiceConfig) -> int:
    """minTasks, else ceil(rate / per task) kept at or above the service's floor; maxTasks when unmeasured."""
    if window.min_tasks is not None:
        return window.min_tasks
    capacity = per_task(cfg, svc)
    if capacity == 0:
        return svc.max_tasks
    return max(svc.min_tasks, math.ceil(window.expected_attempts_per_second / capacity))
