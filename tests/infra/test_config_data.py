"""Config rules of the data tier: Performance Insights retention, cache engine/version, prod Aurora readers."""

from __future__ import annotations

import pytest

from stackconfig import parse_config
from tests.infra.test_config import one_problem, raw_for


@pytest.mark.parametrize("days", [7, 31, 93, 731])
def test_performance_insights_retention_accepts_what_aws_keeps(days: int) -> None:
    raw = raw_for("dev", database__performanceInsightsRetentionDays=days)
    cfg = parse_config(raw, project="flashsale", stack="dev", region="eu-west-1")
    assert cfg.database.performance_insights_retention_days == days


def test_performance_insights_retention_refuses_other_days() -> None:
    assert one_problem(database__performanceInsightsRetentionDays=30) == (
        "flashsale:database.performanceInsightsRetentionDays = 30: must be 7, 731 or a multiple of 31"
    )


@pytest.mark.parametrize(
    ("engine", "version"), [("redis", "7.0"), ("redis", "7.1"), ("valkey", "7.2"), ("valkey", "8.0"), ("valkey", "8.2")]
)
def test_cache_engine_versions_with_a_parameter_group_family(engine: str, version: str) -> None:
    raw = raw_for("dev", cache__engine=engine, cache__engineVersion=version)
    cfg = parse_config(raw, project="flashsale", stack="dev", region="eu-west-1")
    assert (cfg.cache.engine, cfg.cache.engine_version) == (engine, version)


@pytest.mark.parametrize(
    ("engine", "version", "allowed"),
    [
        ("redis", "8.0", "must be 7.x for engine redis"),
        ("valkey", "7.1", "must be 7.2 or 8.x for engine valkey"),
        # the provider refuses a bare major (terraform-provider-aws, validValkeyVersionString)
        ("valkey", "8", "must be a Redis/Valkey version <major>.<minor>"),
    ],
)
def test_cache_engine_versions_without_a_family_are_refused(engine: str, version: str, allowed: str) -> None:
    problem = one_problem(cache__engine=engine, cache__engineVersion=version)
    assert problem.startswith(f"flashsale:cache.engineVersion = '{version}': {allowed}")


def test_prod_aurora_needs_a_reader() -> None:
    problem = one_problem("prod", database__engine="aurora-postgresql", database__auroraReaders=0)
    assert problem.startswith("flashsale:database.auroraReaders = 0: must be >= 1 when environment is prod")


def test_dev_aurora_may_run_the_writer_alone() -> None:
    raw = raw_for("dev", database__engine="aurora-postgresql", database__auroraReaders=0)
    assert parse_config(raw, project="flashsale", stack="dev", region="eu-west-1").database.aurora_readers == 0


@pytest.mark.parametrize("version", ["3.5.1", "2.8.1"])
def test_kafka_versions_without_msks_topic_api_are_refused(version: str) -> None:
    problem = one_problem(kafka__version=version)
    assert problem.startswith(f"flashsale:kafka.version = '{version}': must")


@pytest.mark.parametrize("version", ["3.6.0", "3.8.x", "3.9.x.kraft", "4.0.x.kraft"])
def test_kafka_versions_with_msks_topic_api(version: str) -> None:
    cfg = parse_config(raw_for("dev", kafka__version=version), project="flashsale", stack="dev", region="eu-west-1")
    assert cfg.kafka.version == version


def test_the_application_role_defaults_to_flashsale_app() -> None:
    cfg = parse_config(raw_for("dev"), project="flashsale", stack="dev", region="eu-west-1")
    assert cfg.database.app_username == "flashsale_app" and cfg.database.username != cfg.database.app_username


@pytest.mark.parametrize("name", ["Flashsale", "1app", "pg_app", "public", "app-user", "a" * 64])
def test_an_application_role_name_migrate_would_refuse_fails_the_plan(name: str) -> None:
    """The service's own rule (reservation.shared.role_login): refused at plan time, not by migrate at deploy."""
    assert one_problem(database__appUsername=name) == (
        f"flashsale:database.appUsername = '{name}': must be 1-63 lowercase letters, digits or _, "
        "not starting with a digit or pg_, nor a reserved name"
    )


def test_the_application_role_cannot_be_the_master_user() -> None:
    assert one_problem(database__appUsername="flashsale") == (
        "flashsale:database.appUsername = 'flashsale': must differ from database.username (flashsale), "
        "the master user migrate logs in as"
    )
