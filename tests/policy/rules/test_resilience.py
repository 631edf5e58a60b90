"""policy/rules/resilience.py: AZ outages, deletions and region loss. Resource rules by table and
their configurable minimums; the stack rules (Multi-AZ databases, cross-region backups) on small stacks."""

from __future__ import annotations

from policy_harness import (
    MSK_GOOD,
    POLICIES,
    UNKNOWN_ARRAY,
    UNKNOWN_BOOL,
    UNKNOWN_NUMBER,
    UNKNOWN_OBJECT,
    UNKNOWN_STRING,
    Case,
    Res,
    case_tests,
    check_resource,
    check_stack,
    domain_policies,
)

CASES = [
    Case(
        "redis-automatic-failover",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"automaticFailoverEnabled": True, "multiAzEnabled": True},
        {"numCacheClusters": 1.0},
        {"automaticFailoverEnabled": UNKNOWN_BOOL, "multiAzEnabled": UNKNOWN_BOOL},
        "automaticFailoverEnabled",
    ),
    Case(
        "kafka-brokers-across-azs",
        "aws:msk/cluster:Cluster",
        MSK_GOOD,
        {"numberOfBrokerNodes": 2.0, "brokerNodeGroupInfo": {"clientSubnets": ["a", "b"]}},
        {"numberOfBrokerNodes": UNKNOWN_NUMBER, "brokerNodeGroupInfo": {"clientSubnets": UNKNOWN_ARRAY}},
        "at least 3",
    ),
    Case(
        "deletion-protection",
        "aws:rds/instance:Instance",
        {"deletionProtection": True, "skipFinalSnapshot": False},
        {"deletionProtection": True, "skipFinalSnapshot": True},
        {"deletionProtection": UNKNOWN_BOOL, "skipFinalSnapshot": UNKNOWN_BOOL},
        "skipFinalSnapshot",
        {"protect": True},
    ),
    Case(
        "deletion-protection",
        "aws:rds/cluster:Cluster",
        {"deletionProtection": True},
        {"deletionProtection": False},
        {"deletionProtection": UNKNOWN_BOOL},
        "deletionProtection",
        {"protect": True},
    ),
    Case(
        "deletion-protection",
        "aws:secretsmanager/secret:Secret",
        {"recoveryWindowInDays": 30.0},
        {"recoveryWindowInDays": 0.0},
        {"recoveryWindowInDays": UNKNOWN_NUMBER},
        "cannot be undone",
    ),
    Case(
        "backup-retention",
        "aws:rds/instance:Instance",
        {"backupRetentionPeriod": 7.0},
        {"backupRetentionPeriod": 1.0},
        {"backupRetentionPeriod": UNKNOWN_NUMBER},
        "at least 7",
    ),
    Case(
        "backup-retention",
        "aws:rds/cluster:Cluster",
        {"backupRetentionPeriod": 14.0},
        {},
        {"backupRetentionPeriod": UNKNOWN_NUMBER},
        "not set",
    ),
    Case(
        "network-high-availability",
        "awsx:ec2:Vpc",
        {"natGateways": {"strategy": "OnePerAz"}, "numberOfAvailabilityZones": 3.0},
        {"natGateways": {"strategy": "Single"}, "numberOfAvailabilityZones": 3.0},
        {"natGateways": UNKNOWN_OBJECT, "numberOfAvailabilityZones": 3.0},
        "Single",
    ),
    Case(
        "network-high-availability",
        "awsx:ec2:Vpc",
        {"availabilityZoneNames": ["a", "b", "c"]},
        {"numberOfAvailabilityZones": 2.0},
        {"availabilityZoneNames": UNKNOWN_ARRAY},
        "2 AZ",
    ),
]


# Every case: its passing resource passes, its failing one is reported, unknown values are no violation.
test_passing_resource_has_no_violation, test_failing_resource_is_reported, test_unknown_props_are_not_a_violation = (
    case_tests(CASES)
)


def test_every_resilience_policy_is_tested() -> None:
    resource, stack = domain_policies("resilience")
    assert {c.policy for c in CASES} == resource
    assert stack == {"database-multi-az", "database-cross-region-backup"}


def test_unprotected_data_store_is_reported() -> None:
    props = {"deletionProtection": True, "skipFinalSnapshot": False}
    messages = check_resource(POLICIES["deletion-protection"], "aws:rds/instance:Instance", props, protect=False)
    assert messages == ["data resources must be created with protect=True"]


def test_protected_secret_needs_no_recovery_window() -> None:
    props = {"recoveryWindowInDays": 0.0}
    assert (
        check_resource(POLICIES["deletion-protection"], "aws:secretsmanager/secret:Secret", props, protect=True) == []
    )


def test_secret_with_default_recovery_window_passes() -> None:
    assert check_resource(POLICIES["deletion-protection"], "aws:secretsmanager/secret:Secret", {}) == []


def test_backup_minimum_is_configurable() -> None:
    props = {"backupRetentionPeriod": 7.0}
    assert check_resource(POLICIES["backup-retention"], "aws:rds/instance:Instance", props, config={"minDays": 14})


CLUSTER = "aws:rds/cluster:Cluster"
MEMBER = "aws:rds/clusterInstance:ClusterInstance"


def _aurora(readers: int, link_by_dependency: bool = True) -> list[Res]:
    stack = [Res(CLUSTER, "db", {"engine": "aurora-postgresql"})]
    for i in range(1 + readers):
        props = {"clusterIdentifier": UNKNOWN_STRING}
        stack.append(Res(MEMBER, f"db-{i}", props, deps=("db",) if link_by_dependency else ()))
    return stack


def test_aurora_with_reader_passes() -> None:
    assert check_stack(POLICIES["database-multi-az"], _aurora(readers=1)) == []


def test_aurora_writer_only_fails() -> None:
    found = check_stack(POLICIES["database-multi-az"], _aurora(readers=0))
    assert len(found) == 1 and "1 instance" in found[0][1]


def test_aurora_members_matched_by_identifier() -> None:
    stack = [Res(CLUSTER, "db", {"clusterIdentifier": "flashsale"})]
    stack += [Res(MEMBER, f"db-{i}", {"clusterIdentifier": "flashsale"}) for i in range(2)]
    assert check_stack(POLICIES["database-multi-az"], stack) == []


def test_rds_instance_multi_az() -> None:
    policy = POLICIES["database-multi-az"]
    assert check_stack(policy, [Res("aws:rds/instance:Instance", "db", {"multiAz": True})]) == []
    assert len(check_stack(policy, [Res("aws:rds/instance:Instance", "db", {"multiAz": False})])) == 1
    assert check_stack(policy, [Res("aws:rds/instance:Instance", "db", {"multiAz": UNKNOWN_BOOL})]) == []


INSTANCE = "aws:rds/instance:Instance"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
HOME = {"region": "eu-west-1"}


def _replicated(dr_region: str) -> list[Res]:
    return [
        Res(INSTANCE, "db", {"multiAz": True}, provider_props=HOME),
        Res(REPLICATION, "copy", {"retentionPeriod": 7.0}, deps=("db",), provider_props={"region": dr_region}),
    ]


def test_instance_with_backups_replicated_to_another_region_passes() -> None:
    assert check_stack(POLICIES["database-cross-region-backup"], _replicated("eu-central-1")) == []


def test_instance_without_a_cross_region_copy_fails() -> None:
    stack = [Res(INSTANCE, "db", {"multiAz": True}, provider_props=HOME)]
    found = check_stack(POLICIES["database-cross-region-backup"], stack)
    assert [urn for urn, _ in found] == [stack[0].urn]


def test_instance_replicated_within_its_own_region_fails() -> None:
    found = check_stack(POLICIES["database-cross-region-backup"], _replicated("eu-west-1"))
    assert len(found) == 1 and "within eu-west-1" in found[0][1]


def test_read_replica_needs_no_copy_of_its_own() -> None:
    stack = [Res(INSTANCE, "replica", {"replicateSourceDb": "db"}, provider_props=HOME)]
    assert check_stack(POLICIES["database-cross-region-backup"], stack) == []


def _aurora_backed_up(rules: object) -> list[Res]:
    return [
        Res(CLUSTER, "aurora", {"engine": "aurora-postgresql"}),
        Res(PLAN, "plan", {"rules": rules}),
        Res(SELECTION, "selection", {}, deps=("aurora", "plan")),
    ]


def test_aurora_with_a_backup_plan_copying_elsewhere_passes() -> None:
    vault = "arn:aws:backup:eu-central-1:123456789012:backup-vault:v"
    rules = [{"ruleName": "r", "copyActions": [{"destinationVaultArn": vault}]}]
    assert check_stack(POLICIES["database-cross-region-backup"], _aurora_backed_up(rules)) == []


def test_aurora_with_a_plan_that_copies_nothing_fails() -> None:
    stack = _aurora_backed_up([{"ruleName": "r"}])
    found = check_stack(POLICIES["database-cross-region-backup"], stack)
    assert [urn for urn, _ in found] == [stack[0].urn]


def test_aurora_with_rules_unknown_in_preview_is_not_reported() -> None:
    assert check_stack(POLICIES["database-cross-region-backup"], _aurora_backed_up(UNKNOWN_ARRAY)) == []
