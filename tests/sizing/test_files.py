"""The sizing package reads capacity/measured.yaml and capacity/tiers.yaml, with clear errors when they are wrong."""

from __future__ import annotations

import pytest
import yaml

from sizing import SizingError
from sizing import measured as sizing_measured
from sizing.measured import MeasuredCapacityError, WorkerCapacity
from sizing.tiers import TIERS_FILE, Tiers


def test_the_repo_tiers_file_applies_each_usable_fraction() -> None:
    raw = yaml.safe_load(TIERS_FILE.read_text())
    tiers = Tiers.load()
    assert tiers.redis_per_shard == pytest.approx(
        raw["redis"]["lua_calls_per_second_per_shard"] * raw["redis"]["usable_fraction"]
    )
    assert tiers.database_rows_per_second == pytest.approx(
        raw["database"]["rows_per_second"] * raw["database"]["usable_fraction"]
    )
    for broker, mb in raw["kafka"]["ebs_baseline_mb_per_second"].items():
        assert tiers.broker_mb_per_second[broker] == pytest.approx(mb * raw["kafka"]["usable_fraction"])


def test_a_tiers_file_without_a_figure_names_it(tmp_path) -> None:
    raw = yaml.safe_load(TIERS_FILE.read_text())
    del raw["alb"]["lcu"]["processed_gb_per_hour"]
    path = tmp_path / "tiers.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SizingError, match=r"tiers\.yaml lacks 'processed_gb_per_hour'"):
        Tiers.load(path)
    with pytest.raises(SizingError, match="is missing"):
        Tiers.load(tmp_path / "absent.yaml")


def test_the_repo_measured_file_has_both_redis_modes() -> None:
    for mode in ("single", "cluster"):
        worker = sizing_measured.load(mode)
        assert worker.redis == mode and worker.runs > 0 and worker.attempts_per_second_at_target >= 0


def test_measured_load_names_the_missing_mode(tmp_path) -> None:
    path = tmp_path / "measured.yaml"
    path.write_text(yaml.safe_dump({"by_redis_mode": {"single": {}}}))
    with pytest.raises(MeasuredCapacityError, match="no runs with Redis mode 'cluster' \\(it has: single\\)"):
        sizing_measured.load("cluster", path)
    with pytest.raises(MeasuredCapacityError, match=r"by_redis_mode\.single lacks a median for 'runs'"):
        sizing_measured.load("single", path)
    with pytest.raises(MeasuredCapacityError, match="is missing"):
        sizing_measured.load("single", tmp_path / "absent.yaml")


def test_a_negative_measured_rate_is_refused(tmp_path) -> None:
    figure = {"median": 1, "min": 1, "max": 1}
    mode = {"runs": 1, "attempts_per_second_at_target": {"median": -5}, "peak_attempts_per_second": figure,
            "winners_commits_per_second": figure, "trivial_ceiling_per_second": figure}  # fmt: skip
    path = tmp_path / "measured.yaml"
    path.write_text(yaml.safe_dump({"by_redis_mode": {"single": mode}}))
    with pytest.raises(MeasuredCapacityError, match=r"attempts_per_second_at_target is -5\.0: a rate is 0 or more"):
        sizing_measured.load("single", path)


def test_a_zero_median_is_unknown_and_says_why() -> None:
    worker = WorkerCapacity("cluster", 4, 0, 2_000, 1_000, 3_000)
    assert not worker.known
    assert worker.unknown_because == (
        "the measured capacity at the latency target is unknown: in the median of 4 runs with Redis cluster "
        "(capacity/measured.yaml) no probe kept p99 <= 50 ms; re-run make bench on an unshared machine"
    )
    assert WorkerCapacity("single", 3, 71, 2_000, 1_000, 3_000).known
