"""`make capacity STACK=<name>`: what each sale window (and the steady state) carries, tier by tier.

From the measured capacity per task vCPU (capacity/measured.yaml, written from `make bench` runs) and the
per-node figures with their sources (capacity/tiers.yaml), for the stack's own configuration: tasks and
the attempts/s they carry at the latency target, Redis commands/s on the sale's shard, winners' commits/s
against the database, Kafka throughput, ALB capacity units, and which tier gives out first.
No account and no CLI: the configuration is read and checked by the program's own loader.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.kafka import replication
from stackconfig import ConfigError, SaleWindow, ServiceConfig, StackConfig, parse_config
from tooling.measured import MeasuredCapacityError, WorkerCapacity
from tooling.measured import load as load_measured
from tooling.stack_files import ROOT, StackNotFound, load_stack_files

TIERS_FILE = ROOT / "capacity" / "tiers.yaml"
TASKS, REDIS, DATABASE, KAFKA = "tasks", "Redis (the sale's shard)", "database (winners' commits)", "Kafka (brokers)"


def load_stack_config(stack: str) -> StackConfig:
    """The stack's configuration as the program sees it: Pulumi.yaml defaults + Pulumi.<stack>.yaml, checked
    by stackconfig/ (the same files tooling/plan.py runs the program with)."""
    files = load_stack_files(stack)
    prefix = f"{files.project}:"
    raw = {key[len(prefix) :]: value for key, value in files.config.items() if key.startswith(prefix)}
    return parse_config(raw, project=files.project, stack=stack, region=files.config.get("aws:region"))


@dataclass(frozen=True)
class Tiers:
    """capacity/tiers.yaml, typed."""

    workers_per_task: int
    cpu_units_per_vcpu: int
    redis_commands_per_attempt: float
    redis_per_shard: float  # usable Lua calls/s of one shard
    rows_per_winner: float
    database_rows_per_second: float  # usable
    records_per_winner: float
    bytes_per_record: float
    broker_mb_per_second: dict[str, float]  # usable write MB/s per broker type
    lcu: dict[str, float]
    alb_bytes_per_attempt: float
    attempts_per_new_connection: float
    connection_seconds: float
    rules_per_request: float

    @classmethod
    def load(cls, path: Path = TIERS_FILE) -> Tiers:
        d: dict[str, Any] = yaml.safe_load(path.read_text())
        redis, db, kafka, alb = d["redis"], d["database"], d["kafka"], d["alb"]
        return cls(
            workers_per_task=d["service"]["workers_per_task"],
            cpu_units_per_vcpu=d["service"]["cpu_units_per_vcpu"],
            redis_commands_per_attempt=redis["commands_per_attempt"],
            redis_per_shard=redis["lua_calls_per_second_per_shard"] * redis["usable_fraction"],
            rows_per_winner=db["rows_per_winner"],
            database_rows_per_second=db["rows_per_second"] * db["usable_fraction"],
            records_per_winner=kafka["records_per_winner"],
            bytes_per_record=kafka["bytes_per_record"],
            broker_mb_per_second={
                broker: mb * kafka["usable_fraction"] for broker, mb in kafka["ebs_baseline_mb_per_second"].items()
            },
            lcu=alb["lcu"],
            alb_bytes_per_attempt=alb["bytes_per_attempt"],
            attempts_per_new_connection=alb["attempts_per_new_connection"],
            connection_seconds=alb["connection_seconds"],
            rules_per_request=alb["rules_per_request"],
        )


def per_task(worker: WorkerCapacity, service: ServiceConfig, tiers: Tiers) -> float:
    """Attempts/s one task carries at the latency target: the measured figure per vCPU, times the vCPUs its
    workers can use (one worker uses at most one vCPU)."""
    vcpu = service.cpu / tiers.cpu_units_per_vcpu
    return worker.attempts_per_second_at_target * min(vcpu, tiers.workers_per_task)


def tasks_for(attempts_per_second: float, task_capacity: float) -> int:
    return max(1, math.ceil(attempts_per_second / task_capacity))


def redis_carries(tiers: Tiers) -> float:
    """Attempts/s of one sale: its keys share one slot, so one shard takes them all, however many shards."""
    return tiers.redis_per_shard / tiers.redis_commands_per_attempt


def database_carries(tiers: Tiers) -> float:
    """Winners/s the database commits; in a fresh sale's burst every attempt until sell-out is a winner."""
    return tiers.database_rows_per_second / tiers.rows_per_winner


def kafka_mb_per_second(winners_per_second: float, tiers: Tiers) -> float:
    return winners_per_second * tiers.records_per_winner * tiers.bytes_per_record / 1e6


def kafka_carries(cfg: StackConfig, tiers: Tiers) -> float:
    """Winners/s the brokers absorb: every record is written replication-factor times across them."""
    brokers = cfg.broker_count
    if cfg.kafka.instance_type not in tiers.broker_mb_per_second:
        raise KeyError(
            f"capacity/tiers.yaml has no EBS baseline for {cfg.kafka.instance_type} "
            f"(it has: {', '.join(sorted(tiers.broker_mb_per_second))})"
        )
    cluster_mb = brokers * tiers.broker_mb_per_second[cfg.kafka.instance_type]
    factor, _ = replication(brokers)
    return cluster_mb / factor / kafka_mb_per_second(1, tiers)


def alb_lcu(attempts_per_second: float, tiers: Tiers) -> dict[str, float]:
    """LCUs per dimension at a sustained rate; the ALB bills, and must scale to, the highest."""
    new_connections = attempts_per_second / tiers.attempts_per_new_connection
    gb_per_hour = attempts_per_second * tiers.alb_bytes_per_attempt * 3600 / 1e9
    return {
        "new connections": new_connections / tiers.lcu["new_connections_per_second"],
        "active connections": new_connections * tiers.connection_seconds / tiers.lcu["active_connections"],
        "processed bytes": gb_per_hour / tiers.lcu["processed_gb_per_hour"],
        # the first 10 rules a request is evaluated against are free
        "rule evaluations": attempts_per_second
        * max(0.0, tiers.rules_per_request - 10)
        / tiers.lcu["rule_evaluations_per_second"],
    }


@dataclass(frozen=True)
class Sizing:
    label: str
    service: str
    floor_tasks: int
    max_tasks: int
    task_capacity: float  # attempts/s per task at the latency target
    carries: dict[str, float]  # tier -> attempts/s it carries

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
    cfg: StackConfig, worker: WorkerCapacity, tiers: Tiers, service: ServiceConfig, label: str, floor: int
) -> Sizing:
    capacity = per_task(worker, service, tiers)
    carries = {REDIS: redis_carries(tiers), DATABASE: database_carries(tiers), KAFKA: kafka_carries(cfg, tiers)}
    if capacity > 0:
        carries[TASKS] = service.max_tasks * capacity
    return Sizing(label, service.name, floor, service.max_tasks, capacity, carries)


def sizings(cfg: StackConfig, worker: WorkerCapacity, tiers: Tiers) -> list[Sizing]:
    """Steady state for each web service, then each sale window for each service it raises."""
    out = [size(cfg, worker, tiers, s, "steady state", s.min_tasks) for s in cfg.web_services]
    for window in cfg.sale_windows:
        for service in cfg.web_services:
            if service.name in _window_services(window, cfg):
                out.append(size(cfg, worker, tiers, service, _window_label(window), window.min_tasks))
    return out


def _window_services(window: SaleWindow, cfg: StackConfig) -> tuple[str, ...]:
    return window.services or tuple(s.name for s in cfg.web_services)


def _window_label(window: SaleWindow) -> str:
    return f"sale window {window.name} ({window.start:%Y-%m-%d %H:%M}-{window.end:%H:%M} {window.timezone})"


def _tasks_line(s: Sizing, worker: WorkerCapacity) -> str:
    if s.max_rate is None:
        return (
            f"  tasks     floor {s.floor_tasks}, max {s.max_tasks}: attempts/s unknown (in the median of "
            f"{worker.runs} runs no probe kept p99 <= 50 ms: re-run make bench on an unshared machine)"
        )
    return (
        f"  tasks     floor {s.floor_tasks} carries {s.floor_rate:,.0f} attempts/s; max {s.max_tasks} carries "
        f"{s.max_rate:,.0f}/s ({s.task_capacity:,.0f}/s per task)"
    )


def render(cfg: StackConfig, worker: WorkerCapacity, tiers: Tiers, rate: float | None = None) -> str:
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
        lcu = alb_lcu(at, tiers)
        lines += [
            f"{s.label}, service {s.service}",
            _tasks_line(s, worker),
            f"  at {where} {at:,.0f} attempts/s:",
            f"    Redis     {at * tiers.redis_commands_per_attempt:,.0f} commands/s on the sale's shard, of "
            f"{tiers.redis_per_shard:,.0f} usable ({at / s.carries[REDIS]:.0%})",
            f"    database  up to {at:,.0f} winners' commits/s during the burst, of {s.carries[DATABASE]:,.0f} "
            f"({at / s.carries[DATABASE]:.0%})",
            f"    Kafka     {kafka_mb_per_second(at, tiers):.2f} MB/s of records "
            f"({at * tiers.records_per_winner:,.0f}/s) into {cfg.broker_count} x {cfg.kafka.instance_type} "
            f"({at / s.carries[KAFKA]:.0%})",
            f"    ALB       {max(lcu.values()):.1f} LCU ({max(lcu, key=lambda k: lcu[k])}); reserved: "
            f"{cfg.alb.reserved_capacity_units}",
            f"  bottleneck: {s.bottleneck}, at {s.stack_rate:,.0f} attempts/s"
            + ("" if s.measured else " (of the data tiers; the tasks' share is unknown)"),
        ]
        if rate is not None:
            short = [tier for tier, carried in s.carries.items() if tier != TASKS and carried < rate]
            if s.measured:
                needed = tasks_for(rate, s.task_capacity)
                verdict = "within maxTasks" if needed <= s.max_tasks else f"ABOVE maxTasks {s.max_tasks}"
                tasks = f"{needed} tasks ({verdict})"
            else:
                tasks = "tasks unknown"
            lines.append(
                f"  at {rate:,.0f} attempts/s: {tasks}"
                + (f"; would not carry it: {', '.join(short)}" if short else "; every data tier carries it")
            )
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
        worker = load_measured("cluster" if cfg.cache.cluster_mode else "single")
        print(render(cfg, worker, Tiers.load(), args.attempts_per_second))
    except (ConfigError, StackNotFound, MeasuredCapacityError, KeyError) as err:
        print(f"capacity for stack {args.stack} failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
