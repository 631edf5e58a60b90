"""`make cost`: the price table applied to what the program registers (under mocks) for each stack."""

from __future__ import annotations

import dataclasses

import pytest

from tooling import cost
from tooling.capacity import load_stack_config
from tooling.cost import PriceTable, split_tasks
from tooling.mock_runtime import ProgramRun, run_program

_RUNS: dict[str, ProgramRun] = {}


def _run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack)
    return _RUNS[stack]


def _unit_prices() -> PriceTable:
    """The repo's table with every price set to 1, so each line's quantity is its cost over hours."""
    real = PriceTable.load()
    return dataclasses.replace(real, entries={k: {**v, "price": 1.0} for k, v in real.entries.items()})


def _lines(stack: str, prices: PriceTable | None = None) -> cost.Estimate:
    return cost.estimate(_run(stack), load_stack_config(stack), prices or _unit_prices())


def _line(result: cost.Estimate, resource: str, starts: str) -> cost.Line:
    found = [x for x in result.lines if x.resource == resource and x.item.startswith(starts)]
    assert len(found) == 1, (resource, starts, result.lines)
    return found[0]


def test_tasks_go_to_each_providers_base_first_then_by_weight() -> None:
    prod = [{"capacityProvider": "FARGATE", "base": 10, "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert split_tasks(30, prod) == {"FARGATE": 20, "FARGATE_SPOT": 10}
    assert split_tasks(4, prod) == {"FARGATE": 4, "FARGATE_SPOT": 0}
    dev = [{"capacityProvider": "FARGATE", "base": 0, "weight": 0}, {"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert split_tasks(3, dev) == {"FARGATE": 0, "FARGATE_SPOT": 3}
    with pytest.raises(cost.PriceError, match="has no weight"):
        split_tasks(3, [{"capacityProvider": "FARGATE", "base": 1, "weight": 0}])


def test_prod_lines_follow_the_registered_resources() -> None:
    result, hours = _lines("prod"), 730
    assert _line(result, "prod-db-postgres", "db.m7g.large Multi-AZ").monthly == 2 * hours
    assert _line(result, "prod-db-postgres", "100 GB gp3 Multi-AZ").monthly == 2 * 100
    cache = _line(result, "prod-cache-replication-group", "6 x cache.m7g.large (valkey)")  # 2 shards x (1 + 2)
    assert cache.monthly == 6 * hours
    assert _line(result, "prod-kafka-cluster", "3 x kafka.m7g.large").monthly == 3 * hours
    assert _line(result, "prod-kafka-cluster", "3 x 100 GB").monthly == 300
    assert _line(result, "prod-vpc", "3 NAT gateway(s)").monthly == 3 * hours * 2  # the gateway and its IPv4
    endpoints = [x for x in result.lines if x.item.startswith("interface endpoint")]
    assert len(endpoints) == 5 and all(x.monthly == 3 * hours for x in endpoints)
    # 1 vCPU + 2 GB per task-hour at unit prices; the base of 10 runs on demand
    assert _line(result, "prod-api-service", "10 tasks x 1024 CPU / 2048 MiB ARM64").monthly == 10 * hours * 3
    assert _line(result, "prod-db-proxy", "RDS Proxy over 2 vCPU").monthly == 2 * hours
    keys = len(_run("prod").of_type("aws:kms/key:Key"))  # one per data store, the alarm topic, the DR copies
    assert keys >= 3 and _line(result, "kms", f"{keys} customer managed KMS keys").monthly == keys
    assert result.monthly == pytest.approx(sum(x.monthly for x in result.lines))


def test_dev_has_one_nat_no_endpoints_and_single_az_data() -> None:
    result = _lines("dev")
    assert _line(result, "dev-vpc", "1 NAT gateway(s)").monthly == 730 * 2
    assert not [x for x in result.lines if x.item.startswith("interface endpoint")]
    assert _line(result, "dev-db-postgres", "db.t4g.micro Single-AZ").monthly == 730
    assert not [x for x in result.lines if x.resource.endswith("proxy")]


def test_a_sale_window_costs_the_tasks_above_the_floor_for_its_hours() -> None:
    cfg = load_stack_config("prod")
    window = cfg.sale_windows[0]
    (extra,) = _lines("prod").windows
    hours = (window.end - window.start).total_seconds() / 3600 + window.lead_minutes / 60
    assert extra.resource == f"{window.name} / api"
    # the floor the program raises to (sized from the window's rate, or its minTasks), above prod's own 10
    assert extra.monthly == pytest.approx((cfg.window_floor(window, "api") - 10) * hours * 3)


def test_dev_tasks_are_priced_at_fargate_spot_x86_prices() -> None:
    prices = _unit_prices()
    entries = dict(prices.entries)
    for unit in ("vcpu_hour", "gb_hour"):
        entries[f"fargate_spot.x86_64.{unit}"] = {**entries[f"fargate_spot.x86_64.{unit}"], "price": 0.01}
    result = _lines("dev", dataclasses.replace(prices, entries=entries))
    assert _line(result, "dev-api-service", "2 tasks").monthly == pytest.approx(2 * 730 * (0.5 + 1) * 0.01)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cache_nodes_are_priced_by_their_engine(stack: str) -> None:
    """ElastiCache prices a node by type and engine: a Valkey node is not billed at the Redis OSS price."""
    cfg = load_stack_config(stack)
    prices = _unit_prices()
    entries = dict(prices.entries)
    for engine, price in (("valkey", 0.8), ("redis", 1.0)):
        entries[f"elasticache.{engine}.{cfg.cache.node_type}"] = {"price": price, "unit": "node-hour"}
    nodes = cfg.cache.shards * (1 + cfg.cache.replicas_per_shard) if cfg.cache.cluster_mode else 1
    for engine, version, price in (("valkey", "8.2", 0.8), ("redis", "7.1", 1.0)):
        run = run_program(stack, {"flashsale:cache.engine": engine, "flashsale:cache.engineVersion": version})
        result = cost.estimate(run, cfg, dataclasses.replace(prices, entries=entries))
        line = _line(result, f"{stack}-cache-replication-group", f"{nodes} x {cfg.cache.node_type} ({engine})")
        assert line.monthly == pytest.approx(nodes * 730 * price)


def test_a_missing_price_names_its_key() -> None:
    prices = _unit_prices()
    entries = {k: v for k, v in prices.entries.items() if k != "msk.kafka.m7g.large"}
    with pytest.raises(cost.PriceError, match=r"no price 'msk\.kafka\.m7g\.large'"):
        _lines("prod", dataclasses.replace(prices, entries=entries))


def test_make_cost_prints_every_stack_with_the_table_date_and_region(capsys: pytest.CaptureFixture[str]) -> None:
    for stack in ("dev", "prod"):
        assert cost.main(["--stack", stack]) == 0
        out = capsys.readouterr().out
        table = PriceTable.load()
        assert f"at {table.region} prices of {table.date}" in out
        assert "| **total** |" in out
    assert cost.main(["--stack", "nope"]) == 1
    assert "cost for stack nope failed: no stack file" in capsys.readouterr().err
