"""Sale windows sized by expectedAttemptsPerSecond, the data tiers checked against that rate, and the derived
autoscaling.requestsPerTarget: hand-computed cases on round figures (tests/sizing/figures.py), the errors and
warnings by key, and the program's record on every stack file."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from sizing.measured import MeasuredCapacityError, WorkerCapacity
from sizing.tiers import Tiers
from stackconfig import ServiceConfig, StackConfig, parse_config, sale_sizing
from stackconfig.compute import AutoscalingConfig, SaleWindow
from stackconfig.data import CacheConfig
from tests.infra import sizing_by_hand as by_hand
from tests.infra.test_autoscaling import POLICY, SCHEDULED, scaling
from tests.infra.test_config import PROJECT, one_problem, problems, raw_for
from tests.sizing.figures import THREE_LARGE, TIERS, TWO_SMALL
from tooling import plan
from tooling.mock_runtime import run_program

# 1,000 attempts/s per vCPU at the target: a 512-unit task carries 500/s, a 1024-unit one 1,000/s
MEASURED = WorkerCapacity("single", 3, attempts_per_second_at_target=1_000, peak_attempts_per_second=5_000,
                          winners_commits_per_second=2_000, trivial_ceiling_per_second=10_000)  # fmt: skip
UNMEASURED = dataclasses.replace(MEASURED, attempts_per_second_at_target=0)
API = ServiceConfig(name="api", kind="web", command=("serve",), paths=("/sales/*",), cpu=512, min_tasks=2, max_tasks=10)
RELAY = ServiceConfig(name="relay", kind="worker", command=("relay",), cpu=256)
RATE_KEY = "flashsale:saleWindows[0].expectedAttemptsPerSecond"


def window(rate: float | None = None, min_tasks: int | None = None, **more: object) -> dict:
    w = {"name": "bf", "start": "2030-11-29T09:00", "end": "2030-11-29T13:00", "timezone": "Europe/Berlin", **more}
    if rate is not None:
        w["expectedAttemptsPerSecond"] = rate
    if min_tasks is not None:
        w["minTasks"] = min_tasks
    return w


def sized(rate: float, worker: WorkerCapacity = MEASURED, tiers: Tiers = TIERS, requests: int = 0, stack=THREE_LARGE):
    sale = SaleWindow.model_validate(window(rate)).model_copy(update={"services": ("api",)})
    return sale_sizing.size_stack(
        [(0, sale)], (API, RELAY), AutoscalingConfig(requests_per_target=requests), CacheConfig(), stack,
        figures=lambda: (worker, tiers),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rate", "floor"),
    [
        (4_001, 9),  # 4,001 / 500 = 8.002 -> 9 tasks
        (4_000, 8),  # exactly 8 tasks' worth
        (5_000, 10),  # the ceiling itself
        (100, 2),  # one task would do: the service's own floor of 2 carries it
    ],
)
def test_the_floor_is_the_rate_over_a_tasks_capacity_rounded_up(rate: float, floor: int) -> None:
    result, found = sized(rate)
    assert found == []
    assert result.floor("bf", "api") == floor
    assert (
        f"sale window bf: {rate:,.0f} expected attempts/s -> floor {floor} tasks of api (500.0 attempts/s"
        in (result.notes[0])
    )


def test_a_rate_above_what_max_tasks_carry_is_an_error_naming_the_key_and_the_figure() -> None:
    result, found = sized(5_001)
    assert found == [
        f"{RATE_KEY} = 5001.0: needs 11 tasks of service api (500.0 attempts/s each at the latency target): "
        "must need <= its maxTasks (10)"
    ]
    assert result.floors == ()


def test_an_unmeasured_capacity_raises_the_floor_to_max_tasks_and_warns_naming_the_key() -> None:
    result, found = sized(4_001, worker=UNMEASURED)
    assert found == []
    assert result.floor("bf", "api") == API.max_tasks
    assert result.warnings[0] == (
        f"{RATE_KEY} = 4001.0: cannot be sized: {UNMEASURED.unknown_because}; the window raises service api to its "
        "maxTasks (10) instead"
    )
    assert "floor 10 tasks of api (its maxTasks: the capacity at the latency target is unknown)" in result.notes[0]


def test_a_tier_that_would_not_carry_the_rate_is_a_warning_naming_the_tier_and_the_key() -> None:
    # TIERS: the sale's shard 20,000 commands/s, the database 10,000 winners/s; TWO_SMALL's brokers 10 MB/s
    # produced = 10,000 winners/s; no ALB reservation. 15,000/s on 1 vCPU tasks needs 15 of them: raise maxTasks.
    api = API.model_copy(update={"cpu": 1024, "max_tasks": 20})
    sale = SaleWindow.model_validate(window(15_000)).model_copy(update={"services": ("api",)})
    result, found = sale_sizing.size_stack(
        [(0, sale)], (api,), AutoscalingConfig(requests_per_target=1), CacheConfig(), TWO_SMALL,
        figures=lambda: (MEASURED, TIERS),
    )  # fmt: skip
    assert found == [] and result.floor("bf", "api") == 15
    assert result.warnings == (
        f"{RATE_KEY} = 15000.0: database (winners' commits) would not carry it: 15,000.0 winners/s of 10,000.0 usable "
        "(150%, capacity/tiers.yaml)",
        f"{RATE_KEY} = 15000.0: Kafka (brokers) would not carry it: 15.0 MB/s of 10.0 usable "
        "(150%, capacity/tiers.yaml)",
        # 1,500 new connections/s = 60 LCU
        f"{RATE_KEY} = 15000.0: the ALB needs 60.0 LCU at once and alb.reservedCapacityUnits reserves 0: beyond it "
        "the ALB scales during the burst, not before it",
    )
    # Within every tier's capacity (THREE_LARGE reserves 10 LCU: 4,000/s needs 16): only the ALB's reservation.
    result, _ = sized(4_000)
    assert [w.split(": ", 1)[1].split(" ")[:2] for w in result.warnings] == [["the", "ALB"]]


def test_requests_per_target_is_derived_per_web_service_unless_the_stack_sets_it() -> None:
    result, _ = sized(100)
    # 500 attempts/s per 512-unit task x 60 x 0.7 = 21,000 per minute
    assert result.requests_per_target == (("api", 21_000),)
    assert (
        "autoscaling.requestsPerTarget for service api: 21,000 requests per task per minute = 500.0"
        in (result.notes[-1])
    )
    assert sized(100, requests=1_234)[0].requests_per_target == (("api", 1_234),)


def test_an_unmeasured_capacity_derives_no_requests_policy_and_warns_naming_the_key() -> None:
    result, _ = sized(100, worker=UNMEASURED)
    assert result.requests_per_target == (("api", None),)
    assert result.warnings[-1].startswith(
        f"flashsale:autoscaling.requestsPerTarget = 0: derived, but {UNMEASURED.unknown_because}: service api "
        "tracks CPU and memory only"
    )
    # A stack that sets the figure needs no measurement.
    assert sized(100, worker=UNMEASURED, requests=500)[0].requests_per_target == (("api", 500),)


def test_a_window_gives_exactly_one_of_min_tasks_and_the_rate() -> None:
    allowed = "must give exactly one of minTasks (the floor) or expectedAttemptsPerSecond (the program sizes it)"
    both = one_problem(saleWindows=[window(4_000, min_tasks=4)])
    assert both == f'flashsale:saleWindows[0] = {{"minTasks": 4, "expectedAttemptsPerSecond": 4000.0}}: {allowed}'
    assert one_problem(saleWindows=[window()]) == f"flashsale:saleWindows[0] = {{}}: {allowed}"


@pytest.mark.parametrize("rate", [0, -5, "lots", True])
def test_a_rate_must_be_a_positive_number(rate: object) -> None:
    found = one_problem(saleWindows=[window(rate)])
    assert found.startswith(f"{RATE_KEY} = ") and ": must be a number of attempts/s above 0" in found


def test_unreadable_measurements_are_a_problem_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(mode: str) -> WorkerCapacity:
        raise MeasuredCapacityError("capacity/measured.yaml is missing")

    monkeypatch.setattr(sale_sizing.sizing_measured, "load", missing)
    assert problems(saleWindows=[window(4_000)]) == [
        f"{RATE_KEY} = 4000.0: is sized from the measured capacity, which cannot be read: capacity/measured.yaml is "
        "missing",
        "flashsale:autoscaling.requestsPerTarget = 0: is sized from the measured capacity, which cannot be read: "
        "capacity/measured.yaml is missing",
    ]
    # A stack that sizes nothing from it does not read it.
    assert parse_config(raw_for("dev", autoscaling__requestsPerTarget="600"), project="flashsale", stack="dev",
                        region="eu-west-1")  # fmt: skip


def test_pulumi_yaml_declares_requests_per_target_as_derived() -> None:
    # 0 is the "derived" marker: a key declared without any default is one every stack must set.
    declared = PROJECT["config"]["autoscaling.requestsPerTarget"]
    assert declared["default"] == 0 and "derived from the measured capacity" in declared["description"]
    assert AutoscalingConfig().requests_per_target == 0


@pytest.fixture
def measured_1000(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program sizes from MEASURED whatever the stack's Redis mode."""
    monkeypatch.setattr(sale_sizing.sizing_measured, "load", lambda mode: dataclasses.replace(MEASURED, redis=mode))


def test_every_stack_deploys_a_window_sized_by_its_rate(
    stack: str, cfg: StackConfig, measured_1000: None, caplog: pytest.LogCaptureFixture
) -> None:
    api = next(s for s in cfg.services if s.is_web)
    per_task = 1_000 * min(api.cpu / 1024, 1)
    rate = per_task * (api.max_tasks - 1) - 1  # needs maxTasks - 1 tasks
    with caplog.at_level(logging.WARNING):
        run = run_program(stack, overrides={"flashsale:saleWindows": [window(rate)]})
    actions = {r.inputs["name"]: r.inputs for r in run.children(scaling(run, api)) if r.type == SCHEDULED}
    assert actions[f"{api.name}-bf-floor-up"]["scalableTargetAction"]["minCapacity"] == api.max_tasks - 1
    requests = {r.name: r.inputs for r in run.children(scaling(run, api)) if r.type == POLICY}
    tracking = requests[f"{stack}-{api.name}-scaling-requests"]["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == int(per_task * 60 * 0.7)
    # the stacks reserve no ALB capacity: the program warns, naming the key
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith(f"{RATE_KEY} = {rate}: the ALB needs ") for w in warnings), warnings


def test_each_stack_files_rate_windows_are_sized_from_the_repo_figures(stack: str, cfg: StackConfig) -> None:
    if cfg.is_prod:
        assert any(w.expected_attempts_per_second for w in cfg.sale_windows), "prod sizes its example window by rate"
    for w in cfg.sale_windows:
        for svc in (s for s in cfg.services if s.name in w.services):
            assert cfg.window_floor(w, svc.name) == by_hand.window_floor(cfg, w, svc)
            assert svc.min_tasks <= cfg.window_floor(w, svc.name) <= svc.max_tasks


def test_make_plan_prints_the_computed_floor_and_the_rate(stack: str, cfg: StackConfig, capsys) -> None:
    assert plan.main(["--stack", stack]) == 0
    out = capsys.readouterr().out
    for w in (w for w in cfg.sale_windows if w.expected_attempts_per_second):
        for name in w.services:
            floor = cfg.window_floor(w, name)
            expected = (
                f"sale window {w.name}: {w.expected_attempts_per_second:,.0f} expected attempts/s -> floor {floor}"
            )
            assert expected in out
    for svc in cfg.web_services:
        if cfg.autoscaling.requests_per_target == 0 and cfg.requests_per_target(svc.name):
            assert (
                f"autoscaling.requestsPerTarget for service {svc.name}: {cfg.requests_per_target(svc.name):,} " in out
            )
