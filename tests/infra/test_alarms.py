"""Alarms per stack: the topic and its subscribers, the platform alarms on ALB, database, Redis and MSK,
and the per-service alarms that roll deployments back; every name under the exported prefix."""

from __future__ import annotations

import json

from components.alarms import MAX_ALARM_METRICS, cache_node_ids
from stackconfig import StackConfig
from tests.infra.compute import ALARM, arn_of, component, services_in
from tooling.mock_outputs import ACCOUNT
from tooling.mock_runtime import ProgramRun, run_program

KMS_KEY = "aws:kms/key:Key"

PLATFORM = {"alb-5xx-rate", "alb-p99-latency", "db-connections", "db-cpu", "redis-cpu", "redis-memory", "kafka-disk"}
SALE = {"sale-sold-out", "dependency-failures", "stores-disagree", "relay-lag"}  # tests/infra/test_dashboard.py
WEB = {"cpu-high", "5xx-rate", "p99-latency", "unhealthy-blue", "unhealthy-green"}


def alarms(run: ProgramRun) -> dict[str, dict]:
    found = {r.inputs["name"]: r.inputs for r in run.of_type(ALARM)}
    assert found, "the program registered no alarm"
    return found


def test_topic_is_encrypted_and_mails_the_configured_addresses(run: ProgramRun, cfg: StackConfig) -> None:
    topic = run.one("aws:sns/topic:Topic")
    subscriptions = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(cfg.alarms.emails)
    assert all(s.inputs["protocol"] == "email" and s.inputs["topic"] == arn_of(topic) for s in subscriptions)
    for alarm in alarms(run).values():
        assert alarm["alarmActions"] == [arn_of(topic)]


def test_topic_key_lets_cloudwatch_alarms_publish(run: ProgramRun, cfg: StackConfig) -> None:
    """CloudWatch cannot use alias/aws/sns: the topic needs a customer key whose policy grants it
    kms:Decrypt and kms:GenerateDataKey* (SNS developer guide, sns-key-management.html)."""
    topic = run.one("aws:sns/topic:Topic")
    key = run.one(KMS_KEY, f"{run.stack}-alarms-topic-key")
    assert topic.inputs["kmsMasterKeyId"] == arn_of(key)
    statements = json.loads(key.inputs["policy"])["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1 and cloudwatch[0]["Effect"] == "Allow"
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    admin = next(s for s in statements if "AWS" in s["Principal"])
    assert admin["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT}:root" and admin["Action"] == "kms:*"
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is cfg.protect_data


def test_subscriptions_are_keyed_by_address_and_keep_their_index_urns(run: ProgramRun, cfg: StackConfig) -> None:
    subscriptions = {s.inputs["endpoint"]: s for s in run.of_type("aws:sns/topicSubscription:TopicSubscription")}
    for i, email in enumerate(cfg.alarms.emails):
        subscription = subscriptions[email]
        assert subscription.name == f"{run.stack}-alarms-email-{email}"
        # The former index name stays an alias: the first deploy adopts the existing subscription.
        assert f"{run.stack}-alarms-email-{i}" in subscription.alias_names


def test_removing_an_address_leaves_the_others_untouched(stack: str) -> None:
    emails = ["first@flashsale.example.com", "second@flashsale.example.com", "third@flashsale.example.com"]
    names = {}
    for listed in (emails, emails[1:]):
        result = run_program(stack, overrides={"flashsale:alarms.emails": listed})
        names[len(listed)] = {
            s.inputs["endpoint"]: s.name for s in result.of_type("aws:sns/topicSubscription:TopicSubscription")
        }
    assert names[3]["first@flashsale.example.com"]
    assert {e: names[3][e] for e in emails[1:]} == names[2]


def test_every_alarm_is_named_under_the_exported_prefix(run: ProgramRun, cfg: StackConfig) -> None:
    prefix = run.outputs["alarmPrefix"]
    assert prefix == f"{cfg.project}-{cfg.stack}-"
    expected = {f"{prefix}{k}" for k in PLATFORM | SALE}
    for svc in services_in(cfg):
        expected |= {f"{prefix}{svc.name}-{k}" for k in (WEB if svc.is_web else {"cpu-high"})}
    assert set(alarms(run)) == expected


def test_thresholds_come_from_the_stack(run: ProgramRun, cfg: StackConfig) -> None:
    found, prefix = alarms(run), run.outputs["alarmPrefix"]
    assert found[f"{prefix}alb-5xx-rate"]["threshold"] == cfg.alarms.http_5xx_percent
    assert found[f"{prefix}alb-p99-latency"]["threshold"] == cfg.alarms.p99_latency_ms / 1000
    assert found[f"{prefix}alb-p99-latency"]["extendedStatistic"] == "p99"
    assert found[f"{prefix}db-connections"]["threshold"] == cfg.alarms.database_connections
    for svc in (s for s in services_in(cfg) if s.is_web):
        rate = found[f"{prefix}{svc.name}-5xx-rate"]
        assert rate["threshold"] == cfg.alarms.http_5xx_percent
        metrics = {q["metric"]["metricName"] for q in rate["metricQueries"] if "metric" in q}
        assert metrics == {"HTTPCode_Target_5XX_Count", "RequestCount"}
        assert found[f"{prefix}{svc.name}-p99-latency"]["threshold"] == cfg.alarms.p99_latency_ms / 1000


# Memory of the instance classes the stacks use, GiB (RDS DB instance classes, hardware specifications).
INSTANCE_MEMORY_GIB = {"db.t4g.micro": 1, "db.m7g.large": 8}


def test_proxied_database_connection_alarm_means_an_exhausted_pool(run: ProgramRun, cfg: StackConfig) -> None:
    """Behind RDS Proxy the database holds the proxy's pool, capped at max_connections_percent of
    PostgreSQL's max_connections (RDS default LEAST(DBInstanceClassMemory/9531392, 5000)). The alarm
    must fire as that pool nears its cap (from 70% of it), not at a per-task count far below."""
    threshold = alarms(run)[f"{run.outputs['alarmPrefix']}db-connections"]["threshold"]
    if not (cfg.database.proxy and cfg.database.engine == "postgres"):
        assert threshold == cfg.alarms.database_connections
        return
    max_connections = min(INSTANCE_MEMORY_GIB[cfg.database.instance_class] * 2**30 // 9531392, 5000)
    pool = run.one("aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup").inputs["connectionPoolConfig"]
    cap = max_connections * pool["maxConnectionsPercent"] / 100
    assert 0.7 * cap <= threshold < cap, f"db-connections threshold {threshold} vs the proxy's cap {cap:.0f}"


def test_data_alarms_watch_the_data_tier(run: ProgramRun, cfg: StackConfig) -> None:
    found, prefix = alarms(run), run.outputs["alarmPrefix"]
    database = found[f"{prefix}db-cpu"]
    assert database["namespace"] == "AWS/RDS" and database["dimensions"]
    assert found[f"{prefix}db-connections"]["metricName"] == "DatabaseConnections"
    for key, metric in (("redis-cpu", "EngineCPUUtilization"), ("redis-memory", "DatabaseMemoryUsagePercentage")):
        queries = [q for q in found[f"{prefix}{key}"]["metricQueries"] if "metric" in q]
        assert {q["metric"]["metricName"] for q in queries} == {metric}
        nodes = cache_node_ids("rg", cfg.cache)[: MAX_ALARM_METRICS - 1]
        assert len(queries) == len(nodes)
    disk = [q for q in found[f"{prefix}kafka-disk"]["metricQueries"] if "metric" in q]
    assert sorted(q["metric"]["dimensions"]["Broker ID"] for q in disk) == sorted(
        str(b) for b in range(1, cfg.broker_count + 1)
    )
    assert {q["metric"]["metricName"] for q in disk} == {"KafkaDataLogsDiskUsed"}


def test_service_alarms_are_children_of_their_service(run: ProgramRun, cfg: StackConfig) -> None:
    for svc in services_in(cfg):
        own = [r for r in run.children(component(run, svc)) if r.type == ALARM]
        assert own and all(r.inputs["name"].startswith(f"{run.outputs['alarmPrefix']}{svc.name}-") for r in own)
