"""`make capacity`: the stack's configuration mapped to the sizing arithmetic (tests/sizing has the arithmetic
itself), the bottleneck per window, and the report for every stack."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from components.kafka import replication
from sizing import measured as sizing_measured
from sizing.arithmetic import ALB, DATABASE, REDIS, TASKS, DataTier
from sizing.measured import WorkerCapacity
from sizing.tiers import Tiers
from tests.sizing.figures import TIERS
from tooling import capacity, measured
from tooling.stack_files import stack_names

WORKER = WorkerCapacity("single", 3, attempts_per_second_at_target=1_000, peak_attempts_per_second=5_000,
                        winners_commits_per_second=2_000, trivial_ceiling_per_second=10_000)  # fmt: skip


def test_the_data_tier_is_the_stacks_own() -> None:
    for stack in stack_names():
        cfg = capacity.load_stack_config(stack)
        assert capacity.data_tier(cfg) == DataTier(
            brokers=cfg.broker_count,
            broker_type=cfg.kafka.instance_type,
            replication_factor=replication(cfg.broker_count)[0],
            reserved_lcu=cfg.alb.reserved_capacity_units,
        ), stack
    # dev: 2 x t3.small, replication 2; prod: 3 x m7g.large, replication 3
    dev, prod = (capacity.data_tier(capacity.load_stack_config(s)) for s in ("dev", "prod"))
    assert (dev.brokers, dev.broker_type, dev.replication_factor) == (2, "kafka.t3.small", 2)
    assert (prod.brokers, prod.broker_type, prod.replication_factor) == (3, "kafka.m7g.large", 3)


def test_prod_steady_state_and_its_sale_window() -> None:
    cfg = capacity.load_stack_config("prod")
    steady, window = capacity.sizings(cfg, WORKER, TIERS)
    api = cfg.web_services[0]
    assert (steady.label, steady.floor_tasks) == ("steady state", api.min_tasks)
    assert window.label.startswith(f"sale window {cfg.sale_windows[0].name} ")
    assert window.label.endswith(", sized for 10,000 expected attempts/s")
    # 10,000 expected attempts/s / 1,000 per 1 vCPU task = 10 tasks: prod's own floor
    assert (window.expected, window.floor_tasks, window.floor_rate) == (10_000, 10, 10_000)
    assert window.max_rate == api.max_tasks * 1_000


def test_the_bottleneck_is_the_tier_that_carries_least() -> None:
    cfg = capacity.load_stack_config("prod")
    slow = capacity.sizings(cfg, WORKER, TIERS)[0]
    # 50 tasks x 1,000/s = 50,000; Redis 20,000; Kafka 40,000; the database 30,000 rows / 3 = 10,000 winners/s
    assert (slow.bottleneck, slow.stack_rate) == (DATABASE, 10_000)
    fast, window = capacity.sizings(cfg, dataclasses.replace(WORKER, attempts_per_second_at_target=100), TIERS)
    assert (fast.bottleneck, fast.stack_rate) == (TASKS, 5_000)
    # 10,000 expected attempts/s at 100 per task would need 100 tasks: the window shows maxTasks and says so
    assert window.floor_tasks == 50
    assert "at the expected 10,000 attempts/s: 100 tasks (ABOVE maxTasks 50)" in capacity.render(
        cfg, dataclasses.replace(WORKER, attempts_per_second_at_target=100), TIERS
    )
    busy = capacity.sizings(cfg, WORKER, dataclasses.replace(TIERS, redis_per_shard=4_000))[0]
    assert (busy.bottleneck, busy.stack_rate) == (REDIS, 4_000)


def test_render_sizes_a_rate_and_names_the_tiers_that_fall_short() -> None:
    cfg = capacity.load_stack_config("prod")
    text = capacity.render(cfg, WORKER, dataclasses.replace(TIERS, redis_per_shard=4_000), rate=60_000)
    assert "at 60,000 attempts/s: 60 tasks (ABOVE maxTasks 50); would not carry it: Redis" in text
    # the window's own rate: 10,000/s on 1,000/s tasks is 10 of them, beyond this test's 4,000/s Redis shard
    assert "at the expected 10,000 attempts/s: 10 tasks (within maxTasks); would not carry it: Redis" in text
    assert f"sale window {cfg.sale_windows[0].name}" in text


def test_the_real_data_files_cover_every_stack() -> None:
    tiers = Tiers.load()
    for stack in stack_names():
        cfg = capacity.load_stack_config(stack)
        assert cfg.kafka.instance_type in tiers.broker_mb_per_second, stack
        assert capacity.render(cfg, WORKER, tiers)
    recorded = yaml.safe_load(measured.MEASURED_FILE.read_text())
    assert recorded["runs"] and all(run["command"].startswith("make bench") for run in recorded["runs"])


def test_render_says_when_the_alb_reservation_is_below_the_burst() -> None:
    cfg = capacity.load_stack_config("prod")
    assert cfg.alb.reserved_capacity_units == 0
    # 20,000/s: 2,000 new connections/s = 80 LCU (72 GB/h of bytes is less); 50 tasks' 50,000/s: 200 LCU
    text = capacity.render(cfg, WORKER, TIERS, rate=20_000)
    assert "; the ALB needs 80.0 LCU at once, 0 reserved" in text
    assert "ALB       200.0 LCU (new connections); reserved: 0 (above it the ALB scales during the burst" in text
    reserved = cfg.model_copy(update={"alb": cfg.alb.model_copy(update={"reserved_capacity_units": 200})})
    text = capacity.render(reserved, WORKER, TIERS, rate=20_000)
    assert "the ALB needs" not in text and "ALB       200.0 LCU (new connections); reserved: 200\n" in text
    assert ALB not in capacity.sizings(cfg, WORKER, TIERS)[0].carries  # it scales: never the bottleneck


@pytest.mark.parametrize("stack", stack_names())
def test_make_capacity_prints_every_window_of_every_stack_from_the_repo_files(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = capacity.load_stack_config(stack)
    assert capacity.main(["--stack", stack]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Stack {stack} ({cfg.region}): measured ")
    worker = sizing_measured.load(capacity.redis_mode(cfg))
    assert out.count("  bottleneck: ") == len(capacity.sizings(cfg, worker, Tiers.load()))
    for window in cfg.sale_windows:
        assert f"sale window {window.name} " in out
    assert capacity.main(["--stack", stack, "--attempts-per-second", "5000"]) == 0
    assert "at 5,000 attempts/s: " in capsys.readouterr().out


def test_main_reports_a_missing_stack_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["--stack", "nope"]) == 1
    assert "capacity for stack nope failed: no stack file Pulumi.nope.yaml" in capsys.readouterr().err


def test_measured_summary_is_median_and_spread_per_redis_mode() -> None:
    def run(mode: str, capacity_at_target: int) -> dict:
        return {"redis": mode, "date": "d", "command": "c", "machine": "m", "load_average": {}, "peak": 9,
                "winners_committed": 5, "trivial_ceiling": 10, "gate": {"capacity": capacity_at_target},
                "pg_only": {"peak": 3, "capacity": 1}}  # fmt: skip

    summary = measured.summarise([run("single", 100), run("single", 300), run("single", 200), run("cluster", 50)])
    single = summary["by_redis_mode"]["single"]
    assert single["runs"] == 3
    assert single["attempts_per_second_at_target"] == {"median": 200, "min": 100, "max": 300}
    assert summary["by_redis_mode"]["cluster"]["attempts_per_second_at_target"]["median"] == 50
    assert len(summary["runs"]) == 4


def test_without_a_measured_capacity_only_the_data_tiers_are_sized() -> None:
    cfg = capacity.load_stack_config("prod")
    unmeasured = dataclasses.replace(WORKER, attempts_per_second_at_target=0)
    steady = capacity.sizings(cfg, unmeasured, TIERS)[0]
    assert TASKS not in steady.carries and steady.max_rate is None
    assert (steady.bottleneck, steady.stack_rate) == (DATABASE, 10_000)
    text = capacity.render(cfg, unmeasured, TIERS, rate=15_000)
    assert f"  tasks     floor 10, max 50: {unmeasured.unknown_because}" in text
    assert "at 15,000 attempts/s: tasks unknown; would not carry it: database (winners' commits)" in text
    assert "at the data tiers' limit of" in capacity.render(cfg, unmeasured, TIERS)
