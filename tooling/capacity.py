"""`make capacity STACK=<name>`: what each sale window (and the steady state) carries, tier by tier.

From the measured capacity per task vCPU (capacity/measured.yaml, written from `make bench` runs) and the
per-node figures with their sources (capacity/tiers.yaml), for the stack's own configuration: tasks and
the attempts/s they carry at the latency target, Redis commands/s on the sale's shard, winners' commits/s
against the database, Kafka throughput, ALB capacity units, and which tier gives out first.
The arithmetic is the `sizing` package's (the program sizes sale windows with the same code); this module
maps the stack's configuration to it and prints. No account and no CLI: the configuration is read and
checked by the program's own loader.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from sizing import SizingError
from sizing import measured as sizing_measured
from sizing.arithmetic import (
    ALB,
    DATABASE,
    KAFKA,
    REDIS,
    TASKS,
    DataTier,
    alb_lcu,
    data_tier_carries,
    data_tier_loads,
    task_capacity,
    tasks_for,
)
from sizing.measured import WorkerCapacity
from sizing.tiers import Tiers
from stackconfig import ConfigError, SaleWindow, ServiceConfig, StackConfig, parse_config, sale_sizing
from tooling.stack_files import StackNotFound, load_stack_files


def load_stack_config(stack: str) -> StackConfig:
    """The stack's configuration as the program sees it: Pulumi.yaml defaults + Pulumi.<stack>.yaml, checked
    by stackconfig/ (the same files tooling/plan.py runs the program with)."""
    files = load_stack_files(stack)
    prefix = f"{files.project}:"
    raw = {key[len(prefix) :]: value for key, value in files.config.items() if key.startswith(prefix)}
    return parse_config(raw, project=files.project, stack=stack, region=files.config.get("aws:region"))


def data_tier(cfg: StackConfig) -> DataTier:
    """The stack's tiers behind the tasks, as the sizing arithmetic takes them (as the program maps them)."""
    return sale_sizing.data_tier(cfg.network, cfg.kafka, cfg.alb)


def redis_mode(cfg: StackConfig) -> str:
    """Which of measured.yaml's Redis modes the stack runs."""
    return sale_sizing.redis_mode(cfg.cache)


@dataclass(frozen=True)
class Sizing:
    label: str
    service: str
    floor_tasks: int
    max_tasks: int
    task_capacity: float  # attempts/s per task at the latency target
    carries: dict[str, float]  # tier -> attempts/s it carries
    expected: float | None = None  # a sale window's expectedAttemptsPerSecond

    @property
    def floor_rate(self) -> float:
        return self.floor_tasks * self.task_capacity

    @property
    def measured(self) -> bool:
        return self.task_capacity > 0

    @property
    def max_rate(self) -> float | None:
        """None when the capacity at the target is unknown (no probe met it): tasks are then left unsized."""
        return self.carries.get(TASKS)

    @property
    def bottleneck(self) -> str:
        return min(self.carries, key=lambda tier: self.carries[tier])

    @property
    def stack_rate(self) -> float:
        return self.carries[self.bottleneck]


def size(
    worker: WorkerCapacity,
    tiers: Tiers,
    stack: DataTier,
    service: ServiceConfig,
    label: str,
    floor: int,
    window: SaleWindow | None = None,
) -> Sizing:
    capacity = task_capacity(worker.attempts_per_second_at_target, service.cpu, tiers)
    carries = data_tier_carries(stack, tiers)
    if worker.known:
        carries[TASKS] = service.max_tasks * capacity
    expected = window.expected_attempts_per_second if window else None
    return Sizing(label, service.name, floor, service.max_tasks, capacity, carries, expected)


def sizings(cfg: StackConfig, worker: WorkerCapacity, tiers: Tiers) -> list[Sizing]:
    """Steady state for each web service, then each sale window for each service it raises. A window sized by
    its rate gets its floor from `worker` and `tiers`, as the program sizes it (stackconfig/sale_sizing.py)."""
    stack = data_tier(cfg)
    windows = list(enumerate(cfg.sale_windows))
    sized, _ = sale_sizing.size_stack(
        windows, cfg.services, cfg.autoscaling, cfg.cache, stack, figures=lambda: (worker, tiers)
    )
    out = [size(worker, tiers, stack, s, "steady state", s.min_tasks) for s in cfg.web_services]
    for window in cfg.sale_windows:
        for service in cfg.web_services:
            if service.name in _window_services(window, cfg):
                # Not sized when these figures need more than maxTasks (the expected rate's line says so).
                floor = next((f.floor for f in sized.floors if (f.window, f.service) == (window.name, service.name)),
                             service.max_tasks)  # fmt: skip
                out.append(size(worker, tiers, stack, service, _window_label(window), floor, window))
    return out


def _window_services(window: SaleWindow, cfg: StackConfig) -> tuple[str, ...]:
    return window.services or tuple(s.name for s in cfg.web_services)


def _window_label(window: SaleWindow) -> str:
    label = f"sale window {window.name} ({window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M} {window.timezone})"
    rate = window.expected_attempts_per_second
    return label if rate is None else f"{label}, sized for {rate:,.0f} expected attempts/s"


def _tasks_line(s: Sizing, worker: WorkerCapacity) -> str:
    if s.max_rate is None:
        return f"  tasks     floor {s.floor_tasks}, max {s.max_tasks}: {worker.unknown_because}"
    return (
        f"  tasks     floor {s.floor_tasks} carries {s.floor_rate:,.0f} attempts/s; max {s.max_tasks} carries "
        f"{s.max_rate:,.0f}/s ({s.task_capacity:,.0f}/s per task)"
    )


def _load_lines(at: float, stack: DataTier, tiers: Tiers) -> list[str]:
    loads = data_tier_loads(at, stack, tiers)
    redis, database, kafka, alb = loads[REDIS], loads[DATABASE], loads[KAFKA], loads[ALB]
    lcu = alb_lcu(at, tiers)
    return [
        f"    Redis     {redis.load:,.0f} commands/s on the sale's shard, of {redis.usable:,.0f} usable "
        f"({redis.share:.0%})",
        f"    database  up to {database.load:,.0f} winners' commits/s during the burst, of {database.usable:,.0f} "
        f"({database.share:.0%})",
        f"    Kafka     {kafka.load:.2f} MB/s of records ({at * tiers.records_per_winner:,.0f}/s) into "
        f"{stack.brokers} x {stack.broker_type}, of {kafka.usable:.1f} usable ({kafka.share:.0%})",
        f"    ALB       {alb.load:.1f} LCU ({max(lcu, key=lambda k: lcu[k])}); reserved: {stack.reserved_lcu}"
        + (" (above it the ALB scales during the burst, not before it)" if alb.short else ""),
    ]


def _rate_line(rate: float, s: Sizing, stack: DataTier, tiers: Tiers) -> str:
    loads = data_tier_loads(rate, stack, tiers)
    short = [load.tier for load in loads.values() if load.short and load.tier != ALB]
    if s.measured:
        needed = tasks_for(rate, s.task_capacity)
        verdict = "within maxTasks" if needed <= s.max_tasks else f"ABOVE maxTasks {s.max_tasks}"
        tasks = f"{needed} tasks ({verdict})"
    else:
        tasks = "tasks unknown"
    alb = loads[ALB]
    return (
        f"  at {rate:,.0f} attempts/s: {tasks}"
        + (f"; would not carry it: {', '.join(short)}" if short else "; every data tier carries it")
        + (f"; the ALB needs {alb.load:,.1f} LCU at once, {stack.reserved_lcu} reserved" if alb.short else "")
    )


def render(cfg: StackConfig, worker: WorkerCapacity, tiers: Tiers, rate: float | None = None) -> str:
    stack = data_tier(cfg)
    lines = [
        f"Stack {cfg.stack} ({cfg.region}): measured {worker.attempts_per_second_at_target:,.0f} attempts/s per task "
        f"vCPU at p99 <= 50 ms (Redis {worker.redis}, median of {worker.runs} runs, capacity/measured.yaml)",
        "",
    ]
    for s in sizings(cfg, worker, tiers):
        if s.max_rate is not None:
            at, where = s.max_rate, "the max tasks'"
        else:
            at, where = (rate, "the given") if rate is not None else (s.stack_rate, "the data tiers' limit of")
        lines += [
            f"{s.label}, service {s.service}",
            _tasks_line(s, worker),
            f"  at {where} {at:,.0f} attempts/s:",
            *_load_lines(at, stack, tiers),
            f"  bottleneck: {s.bottleneck}, at {s.stack_rate:,.0f} attempts/s"
            + ("" if s.measured else " (of the data tiers; the tasks' share is unknown)"),
        ]
        if s.expected is not None:
            lines.append(_rate_line(s.expected, s, stack, tiers).replace("  at ", "  at the expected ", 1))
        if rate is not None:
            lines.append(_rate_line(rate, s, stack, tiers))
        lines.append("")
    return "\n".join(lines).rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml")
    parser.add_argument("--attempts-per-second", type=float, help="also size every window for this rate")
    args = parser.parse_args(argv)
    if args.attempts_per_second is not None and args.attempts_per_second <= 0:
        parser.error(f"--attempts-per-second must be positive, got {args.attempts_per_second}")
    try:
        cfg = load_stack_config(args.stack)
        worker = sizing_measured.load(redis_mode(cfg))
        print(render(cfg, worker, Tiers.load(), args.attempts_per_second))
    except (ConfigError, StackNotFound, SizingError) as err:
        print(f"capacity for stack {args.stack} failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
