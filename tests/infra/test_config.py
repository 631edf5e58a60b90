"""Config validation: each rule, the all-at-once report, and agreement with Pulumi.yaml."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from stackconfig import ConfigError, StackConfig, parse_config
from tests.infra.conftest import STACKS, stack_config
from tooling.stack_files import ROOT, load_stack_files

PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def raw_for(stack: str, **changes: Any) -> dict[str, str]:
    """The stack's engine-encoded values (no namespace), with `changes` applied (dots as __)."""
    files = load_stack_files(stack)
    raw = {k.split(":", 1)[1]: v for k, v in files.config.items() if k.startswith("flashsale:")}
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return raw


def problems(stack: str = "dev", region: str | None = "eu-west-1", **changes: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(raw_for(stack, **changes), project="flashsale", stack=stack, region=region)
    return err.value.problems


def one_problem(stack: str = "dev", **changes: Any) -> str:
    found = problems(stack, **changes)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid(stack: str) -> None:
    assert isinstance(stack_config(stack), StackConfig)


def test_every_declared_key_has_description_and_default_and_scalars_a_type() -> None:
    for key, decl in PROJECT["config"].items():
        assert decl.get("description"), key
        assert "default" in decl, key
        if not isinstance(decl["default"], (list, dict)) or key.startswith(("network.", "alarms.")):
            assert decl.get("type") in ("string", "integer", "boolean", "array"), key


def test_stack_files_set_only_what_differs() -> None:
    defaults = {k: d["default"] for k, d in PROJECT["config"].items()}
    for stack in STACKS:
        values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        same = [k for k, v in values.items() if k.startswith("flashsale:") and defaults.get(k[10:]) == v]
        assert same == [] or same == ["flashsale:environment"], f"{stack} repeats defaults: {same}"


def test_bad_cidr_names_key_value_and_rule() -> None:
    msg = one_problem(network__cidr="10.0.0.0/33")
    assert msg.startswith("flashsale:network.cidr = '10.0.0.0/33'") and "CIDR" in msg


def test_public_or_oversized_cidr_is_refused() -> None:
    assert "private IPv4 block from /16 to /20" in one_problem(network__cidr="8.8.0.0/16")
    assert "private IPv4 block from /16 to /20" in one_problem(network__cidr="10.0.0.0/8")


@pytest.mark.parametrize("count", ["1", "4"])
def test_az_count_outside_2_to_3(count: str) -> None:
    assert one_problem(network__azCount=count) == f"flashsale:network.azCount = {count}: must be between 2 and 3"


def test_unknown_nat_strategy() -> None:
    msg = one_problem(network__natStrategy="PerSubnet")
    assert msg == "flashsale:network.natStrategy = 'PerSubnet': must be one of Single, OnePerAz, None"


def test_no_nat_needs_interface_endpoints() -> None:
    assert "needs network.interfaceEndpoints = true" in one_problem(network__natStrategy="None")


def test_unknown_environment() -> None:
    assert one_problem(environment="qa") == "flashsale:environment = 'qa': must be one of dev, staging, prod"


def test_alb_ingress_cidrs_checked() -> None:
    assert "each entry must be a CIDR block" in one_problem(network__albIngressCidrs=["10.1.2.3/8"])
    assert "at least one" in one_problem(network__albIngressCidrs=[])


def test_every_bad_entry_of_a_list_is_reported_under_its_index() -> None:
    found = problems(network__albIngressCidrs=["10.1.2.3/8", "0.0.0.0/0", "nope"], alarms__emails=["a", "b@x.io", "c"])
    assert [p.split(" = ")[0] for p in found] == [
        "flashsale:network.albIngressCidrs[0]",
        "flashsale:network.albIngressCidrs[2]",
        "flashsale:alarms.emails[0]",
        "flashsale:alarms.emails[2]",
    ]


def test_a_cidr_block_listed_twice_is_refused_where_resources_are_named_by_it() -> None:
    twice = ["203.0.113.0/24", "198.51.100.0/24", "203.0.113.0/24"]
    assert "listed more than once: 203.0.113.0/24" in one_problem(network__albIngressCidrs=twice)
    assert "listed more than once: 203.0.113.0/24" in one_problem(alb__testListenerCidrs=twice)


def test_log_retention_must_be_a_cloudwatch_value() -> None:
    assert "CloudWatch Logs retention" in one_problem(network__flowLogRetentionDays="10")


def test_min_greater_than_max_tasks() -> None:
    services = [{"name": "api", "kind": "web", "command": ["serve"], "paths": ["/*"], "listenerPriority": 1,
                 "minTasks": 4, "maxTasks": 2}]  # fmt: skip
    assert one_problem(services=services) == "flashsale:services[0].maxTasks = 2: must be >= minTasks (4)"


def test_fargate_cpu_memory_combination() -> None:
    services = [{"name": "relay", "kind": "worker", "command": ["relay"], "cpu": 256, "memory": 4096}]
    assert "flashsale:services[0].memory = 4096: must be one of 512..2048" in one_problem(services=services)


def test_web_service_needs_path_and_priority_and_unique_names() -> None:
    services = [
        {"name": "api", "kind": "web", "command": ["serve"]},
        {"name": "api", "kind": "worker", "command": ["relay"]},
    ]
    found = problems(services=services)
    missing = "flashsale:services[0].paths is missing: a web service lists the path patterns the ALB forwards to it"
    assert missing in found
    assert any(p.startswith("flashsale:services[0].listenerPriority is missing") for p in found)
    assert "flashsale:services[].name = 'api': each service's name must be unique" in found


def _web(paths: Any, name: str = "api", priority: int = 1) -> dict[str, Any]:
    return {"name": name, "kind": "web", "command": ["serve"], "paths": paths, "listenerPriority": priority}


def test_web_service_paths_fit_one_alb_rule() -> None:
    six = [f"/p{i}" for i in range(6)]
    assert one_problem(services=[_web(six)]) == (
        f"flashsale:services[0].paths = {json.dumps(six)}: must list 1 to 5 path patterns (one ALB rule's limit)"
    )
    assert "must list 1 to 5" in one_problem(services=[_web([])])
    wild = ["/a/*", "/b/*", "/c/*", "/d/*?", "/e/*"]
    assert one_problem(services=[_web(wild)]).endswith("has 6 wildcards; one ALB rule allows 5")
    for bad in ("sales/*", "/sales/{id}", "/" + "a" * 128):
        assert one_problem(services=[_web(["/health/live", bad])]).startswith(
            f"flashsale:services[0].paths[1] = '{bad}': must be an ALB path pattern"
        )
    assert "did you mean paths?" in " ".join(problems(services=[{**_web(["/x"]), "path": "/*"}]))


def test_a_path_pattern_belongs_to_one_service() -> None:
    services = [_web(["/sales/*", "/health/live"]), _web(["/catalog/*", "/health/live"], "catalog", 2)]
    assert one_problem(services=services) == (
        "flashsale:services[].paths = '/health/live': each service's paths must be unique"
    )


def test_a_worker_takes_no_paths() -> None:
    services = [{"name": "relay", "kind": "worker", "command": ["relay"], "paths": ["/x"]}]
    assert one_problem(services=services) == (
        "flashsale:services[0].kind = 'worker': a worker takes no paths or listenerPriority (it gets no load balancer)"
    )


def test_unknown_service_field_suggests_the_right_one() -> None:
    services = [{"name": "relay", "kind": "worker", "command": ["relay"], "maxTask": 3}]
    assert "did you mean maxTasks?" in one_problem(services=services)


def test_sale_window_rules() -> None:
    window = {"name": "bf", "start": "2026-11-27T10:00", "end": "2026-11-27T09:00", "minTasks": 99}
    found = problems(saleWindows=[window])
    assert "flashsale:saleWindows[0].end = '2026-11-27T09:00': must be after start (2026-11-27T10:00)" in found
    assert "flashsale:saleWindows[0].minTasks = 99: must be <= maxTasks of service api (10)" in found
    # A window that does not read (a bad zone) is reported alone: its rules run once it reads.
    assert one_problem(saleWindows=[{**window, "timezone": "Mars/Olympus"}]) == (
        "flashsale:saleWindows[0].timezone = 'Mars/Olympus': must be an IANA time zone such as Europe/Berlin"
    )


def test_sale_window_min_tasks_must_lie_between_the_services_floor_and_ceiling() -> None:
    window = {"name": "bf", "start": "2030-11-29T09:00", "end": "2030-11-29T13:00", "minTasks": 1,
              "services": ["api"]}  # fmt: skip
    # dev's api runs at least 2 tasks (Pulumi.yaml): a window of 1 would lower its floor for the sale.
    assert one_problem(saleWindows=[window]) == (
        "flashsale:saleWindows[0].minTasks = 1: must be >= minTasks of service api (2): a window raises the floor"
    )


def test_ended_windows_are_kept_apart_as_of_the_injected_clock() -> None:
    windows = [
        {"name": "past", "start": "2026-11-27T09:00", "end": "2026-11-27T13:00", "timezone": "Europe/Berlin",
         "minTasks": 4},
        {"name": "future", "start": "2026-12-04T09:00", "end": "2026-12-04T13:00", "minTasks": 4},
    ]  # fmt: skip
    raw = raw_for("dev", saleWindows=windows)

    def parsed(now: str) -> StackConfig:
        return parse_config(raw, project="flashsale", stack="dev", region="eu-west-1", now=datetime.fromisoformat(now))

    # 13:00 in Berlin is 12:00 UTC: one minute before, "past" is still on.
    assert [w.name for w in parsed("2026-11-27T11:59+00:00").sale_windows] == ["past", "future"]
    later = parsed("2026-11-27T12:00+00:00")
    assert [w.name for w in later.sale_windows] == ["future"]
    assert [w.name for w in later.ended_sale_windows] == ["past"]
    assert later.evaluated_at == datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_per_ip_waf_limit_below_the_per_buyer_one_is_refused() -> None:
    assert one_problem(waf__rateLimitPer5Min=2000, waf__ipRateLimitPer5Min=1000) == (
        "flashsale:waf.ipRateLimitPer5Min = 1000: must be >= waf.rateLimitPer5Min (2000): "
        "one IP can carry many buyers (carrier NAT)"
    )


@pytest.mark.parametrize("key", ["canaryPercent", "linearStepPercent"])
def test_traffic_shares_come_in_tenths_of_a_percent(key: str) -> None:
    assert one_problem(**{f"deploy__{key}": "12.55"}) == (
        f"flashsale:deploy.{key} = 12.55: must be a multiple of 0.1 (ECS shifts traffic in tenths of a percent)"
    )
    cfg = parse_config(raw_for("dev", **{f"deploy__{key}": "12.5"}), project="flashsale", stack="dev", region="x")
    assert getattr(cfg.deploy, "canary_percent" if key == "canaryPercent" else "linear_step_percent") == 12.5


def test_unknown_key_suggests_the_declared_one() -> None:
    raw = raw_for("dev")
    raw["network.azcount"] = "3"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, project="flashsale", stack="dev", region="eu-west-1")
    assert err.value.problems == [
        "flashsale:network.azcount = '3': unknown key (did you mean flashsale:network.azCount?)"
    ]


def test_wrong_types_are_reported_not_raised() -> None:
    found = problems(network__azCount="two", protectData="yes", alarms__emails="oncall")
    assert "flashsale:network.azCount = 'two': must be an integer" in found
    assert "flashsale:protectData = 'yes': must be true or false" in found
    assert "flashsale:alarms.emails = 'oncall': must be a list of strings" in found


def test_missing_region() -> None:
    assert problems(region=None) == ["aws:region is missing: set it in the stack file, e.g. aws:region: eu-west-1"]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(network__cidr="nope", network__azCount="5", network__natStrategy="Many", environment="qa")
    assert [p.split(" ")[0] for p in found] == [
        "flashsale:network.cidr",
        "flashsale:network.natStrategy",
        "flashsale:network.azCount",
        "flashsale:environment",
    ]


def test_prod_refuses_cheap_dev_choices() -> None:
    found = problems(
        "prod", protectData="false", network__azCount="2", database__multiAz="false", database__backupRetentionDays="1"
    )
    assert "flashsale:protectData = false: must be true when environment is prod" in found
    assert "flashsale:network.azCount = 2: must be >= 3 when environment is prod" in found
    assert any(p.startswith("flashsale:database.multiAz = false") for p in found)
    assert "flashsale:database.backupRetentionDays = 1: must be >= 7 when environment is prod" in found


def test_prod_refuses_the_single_nat_gateway_the_policy_pack_refuses() -> None:
    found = problems("prod", network__natStrategy="Single")
    assert any(p.startswith("flashsale:network.natStrategy = 'Single': must be OnePerAz") for p in found), found
    raw = raw_for("dev", network__natStrategy="Single")
    dev = parse_config(raw, project="flashsale", stack="dev", region="eu-west-1")
    assert dev.network.nat_strategy == "Single"


def test_cluster_mode_off_allows_one_shard_only() -> None:
    assert one_problem(cache__shards="3") == "flashsale:cache.shards = 3: must be 1 when cache.clusterMode is false"


def test_error_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(raw_for("dev", network__azCount="9"), project="flashsale", stack="dev", region="eu-west-1")
    assert str(err.value) == (
        "invalid stack configuration:\n  - flashsale:network.azCount = 9: must be between 2 and 3"
    )


def test_domain_and_zone_go_together() -> None:
    assert one_problem(alb__domainName="shop.example.com") == (
        "flashsale:alb.hostedZoneId = '': must be set with alb.domainName (the zone that validates and serves it)"
    )
    assert "must be empty or a DNS name" in one_problem(alb__domainName="not a name", alb__hostedZoneId="Z123")


def test_prod_must_serve_https() -> None:
    found = problems("prod", alb__domainName="", alb__hostedZoneId="")
    assert found == [
        "flashsale:alb.certificateArn = '': prod must serve HTTPS: set alb.certificateArn, "
        "or alb.domainName with alb.hostedZoneId"
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_arm64_tasks_cannot_be_weighted_to_fargate_spot(stack: str) -> None:
    # Fargate Spot runs only X86_64 Linux tasks: an ARM64 Spot share would never be placed.
    found = one_problem(stack, image__platform="linux/arm64", capacity__spotWeight=1)
    assert found.startswith("flashsale:capacity.spotWeight = 1: must be 0 with image.platform linux/arm64")


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_places_its_spot_share_on_x86(stack: str) -> None:
    cfg = stack_config(stack)
    assert cfg.capacity.spot_weight == 0 or cfg.image.cpu_architecture == "X86_64"
