"""`make capacity`: the arithmetic from measured capacity and per-node figures to tasks, tier loads and bottleneck."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from tooling import capacity, measured
from tooling.capacity import Tiers
from tooling.measured import MeasuredCapacityError, WorkerCapacity
from tooling.stack_files import stack_names

WORKER = WorkerCapacity("single", 3, attempts_per_second_at_target=1_000, peak_attempts_per_second=5_000,
                        winners_commits_per_second=2_000, trivial_ceiling_per_second=10_000)  # fmt: skip
TIERS = Tiers(
    workers_per_task=1,
    cpu_units_per_vcpu=1024,
    redis_commands_per_attempt=1,
    redis_per_shard=20_000,
    rows_per_winner=3,
    database_rows_per_second=30_000,
    records_per_winner=2,
    bytes_per_record=500,
    broker_mb_per_second={"kafka.t3.small": 10.0, "kafka.m7g.large": 40.0},
    lcu={"new_connections_per_second": 25, "active_connections": 3000, "processed_gb_per_hour": 1,
         "rule_evaluations_per_second": 1000},
    alb_bytes_per_attempt=1000,
    attempts_per_new_connection=10,
    connection_seconds=60,
    rules_per_request=1,
)  # fmt: skip


def _service(cfg, **changes):
    return cfg.web_services[0].model_copy(update=changes)


@pytest.mark.parametrize(("cpu", "expected"), [(256, 250), (512, 500), (1024, 1_000), (2048, 1_000), (4096, 1_000)])
def test_a_task_carries_the_measured_rate_per_vcpu_its_one_worker_can_use(cpu: int, expected: float) -> None:
    cfg = capacity.load_stack_config("dev")
    assert capacity.per_task(WORKER, _service(cfg, cpu=cpu), TIERS) == expected


def test_tasks_for_a_rate_round_up() -> None:
    assert capacity.tasks_for(10_001, 1_000) == 11
    assert capacity.tasks_for(10_000, 1_000) == 10
    assert capacity.tasks_for(1, 1_000) == 1


def test_one_sale_is_one_shard_however_many_shards() -> None:
    assert capacity.redis_carries(TIERS) == 20_000
    assert capacity.redis_carries(dataclasses.replace(TIERS, redis_commands_per_attempt=2)) == 10_000


def test_database_carries_rows_per_second_over_rows_per_winner() -> None:
    assert capacity.database_carries(TIERS) == 10_000


def test_kafka_carries_the_brokers_writes_over_replication() -> None:
    dev, prod = capacity.load_stack_config("dev"), capacity.load_stack_config("prod")
    # dev: 2 x t3.small, replication 2: 20 MB/s / 2 = 10 MB/s; a winner is 2 x 500 B = 1 kB -> 10,000/s
    assert dev.broker_count == 2 and dev.kafka.instance_type == "kafka.t3.small"
    assert capacity.kafka_carries(dev, TIERS) == pytest.approx(10_000)
    # prod: 3 x m7g.large, replication 3: 120 MB/s / 3 = 40 MB/s -> 40,000 winners/s
    assert prod.broker_count == 3 and prod.kafka.instance_type == "kafka.m7g.large"
    assert capacity.kafka_carries(prod, TIERS) == pytest.approx(40_000)
    assert capacity.kafka_mb_per_second(1_000, TIERS) == pytest.approx(1.0)


def test_an_unknown_broker_type_names_the_known_ones() -> None:
    cfg = capacity.load_stack_config("dev")
    with pytest.raises(KeyError, match=r"no EBS baseline for kafka\.t3\.small \(it has: kafka\.m7g\.large\)"):
        capacity.kafka_carries(cfg, dataclasses.replace(TIERS, broker_mb_per_second={"kafka.m7g.large": 1.0}))


def test_alb_lcu_per_dimension() -> None:
    lcu = capacity.alb_lcu(10_000, TIERS)
    assert lcu["new connections"] == pytest.approx(1_000 / 25)  # 1,000 new connections/s
    assert lcu["active connections"] == pytest.approx(1_000 * 60 / 3000)
    assert lcu["processed bytes"] == pytest.approx(36)  # 10 MB/s = 36 GB/h
    assert lcu["rule evaluations"] == 0  # one rule: inside the ten free ones
    assert capacity.alb_lcu(1_000, dataclasses.replace(TIERS, rules_per_request=12))["rule evaluations"] == 2


def test_prod_steady_state_and_its_sale_window() -> None:
    cfg = capacity.load_stack_config("prod")
    steady, window = capacity.sizings(cfg, WORKER, TIERS)
    api = cfg.web_services[0]
    assert (steady.label, steady.floor_tasks) == ("steady state", api.min_tasks)
    assert window.label.startswith(f"sale window {cfg.sale_windows[0].name} ")
    assert window.floor_tasks == cfg.sale_windows[0].min_tasks
    assert window.floor_rate == cfg.sale_windows[0].min_tasks * 1_000  # 1 vCPU tasks
    assert window.max_rate == api.max_tasks * 1_000


def test_the_bottleneck_is_the_tier_that_carries_least() -> None:
    cfg = capacity.load_stack_config("prod")
    slow = capacity.sizings(cfg, WORKER, TIERS)[0]
    # 50 tasks x 1,000/s = 50,000; Redis 20,000; Kafka 40,000; the database 30,000 rows / 3 = 10,000 winners/s
    assert (slow.bottleneck, slow.stack_rate) == (capacity.DATABASE, 10_000)
    fast = capacity.sizings(cfg, dataclasses.replace(WORKER, attempts_per_second_at_target=100), TIERS)[0]
    assert (fast.bottleneck, fast.stack_rate) == (capacity.TASKS, 5_000)
    busy = capacity.sizings(cfg, WORKER, dataclasses.replace(TIERS, redis_per_shard=4_000))[0]
    assert (busy.bottleneck, busy.stack_rate) == (capacity.REDIS, 4_000)


def test_render_sizes_a_rate_and_names_the_tiers_that_fall_short() -> None:
    cfg = capacity.load_stack_config("prod")
    text = capacity.render(cfg, WORKER, dataclasses.replace(TIERS, redis_per_shard=4_000), rate=60_000)
    assert "at 60,000 attempts/s: 60 tasks (ABOVE maxTasks 50); would not carry it: Redis" in text
    assert f"sale window {cfg.sale_windows[0].name}" in text


def test_the_real_data_files_cover_every_stack() -> None:
    tiers = Tiers.load()
    for stack in stack_names():
        cfg = capacity.load_stack_config(stack)
        assert cfg.kafka.instance_type in tiers.broker_mb_per_second, stack
        assert capacity.render(cfg, WORKER, tiers)
    recorded = yaml.safe_load(measured.MEASURED_FILE.read_text())
    assert recorded["runs"] and all(run["command"].startswith("make bench") for run in recorded["runs"])


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


def test_measured_load_names_the_missing_mode(tmp_path) -> None:
    path = tmp_path / "measured.yaml"
    path.write_text(yaml.safe_dump({"by_redis_mode": {"single": {}}}))
    with pytest.raises(MeasuredCapacityError, match="no runs with Redis mode 'cluster' \\(it has: single\\)"):
        measured.load("cluster", path)
    with pytest.raises(MeasuredCapacityError, match="is missing"):
        measured.load("single", tmp_path / "absent.yaml")


def test_without_a_measured_capacity_only_the_data_tiers_are_sized() -> None:
    cfg = capacity.load_stack_config("prod")
    unmeasured = dataclasses.replace(WORKER, attempts_per_second_at_target=0)
    steady = capacity.sizings(cfg, unmeasured, TIERS)[0]
    assert capacity.TASKS not in steady.carries and steady.max_rate is None
    assert (steady.bottleneck, steady.stack_rate) == (capacity.DATABASE, 10_000)
    text = capacity.render(cfg, unmeasured, TIERS, rate=15_000)
    assert "attempts/s unknown (in the median of 3 runs no probe kept p99 <= 50 ms" in text
    assert "at 15,000 attempts/s: tasks unknown; would not carry it: database (winners' commits)" in text
    assert "at the data tiers' limit of" in capacity.render(cfg, unmeasured, TIERS)
