"""What the stack sizes from the measured capacity: each sale window's floor from its expectedAttemptsPerSecond,
the data tiers' check against that rate, and the derived autoscaling.requestsPerTarget.

The arithmetic is the `sizing` package's (make capacity uses the same); this module maps the configuration to
it and turns its results into floors, problems (keys named) and plan warnings.

When the measured capacity at the latency target is unknown (median 0 in capacity/measured.yaml) nothing is
divided by it and no other figure stands in for it: a window sized by rate gets the service's maxTasks (the one
floor that cannot be too low, at a cost the stack already accepts), a derived requestsPerTarget gives no
request-count policy (CPU and memory tracking remain), and the plan warns naming the key either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from components.kafka import replication
from sizing import SizingError
from sizing import measured as sizing_measured
from sizing.arithmetic import (
    ALB,
    REQUESTS_HEADROOM,
    DataTier,
    data_tier_loads,
    requests_per_target,
    task_capacity,
    tasks_for,
)
from sizing.measured import WorkerCapacity
from sizing.tiers import Tiers
from stackconfig.compute import AutoscalingConfig, SaleWindow, ServiceConfig
from stackconfig.data import CacheConfig, KafkaConfig
from stackconfig.edge import AlbConfig
from stackconfig.errors import fail
from stackconfig.network import NetworkConfig

RATE_KEY = "expectedAttemptsPerSecond"
REQUESTS_KEY = "autoscaling.requestsPerTarget"


@dataclass(frozen=True)
class WindowFloor:
    """One window's floor for one service it raises; `rate` and `per_task` when sized from the rate."""

    window: str
    service: str
    floor: int
    rate: float | None = None
    per_task: float | None = None  # attempts/s one task carries at the target; None: unknown or not needed


@dataclass(frozen=True)
class StackSizing:
    floors: tuple[WindowFloor, ...] = ()
    requests_per_target: tuple[tuple[str, int | None], ...] = ()  # web service -> target; None: no such policy
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the plan prints about each figure it derived

    def floor(self, window: str, service: str) -> int:
        return next(f.floor for f in self.floors if (f.window, f.service) == (window, service))

    def requests_for(self, service: str) -> int | None:
        return dict(self.requests_per_target).get(service)


def redis_mode(cache: CacheConfig) -> str:
    """Which of measured.yaml's Redis modes the stack runs."""
    return "cluster" if cache.cluster_mode else "single"


def data_tier(network: NetworkConfig, kafka: KafkaConfig, alb: AlbConfig) -> DataTier:
    """The stack's tiers behind the tasks, as the sizing arithmetic takes them."""
    brokers = kafka.broker_count(network.az_count)
    factor, _ = replication(brokers)
    return DataTier(brokers, kafka.instance_type, factor, alb.reserved_capacity_units)


class _Figures:
    """measured.yaml and tiers.yaml, read once and only when a key needs them."""

    def __init__(self, mode: str):
        self.mode = mode
        self._read: tuple[WorkerCapacity, Tiers] | None = None

    def get(self) -> tuple[WorkerCapacity, Tiers]:
        if self._read is None:
            self._read = (sizing_measured.load(self.mode), Tiers.load())
        return self._read


def size_stack(
    windows: Sequence[tuple[int, SaleWindow]],
    services: tuple[ServiceConfig, ...],
    autoscaling: AutoscalingConfig,
    cache: CacheConfig,
    stack: DataTier,
    figures: Callable[[], tuple[WorkerCapacity, Tiers]] | None = None,
) -> tuple[StackSizing, list[str]]:
    """Floors of the deployed `windows` (with their index in saleWindows) and each web service's requests per
    target, and the problems that stop the deploy. `figures` reads measured.yaml and tiers.yaml (tests pass
    their own)."""
    read = figures or _Figures(redis_mode(cache)).get
    by_name = {s.name: s for s in services}
    floors: list[WindowFloor] = []
    warnings: list[str] = []
    notes: list[str] = []
    problems: list[str] = []

    def figures_for(key: str, value: object) -> tuple[WorkerCapacity, Tiers] | None:
        try:
            return read()
        except SizingError as err:
            problems.append(fail(key, value, f"is sized from the measured capacity, which cannot be read: {err}"))
            return None

    for i, window in windows:
        if window.min_tasks is not None:
            floors += [WindowFloor(window.name, name, window.min_tasks) for name in window.services]
            continue
        key, rate = f"saleWindows[{i}].{RATE_KEY}", window.expected_attempts_per_second
        assert rate is not None  # stackconfig/rules.py: exactly one of the two
        found = figures_for(key, rate)
        if found is None:
            continue
        worker, tiers = found
        for name in window.services:
            svc = by_name[name]
            floor = _window_floor(key, rate, window, svc, worker, tiers, warnings, problems)
            if floor is not None:
                floors.append(floor)
                notes.append(_floor_note(floor, svc, worker))
        warnings += _short_tiers(key, rate, stack, tiers)

    derived = autoscaling.requests_per_target == 0
    targets = []
    for svc in (s for s in services if s.is_web):
        if not derived:
            targets.append((svc.name, autoscaling.requests_per_target))
            continue
        found = figures_for(REQUESTS_KEY, 0)
        if found is None:
            continue
        worker, tiers = found
        per_task = task_capacity(worker.attempts_per_second_at_target, svc.cpu, tiers)
        if not worker.known:
            targets.append((svc.name, None))
            warnings.append(fail(REQUESTS_KEY, 0, f"derived, but {worker.unknown_because}: service {svc.name} "
                                 "tracks CPU and memory only, not ALB requests per task (or set the key)"))  # fmt: skip
            continue
        target = requests_per_target(per_task)
        targets.append((svc.name, target))
        notes.append(f"{REQUESTS_KEY} for service {svc.name}: {target:,} requests per task per minute = "
                     f"{per_task:,.1f} attempts/s per task x 60 x {REQUESTS_HEADROOM} (derived)")  # fmt: skip
    return StackSizing(tuple(floors), tuple(targets), tuple(warnings), tuple(notes)), list(dict.fromkeys(problems))


def _window_floor(
    key: str,
    rate: float,
    window: SaleWindow,
    svc: ServiceConfig,
    worker: WorkerCapacity,
    tiers: Tiers,
    warnings: list[str],
    problems: list[str],
) -> WindowFloor | None:
    if not worker.known:
        warnings.append(fail(key, rate, f"cannot be sized: {worker.unknown_because}; the window raises service "
                             f"{svc.name} to its maxTasks ({svc.max_tasks}) instead"))  # fmt: skip
        return WindowFloor(window.name, svc.name, svc.max_tasks, rate)
    per_task = task_capacity(worker.attempts_per_second_at_target, svc.cpu, tiers)
    needed = tasks_for(rate, per_task)
    if needed > svc.max_tasks:
        problems.append(fail(key, rate, f"needs {needed} tasks of service {svc.name} ({per_task:,.1f} attempts/s "
                             f"each at the latency target): must need <= its maxTasks ({svc.max_tasks})"))  # fmt: skip
        return None
    # Below the service's own floor the window would lower it for the sale: the service's floor carries the rate.
    return WindowFloor(window.name, svc.name, max(needed, svc.min_tasks), rate, per_task)


def _floor_note(floor: WindowFloor, svc: ServiceConfig, worker: WorkerCapacity) -> str:
    head = (
        f"sale window {floor.window}: {floor.rate:,.0f} expected attempts/s -> floor {floor.floor} tasks of {svc.name}"
    )
    if floor.per_task is None:
        return f"{head} (its maxTasks: the capacity at the latency target is unknown)"
    return (
        f"{head} ({floor.per_task:,.1f} attempts/s per {svc.cpu}-unit task at p99 <= 50 ms, Redis {worker.redis}, "
        f"capacity/measured.yaml{'; its minTasks' if floor.floor == svc.min_tasks else ''})"
    )


def _short_tiers(key: str, rate: float, stack: DataTier, tiers: Tiers) -> list[str]:
    """A warning per tier that would not carry the rate (the ALB: not at once, beyond alb.reservedCapacityUnits)."""
    out = []
    for load in data_tier_loads(rate, stack, tiers).values():
        if not load.short:
            continue
        if load.tier == ALB:
            why = (f"the ALB needs {load.load:,.1f} LCU at once and alb.reservedCapacityUnits reserves "
                   f"{stack.reserved_lcu}: beyond it the ALB scales during the burst, not before it")  # fmt: skip
        else:
            why = (f"{load.tier} would not carry it: {load.load:,.1f} {load.unit} of {load.usable:,.1f} usable "
                   f"({load.share:.0%}, capacity/tiers.yaml)")  # fmt: skip
        out.append(fail(key, rate, why))
    return out
