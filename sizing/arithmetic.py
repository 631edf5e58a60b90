"""The sizing arithmetic: from the measured capacity per task vCPU and the per-node figures (tiers.yaml) to the
tasks a rate of reservation attempts needs and the load it puts on each tier behind them.

Pure functions of plain numbers and dataclasses: the caller maps its own configuration to `DataTier`, so the
program's configuration and `make capacity` compute the same figures from the same code.

A fresh sale's burst is sized: its first N attempts all win (the benchmark's shape), so until it sells out
every attempt is also a winner's commit and a winner's Kafka records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sizing import SizingError
from sizing.tiers import Tiers

TASKS = "tasks"
REDIS = "Redis (the sale's shard)"
DATABASE = "database (winners' commits)"
KAFKA = "Kafka (brokers)"
ALB = "ALB (reserved capacity units)"


class UnknownCapacity(SizingError):
    """The capacity per task at the latency target is 0 (not measured): no task count follows from it."""


@dataclass(frozen=True)
class DataTier:
    """The stack's tiers behind the tasks, as plain figures."""

    brokers: int
    broker_type: str  # an MSK instance type, e.g. kafka.m7g.large
    replication_factor: int  # copies of each record across the brokers
    reserved_lcu: int  # ALB capacity units reserved ahead of a burst; 0 = none


@dataclass(frozen=True)
class TierLoad:
    """One tier at a rate: its load and the usable capacity it is planned for, both in `unit`."""

    tier: str
    unit: str
    load: float
    usable: float

    @property
    def short(self) -> bool:
        """The tier would not carry the rate (for the ALB: not at once, see `data_tier_loads`)."""
        return self.load > self.usable

    @property
    def share(self) -> float:
        return self.load / self.usable if self.usable > 0 else math.inf


def task_capacity(per_vcpu: float, cpu_units: int, tiers: Tiers) -> float:
    """Attempts/s one task carries at the latency target: the measured figure per vCPU times the vCPUs its
    workers can use: min(cpu / 1024, 1) with one worker per task (a worker uses at most one vCPU)."""
    return per_vcpu * min(cpu_units / tiers.cpu_units_per_vcpu, tiers.workers_per_task)


def tasks_for(attempts_per_second: float, capacity: float) -> int:
    """The tasks that carry the rate at `capacity` attempts/s each: ceil(rate / capacity), at least one."""
    if capacity <= 0:
        raise UnknownCapacity(
            f"cannot size {attempts_per_second:,.0f} attempts/s: the capacity per task at the latency target "
            "is unknown (0)"
        )
    return max(1, math.ceil(attempts_per_second / capacity))


# Target tracking keeps each task's requests below its capacity at the latency target by this share: it scales
# out on a one-minute metric, so the headroom absorbs the growth until the new tasks serve.
REQUESTS_HEADROOM = 0.7


def requests_per_target(capacity: float) -> int:
    """ALB requests per task per minute to track: capacity per task x 60 x REQUESTS_HEADROOM, rounded down."""
    if capacity <= 0:
        raise UnknownCapacity("cannot derive requests per target: the capacity per task at the latency target "
                              "is unknown (0)")  # fmt: skip
    return max(1, math.floor(capacity * 60 * REQUESTS_HEADROOM))


def redis_carries(tiers: Tiers) -> float:
    """Attempts/s of one sale: its keys share one slot, so one shard takes them all, however many shards."""
    return tiers.redis_per_shard / tiers.redis_commands_per_attempt


def database_carries(tiers: Tiers) -> float:
    """Winners/s the database commits: rows, not transactions, bound it (group commit)."""
    return tiers.database_rows_per_second / tiers.rows_per_winner


def kafka_mb_per_second(winners_per_second: float, tiers: Tiers) -> float:
    """What the relay produces: each winner's records, once (replication is the brokers' own traffic)."""
    return winners_per_second * tiers.records_per_winner * tiers.bytes_per_record / 1e6


def kafka_usable_mb_per_second(stack: DataTier, tiers: Tiers) -> float:
    """Produced MB/s the brokers absorb: their usable writes, each record written replication-factor times."""
    if stack.broker_type not in tiers.broker_mb_per_second:
        raise SizingError(
            f"capacity/tiers.yaml has no EBS baseline for {stack.broker_type} "
            f"(it has: {', '.join(sorted(tiers.broker_mb_per_second))})"
        )
    return stack.brokers * tiers.broker_mb_per_second[stack.broker_type] / stack.replication_factor


def kafka_carries(stack: DataTier, tiers: Tiers) -> float:
    """Winners/s the brokers absorb."""
    return kafka_usable_mb_per_second(stack, tiers) / kafka_mb_per_second(1, tiers)


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


def data_tier_carries(stack: DataTier, tiers: Tiers) -> dict[str, float]:
    """Attempts/s of one sale's burst each tier with a fixed capacity carries: the sale's Redis shard, the
    database's winners' commits, the brokers. Not the ALB: it scales by itself, the reservation only makes
    capacity available at once."""
    return {REDIS: redis_carries(tiers), DATABASE: database_carries(tiers), KAFKA: kafka_carries(stack, tiers)}


def data_tier_loads(attempts_per_second: float, stack: DataTier, tiers: Tiers) -> dict[str, TierLoad]:
    """Each tier's load at the rate against its usable capacity. The ALB's is its reservation: beyond it the
    ALB still scales, but during the burst rather than before it (the reason reservations exist:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/capacity-unit-reservation.html)."""
    rate = attempts_per_second
    loads = [
        TierLoad(REDIS, "commands/s", rate * tiers.redis_commands_per_attempt, tiers.redis_per_shard),
        TierLoad(DATABASE, "winners/s", rate, database_carries(tiers)),
        TierLoad(KAFKA, "MB/s", kafka_mb_per_second(rate, tiers), kafka_usable_mb_per_second(stack, tiers)),
        TierLoad(ALB, "LCU", max(alb_lcu(rate, tiers).values()), stack.reserved_lcu),
    ]
    return {load.tier: load for load in loads}
