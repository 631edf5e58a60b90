"""The sizing arithmetic, on hand-computed cases: tasks for a rate, each tier's load against its usable capacity."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import pytest

from sizing import SizingError
from sizing.arithmetic import (
    ALB,
    DATABASE,
    KAFKA,
    REDIS,
    UnknownCapacity,
    alb_lcu,
    data_tier_carries,
    data_tier_loads,
    kafka_carries,
    kafka_mb_per_second,
    requests_per_target,
    task_capacity,
    tasks_for,
)
from tests.sizing.figures import THREE_LARGE, TIERS, TWO_SMALL
from tooling.stack_files import ROOT


@pytest.mark.parametrize(("cpu", "expected"), [(256, 250), (512, 500), (1024, 1_000), (2048, 1_000), (4096, 1_000)])
def test_a_task_carries_the_measured_rate_per_vcpu_its_one_worker_can_use(cpu: int, expected: float) -> None:
    assert task_capacity(1_000, cpu, TIERS) == expected


def test_more_workers_per_task_use_more_vcpus() -> None:
    assert task_capacity(1_000, 4096, dataclasses.replace(TIERS, workers_per_task=2)) == 2_000


@pytest.mark.parametrize(
    ("rate", "capacity", "tasks"),
    [
        (10_001, 1_000, 11),
        (10_000, 1_000, 10),
        (1, 1_000, 1),
        # a loaded afternoon's dev figure: 71/s per vCPU, 512-unit tasks carry 35.5/s; 3,000/s is 84.5 -> 85 tasks
        (3_000, task_capacity(71, 512, TIERS), 85),
    ],
)
def test_tasks_for_a_rate_round_up(rate: float, capacity: float, tasks: int) -> None:
    assert tasks_for(rate, capacity) == tasks


def test_an_unknown_capacity_is_an_error_not_a_division_by_zero() -> None:
    with pytest.raises(UnknownCapacity, match=r"cannot size 3,000 attempts/s: the capacity per task .* unknown \(0\)"):
        tasks_for(3_000, task_capacity(0, 1024, TIERS))
    assert issubclass(UnknownCapacity, SizingError)


@pytest.mark.parametrize(
    ("capacity", "target"),
    [
        (1_000, 42_000),  # 1,000/s x 60 x 0.7
        (35.5, 1_491),  # 71/s per vCPU (a loaded afternoon's dev figure) on a 512-unit task
        (0.01, 1),  # at least one request per minute (0.42 rounds down to 0)
    ],
)
def test_requests_per_target_is_capacity_per_minute_with_headroom(capacity: float, target: int) -> None:
    assert requests_per_target(capacity) == target


def test_no_requests_per_target_from_an_unknown_capacity() -> None:
    with pytest.raises(UnknownCapacity, match=r"cannot derive requests per target: .* unknown \(0\)"):
        requests_per_target(task_capacity(0, 1024, TIERS))


def test_one_sale_is_one_shard_and_the_database_carries_rows_over_rows_per_winner() -> None:
    carries = data_tier_carries(THREE_LARGE, TIERS)
    assert carries[REDIS] == 20_000
    assert carries[DATABASE] == 10_000  # 30,000 rows/s / 3 rows a winner
    assert ALB not in carries  # it scales by itself: never the bottleneck
    two_commands = dataclasses.replace(TIERS, redis_commands_per_attempt=2)
    assert data_tier_carries(THREE_LARGE, two_commands)[REDIS] == 10_000


def test_kafka_carries_the_brokers_writes_over_replication() -> None:
    # a winner is 2 x 500 B = 1 kB produced
    assert kafka_mb_per_second(1_000, TIERS) == pytest.approx(1.0)
    assert kafka_carries(TWO_SMALL, TIERS) == pytest.approx(10_000)  # 2 x 10 MB/s / 2
    assert kafka_carries(THREE_LARGE, TIERS) == pytest.approx(40_000)  # 3 x 40 MB/s / 3
    assert data_tier_carries(THREE_LARGE, TIERS)[KAFKA] == pytest.approx(40_000)


def test_an_unknown_broker_type_names_the_known_ones() -> None:
    tiers = dataclasses.replace(TIERS, broker_mb_per_second={"kafka.m7g.large": 1.0})
    with pytest.raises(SizingError, match=r"no EBS baseline for kafka\.t3\.small \(it has: kafka\.m7g\.large\)"):
        kafka_carries(TWO_SMALL, tiers)


def test_alb_lcu_per_dimension() -> None:
    lcu = alb_lcu(10_000, TIERS)
    assert lcu["new connections"] == pytest.approx(1_000 / 25)  # 1,000 new connections/s
    assert lcu["active connections"] == pytest.approx(1_000 * 60 / 3000)
    assert lcu["processed bytes"] == pytest.approx(36)  # 10 MB/s = 36 GB/h
    assert lcu["rule evaluations"] == 0  # one rule: inside the ten free ones
    assert alb_lcu(1_000, dataclasses.replace(TIERS, rules_per_request=12))["rule evaluations"] == 2


def test_each_tier_load_at_a_rate_against_its_usable_capacity() -> None:
    loads = data_tier_loads(5_000, THREE_LARGE, TIERS)
    assert list(loads) == [REDIS, DATABASE, KAFKA, ALB]
    as_tuples = {tier: (x.unit, x.load, x.usable) for tier, x in loads.items()}
    assert as_tuples[REDIS] == ("commands/s", 5_000, 20_000)
    assert as_tuples[DATABASE] == ("winners/s", 5_000, 10_000)  # every attempt of the burst wins
    assert as_tuples[KAFKA] == ("MB/s", pytest.approx(5.0), pytest.approx(40.0))
    # 500 new connections/s = 20 LCU beats 18 GB/h = 18 LCU; 10 reserved
    assert as_tuples[ALB] == ("LCU", pytest.approx(20), 10)
    assert [tier for tier, x in loads.items() if x.short] == [ALB]
    assert (loads[REDIS].share, loads[DATABASE].share, loads[ALB].share) == (0.25, 0.5, pytest.approx(2))


def test_a_tier_is_short_exactly_above_the_rate_it_carries() -> None:
    carried = data_tier_carries(TWO_SMALL, TIERS)
    for tier in (REDIS, DATABASE, KAFKA):
        assert not data_tier_loads(carried[tier], TWO_SMALL, TIERS)[tier].short, tier
        assert data_tier_loads(carried[tier] * 1.01, TWO_SMALL, TIERS)[tier].short, tier


def test_no_reservation_means_any_burst_is_beyond_it() -> None:
    alb = data_tier_loads(100, TWO_SMALL, TIERS)[ALB]
    assert alb.short and alb.usable == 0 and alb.share == math.inf


def test_the_package_imports_no_configuration_so_the_program_and_tooling_can_share_it() -> None:
    code = (
        "import sys, sizing.arithmetic, sizing.measured, sizing.tiers\n"
        "config = {'components', 'stackconfig', 'tooling', 'pulumi'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in config)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
