"""The capacity search: bisection against a fake service whose p99 crosses the target at a known rate."""

from __future__ import annotations

import itertools

import pytest

from bench.capacity_search import Probe, find_capacity
from bench.run import Config, probe_attempts


def _service(knee: float, offered: list[float] | None = None):
    """p99 under the 50 ms target below `knee` requests/s, far above it from there on."""

    def probe(rate: float) -> Probe:
        if offered is not None:
            offered.append(rate)
        return Probe(rate, 0.010 if rate < knee else 0.400, complete=True)

    return probe


def test_bisection_brackets_the_knee_to_the_resolution() -> None:
    search = find_capacity(_service(4_300), 10_000, resolution=0.02, max_probes=20)
    assert search.capacity < 4_300 <= search.first_failure
    assert search.first_failure - search.capacity <= 0.02 * 10_000


def test_each_probe_halves_the_interval() -> None:
    offered: list[float] = []
    find_capacity(_service(4_300, offered), 10_000, max_probes=4, resolution=0.001)
    assert offered == [5_000, 2_500, 3_750, 4_375]


def test_stops_at_max_probes() -> None:
    offered: list[float] = []
    search = find_capacity(_service(4_300, offered), 10_000, max_probes=3, resolution=0.001)
    assert len(offered) == len(search.probes) == 3


def test_a_probe_that_would_end_after_the_budget_is_not_started() -> None:
    ticks = itertools.count(step=10)  # each clock reading 10 s after the previous one
    offered: list[float] = []
    search = find_capacity(
        _service(4_300, offered),
        10_000,
        max_probes=10,
        resolution=0.001,
        budget_seconds=45,
        probe_seconds=lambda rate: 5,
        clock=lambda: float(next(ticks)),
    )
    # deadline = 0 + 45; checks at 10, 20, 30, 40 (+5 each) fit, the one at 50 does not
    assert len(offered) == 4
    assert search.capacity == 3_750


def test_incomplete_or_slow_probes_fail_even_with_a_low_p99() -> None:
    assert not Probe(1_000, 0.001, complete=False).passed(0.050)
    assert not Probe(1_000, 0.0501, complete=True).passed(0.050)
    assert Probe(1_000, 0.050, complete=True).passed(0.050)


def test_no_passing_probe_reports_zero_below_the_lowest_tried() -> None:
    search = find_capacity(_service(0), 8_000, max_probes=3)
    assert search.capacity == 0
    assert search.first_failure == 1_000


def test_bad_bounds_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="upper bound must be a positive rate, got 0"):
        find_capacity(_service(1), 0)
    with pytest.raises(ValueError, match=r"resolution must be a fraction between 0 and 1, got 1\.5"):
        find_capacity(_service(1), 100, resolution=1.5)


def test_a_probe_lasts_about_probe_seconds_within_r_and_sells_out() -> None:
    cfg = Config("uvicorn", True, "single", units=2000, buyers=5000, attempts=60000, connections=128,
                 phase_timeout=60, admin_url="", probe_seconds=12)  # fmt: skip
    assert probe_attempts(cfg, 3_000) == 36_000  # 12 s of it
    assert probe_attempts(cfg, 10_000) == 60_000  # never more than R
    assert probe_attempts(cfg, 100) == 4_000  # at least 2N: the N winners and as many refusals
