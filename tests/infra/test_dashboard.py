"""The sale-day dashboard and the sale alarms name only metrics that something emits.

The service's metrics (namespace FlashSale) are checked against reservation.shared.cloudwatch_metrics, the
definition the EMF reporter emits from (tests/app/test_emf.py checks that side), on every stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from reservation.shared import cloudwatch_metrics as cw

from components.dashboard import DashboardValues, dashboard_body
from stackconfig import StackConfig
from tests.infra.compute import ALARM, arn_of
from tooling.mock_outputs import resource_outputs
from tooling.mock_runtime import ProgramRun

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
DECLARED = {m.name: m for m in (*cw.SERVICE_METRICS, *cw.RELAY_METRICS)}
SEARCH = re.compile(r"SEARCH\('\{(?P<namespace>[^,}]+),(?P<dims>[^}]*)\} MetricName=\"(?P<metric>[^\"]+)\"")


def own_metric_references(body: dict[str, Any], namespace: str) -> list[tuple[str, tuple[str, ...]]]:
    """(metric, dimension names) of every reference to `namespace`, in metric arrays and SEARCH expressions."""
    found = []
    for widget in body["widgets"]:
        for entry in widget["properties"]["metrics"]:
            if isinstance(entry[0], str) and entry[0] == namespace:
                plain = [part for part in entry[2:] if isinstance(part, str)]
                found.append((entry[1], tuple(plain[0::2])))
            for part in entry:
                if isinstance(part, dict) and "expression" in part:
                    for m in SEARCH.finditer(part["expression"]):
                        if m["namespace"] == namespace:
                            dims = tuple(d.strip('"') for d in m["dims"].split(",") if d)
                            found.append((m["metric"], dims))
    return found


def undeclared(references: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (name, dims) for name, dims in references if name not in DECLARED or set(dims) != set(DECLARED[name].dimensions)
    ]


def _body(run: ProgramRun) -> dict[str, Any]:
    (dashboard,) = run.of_type(DASHBOARD)
    return json.loads(dashboard.inputs["dashboardBody"])


def test_every_stack_has_a_dashboard_in_its_region(run: ProgramRun, cfg: StackConfig) -> None:
    (dashboard,) = run.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == f"{cfg.project}-{cfg.stack}-sale"
    body = _body(run)
    assert len(body["widgets"]) >= 15
    assert {w["properties"]["region"] for w in body["widgets"]} == {cfg.region}
    assert len({(w["x"], w["y"]) for w in body["widgets"]}) == len(body["widgets"])  # no two on one spot


def test_widgets_name_only_emitted_metrics_and_show_every_one(run: ProgramRun) -> None:
    references = own_metric_references(_body(run), cw.DEFAULT_NAMESPACE)
    assert undeclared(references) == []
    shown = {name for name, _ in references}
    assert shown == set(DECLARED) - {cw.REQUEST_LATENCY_MEAN.name}  # the mean adds nothing beside p50/p99


def test_the_funnel_shows_wins_and_each_refusal_a_buyer_can_get(run: ProgramRun) -> None:
    """A sale's operator tells a sell-out from buyers hitting their limits or their attempt bucket (429)."""
    results = {
        part
        for widget in _body(run)["widgets"]
        for entry in widget["properties"]["metrics"]
        if entry[:2] == [cw.DEFAULT_NAMESPACE, cw.RESERVATION_REQUESTS.name]
        for part in entry[2:]
        if isinstance(part, str)
    }
    assert {cw.RESERVED, cw.SOLD_OUT, cw.USER_LIMIT, cw.TOO_MANY_ATTEMPTS} <= results


def test_the_check_catches_a_widget_naming_a_metric_nothing_emits() -> None:
    values = DashboardValues("eu-west-1", "FlashSale", "app/alb/1", "cluster", ("api",), {"DBInstanceIdentifier": "db"},
                             "rg", "kafka")  # fmt: skip
    body = dashboard_body(values)
    body["widgets"][0]["properties"]["metrics"].append(["FlashSale", "ReservationAttempts", "Result", "reserved"])
    body["widgets"][1]["properties"]["metrics"].append(["FlashSale", "StockRemaining", "Sale", "1"])
    assert undeclared(own_metric_references(body, "FlashSale")) == [
        ("ReservationAttempts", ("Result",)),
        ("StockRemaining", ("Sale",)),
    ]


def test_aws_widgets_point_at_this_stacks_resources(run: ProgramRun) -> None:
    body = json.dumps(_body(run))
    alb = run.one("aws:lb/loadBalancer:LoadBalancer")
    suffix = resource_outputs(alb.type, alb.name, alb.inputs)[1]["arnSuffix"]  # what the mocked ALB answered
    assert f'"LoadBalancer", "{suffix}"' in body
    for service in run.of_type("aws:ecs/service:Service"):
        assert f'"ServiceName", "{service.inputs["name"]}"' in body
    group = run.one("aws:elasticache/replicationGroup:ReplicationGroup")
    assert f'\\"{resource_outputs(group.type, group.name, group.inputs)[0]}\\"' in body  # SEARCH's term
    cluster = run.one("aws:msk/cluster:Cluster")
    assert f'\\"{resource_outputs(cluster.type, cluster.name, cluster.inputs)[1]["clusterName"]}\\"' in body


def _sale_alarms(run: ProgramRun, cfg: StackConfig) -> dict[str, dict[str, Any]]:
    prefix = f"{cfg.project}-{cfg.stack}-"
    keys = ("sale-sold-out", "dependency-failures", "stores-disagree", "relay-lag")
    found = {
        r.inputs["name"][len(prefix) :]: r.inputs for r in run.of_type(ALARM) if r.inputs["name"].startswith(prefix)
    }
    return {key: found[key] for key in keys}


def _alarm_dimensions(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of a plain alarm or of each metric inside its math."""
    if "metricName" in alarm:
        return [(alarm["namespace"], alarm["metricName"], alarm.get("dimensions", {}))]
    metrics = [q["metric"] for q in alarm["metricQueries"] if "metric" in q]
    return [(m["namespace"], m["metricName"], m.get("dimensions", {})) for m in metrics]


def test_sale_alarms_watch_emitted_metrics_and_notify_the_topic(run: ProgramRun, cfg: StackConfig) -> None:
    topic = arn_of(run.one("aws:sns/topic:Topic"))
    for key, alarm in _sale_alarms(run, cfg).items():
        assert alarm["alarmActions"] == [topic] and alarm["okActions"] == [topic], key
        for namespace, name, dims in _alarm_dimensions(alarm):
            assert namespace == cw.DEFAULT_NAMESPACE
            assert name in DECLARED and set(dims) == set(DECLARED[name].dimensions), (key, name, dims)


def test_sale_alarm_thresholds_and_signals(run: ProgramRun, cfg: StackConfig) -> None:
    alarms = _sale_alarms(run, cfg)
    assert alarms["sale-sold-out"]["dimensions"] == {"Result": cw.SOLD_OUT}
    assert alarms["dependency-failures"]["threshold"] == pytest.approx(cfg.alarms.dependency_failure_percent)
    routes = {
        q["metric"]["dimensions"]["Route"] for q in alarms["dependency-failures"]["metricQueries"] if "metric" in q
    }
    assert routes == {cw.RESERVATION_ROUTE}
    disagree = {
        q["metric"]["dimensions"]["Result"] for q in alarms["stores-disagree"]["metricQueries"] if "metric" in q
    }
    assert disagree == {cw.GUARD_REFUSED, cw.COMPENSATED}
    assert alarms["relay-lag"]["metricName"] == cw.RELAY_OLDEST_UNSENT_AGE.name
    assert alarms["relay-lag"]["threshold"] == cfg.alarms.relay_lag_seconds
