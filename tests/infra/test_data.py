"""The data tier each stack registers: the Database (RDS PostgreSQL or Aurora) and the Redis Cache.

Every expectation comes from the stack's own config, so a new stack file is tested as it is."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cache import AUTH_TOKEN_LENGTH, AUTH_TOKEN_SPECIALS, parameter_group_family
from stackconfig import StackConfig
from tests.infra.conftest import policy_document
from tooling.mock_outputs import mock_id, resource_outputs
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program

DATABASE = "flashsale:data:Database"
CACHE = "flashsale:data:Cache"
INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRET = "aws:secretsmanager/secret:Secret"
PASSWORD = "random:index/randomPassword:RandomPassword"
# How a secret input arrives over the wire (pulumi.runtime.rpc's signature for secrets).
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def child(run: ProgramRun, component: str, type_: str) -> list[RecordedResource]:
    parent = run.one(component)
    return [r for r in run.children(parent) if r.type == type_]


def only(run: ProgramRun, component: str, type_: str) -> RecordedResource:
    found = child(run, component, type_)
    assert len(found) == 1, f"{component}: expected one {type_}, found {len(found)}"
    return found[0]


def arn_of(resource: RecordedResource) -> str:
    return resource_outputs(resource.type, resource.name, resource.inputs)[1]["arn"]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG[0]) == SECRET_SIG[1]


def database_resource(run: ProgramRun, cfg: StackConfig) -> RecordedResource:
    return only(run, DATABASE, CLUSTER if cfg.database.engine == "aurora-postgresql" else INSTANCE)


# --------------------------------------------------------------------------------------------
# Database


def test_database_engine_follows_config(run: ProgramRun, cfg: StackConfig) -> None:
    db = cfg.database
    if db.engine == "postgres":
        assert not run.of_type(CLUSTER)
        inputs = only(run, DATABASE, INSTANCE).inputs
        assert (inputs["engine"], inputs["engineVersion"]) == ("postgres", db.engine_version)
        assert inputs["engineVersion"].split(".")[0] == "16"
        assert inputs["instanceClass"] == db.instance_class
        assert inputs["storageType"] == "gp3"
        assert inputs["allocatedStorage"] == db.allocated_storage_gb
        assert inputs["maxAllocatedStorage"] == db.max_allocated_storage_gb > db.allocated_storage_gb
        assert inputs["multiAz"] is db.multi_az
        assert inputs["dbName"] == db.name and inputs["username"] == db.username
    else:
        assert not run.of_type(INSTANCE)
        assert only(run, DATABASE, CLUSTER).inputs["engine"] == "aurora-postgresql"


def test_database_sits_in_isolated_subnets_behind_the_database_group(run: ProgramRun, cfg: StackConfig) -> None:
    subnets = only(run, DATABASE, "aws:rds/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == run.outputs["isolatedSubnetIds"]
    inputs = database_resource(run, cfg).inputs
    assert inputs["dbSubnetGroupName"] == subnets.name
    assert inputs["vpcSecurityGroupIds"] == [run.outputs["securityGroupIds"]["database"]]
    assert inputs.get("publiclyAccessible") in (None, False)


def test_database_is_encrypted_with_its_own_rotating_key(run: ProgramRun, cfg: StackConfig) -> None:
    key = only(run, DATABASE, KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    inputs = database_resource(run, cfg).inputs
    assert inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"] == arn_of(key)
    assert inputs["masterUserSecretKmsKeyId"] == arn_of(key)
    assert run.outputs["databaseSecretArn"].startswith("arn:aws:secretsmanager:")


def test_master_password_is_managed_by_rds_and_iam_auth_is_on(run: ProgramRun, cfg: StackConfig) -> None:
    inputs = database_resource(run, cfg).inputs
    assert inputs["manageMasterUserPassword"] is True
    assert not inputs.get("password") and not inputs.get("masterPassword")
    assert inputs["iamDatabaseAuthenticationEnabled"] is True


def test_performance_insights_with_the_key_and_configured_retention(run: ProgramRun, cfg: StackConfig) -> None:
    key_arn = arn_of(only(run, DATABASE, KMS_KEY))
    holders = (
        child(run, DATABASE, CLUSTER_INSTANCE)
        if cfg.database.engine == "aurora-postgresql"
        else [database_resource(run, cfg)]
    )
    assert holders
    for holder in holders:
        assert holder.inputs["performanceInsightsEnabled"] is True
        assert holder.inputs["performanceInsightsKmsKeyId"] == key_arn
        assert holder.inputs["performanceInsightsRetentionPeriod"] == cfg.database.performance_insights_retention_days


def test_parameter_group_forces_tls_and_logs_slow_statements(run: ProgramRun, cfg: StackConfig) -> None:
    aurora = cfg.database.engine == "aurora-postgresql"
    group_type = (
        "aws:rds/clusterParameterGroup:ClusterParameterGroup" if aurora else "aws:rds/parameterGroup:ParameterGroup"
    )
    group = only(run, DATABASE, group_type)
    major = cfg.database.engine_version.split(".")[0]
    assert group.inputs["family"] == f"{'aurora-postgresql' if aurora else 'postgres'}{major}"
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert params["rds.force_ssl"] == "1"
    assert params["log_min_duration_statement"] == str(cfg.database.slow_statement_ms)
    inputs = database_resource(run, cfg).inputs
    assert inputs["dbClusterParameterGroupName" if aurora else "parameterGroupName"] == group.name


def test_postgresql_log_is_exported_to_a_group_with_retention(run: ProgramRun, cfg: StackConfig) -> None:
    db = database_resource(run, cfg)
    # Only exports whose group is created here (with a retention).
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
    identifier = db.inputs["clusterIdentifier" if db.type == CLUSTER else "identifier"]
    group = only(run, DATABASE, LOG_GROUP)
    assert group.inputs["name"].endswith(f"/{identifier}/postgresql")
    assert group.inputs["retentionInDays"] == cfg.log_retention_days
    # RDS creates the group itself on first export if it does not exist yet.
    assert group.urn in db.dependencies


def test_backups_follow_config(run: ProgramRun, cfg: StackConfig) -> None:
    inputs = database_resource(run, cfg).inputs
    assert inputs["backupRetentionPeriod"] == cfg.database.backup_retention_days
    assert inputs["copyTagsToSnapshot"] is True


def test_database_protection_follows_protect_data(run: ProgramRun, cfg: StackConfig) -> None:
    protect = cfg.protect_data
    db = database_resource(run, cfg)
    assert db.inputs["deletionProtection"] is protect
    assert db.inputs["skipFinalSnapshot"] is (not protect)
    assert bool(db.inputs.get("finalSnapshotIdentifier")) is protect
    # The application role's secret is data too: losing it locks the service out until the next migrate.
    data = [db, only(run, DATABASE, KMS_KEY), only(run, DATABASE, SECRET), *child(run, DATABASE, CLUSTER_INSTANCE)]
    assert [r.protect for r in data] == [protect] * len(data)
    # Nothing else in the component is protected: dev must go in one destroy.
    others = [r for r in run.children(run.one(DATABASE)) if r not in data]
    assert not any(r.protect for r in others)


def test_proxy_follows_config(run: ProgramRun, cfg: StackConfig) -> None:
    proxies = child(run, DATABASE, "aws:rds/proxy:Proxy")
    if not cfg.database.proxy:
        assert not proxies
        assert run.outputs["databaseProxyEndpoint"] is None
        return
    (proxy,) = proxies
    groups = run.outputs["securityGroupIds"]
    inputs = proxy.inputs
    assert inputs["requireTls"] is True and inputs["engineFamily"] == "POSTGRESQL"
    assert inputs["vpcSubnetIds"] == run.outputs["privateSubnetIds"]
    # Its own group admits the tasks; the service group takes it to the database (which admits only that).
    own = only(run, DATABASE, "aws:ec2/securityGroup:SecurityGroup")
    assert inputs["vpcSecurityGroupIds"] == [mock_id(own.name), groups["service"]]
    ingress = only(run, DATABASE, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").inputs
    assert (ingress["securityGroupId"], ingress["referencedSecurityGroupId"]) == (mock_id(own.name), groups["service"])
    assert ingress["fromPort"] == ingress["toPort"] == 5432
    # The application role only, and only with an IAM token: never the master's secret.
    assert inputs["auths"] == [
        {
            "authScheme": "SECRETS",
            "secretArn": run.outputs["databaseAppSecretArn"],
            "iamAuth": "REQUIRED",
            "clientPasswordAuthType": "POSTGRES_SCRAM_SHA_256",
            "description": f"{cfg.database.app_username}: IAM authentication only",
        }
    ]
    assert run.outputs["databaseProxyEndpoint"]

    # The proxy's role reads the application role's secret (and decrypts it), not the master's.
    policy = policy_document(only(run, DATABASE, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    resources = sorted(s["Resource"] for s in policy["Statement"])
    assert resources == sorted([run.outputs["databaseAppSecretArn"], arn_of(only(run, DATABASE, KMS_KEY))])
    assert run.outputs["databaseSecretArn"] not in json.dumps(policy)

    target = only(run, DATABASE, "aws:rds/proxyTarget:ProxyTarget").inputs
    db = database_resource(run, cfg)
    if db.type == CLUSTER:
        assert target["dbClusterIdentifier"] == db.inputs["clusterIdentifier"]
    else:
        assert target["dbInstanceIdentifier"] == db.inputs["identifier"]


_AURORA_RUNS: dict[str, ProgramRun] = {}


@pytest.fixture(scope="session")
def aurora_run(stack: str) -> ProgramRun:
    """The stack switched to aurora-postgresql, nothing else changed."""
    if stack not in _AURORA_RUNS:
        _AURORA_RUNS[stack] = run_program(stack, overrides={"flashsale:database.engine": "aurora-postgresql"})
    assert _AURORA_RUNS[stack].of_type(CLUSTER), "the program registered no Aurora cluster"
    return _AURORA_RUNS[stack]


def refreshed_engine_version(configured: str, actual: str) -> str:
    """What the provider reads back into engine_version on refresh: compareActualEngineVersion in
    hashicorp/terraform-provider-aws internal/service/rds (instance and cluster). The configured value
    stays when the actual version only adds to it after a dot ("16" vs "16.11"); otherwise it
    becomes the actual one, and the next plan diffs configured vs actual."""
    prefix = actual[: len(configured) + 1] if len(actual) > len(configured) else actual
    if configured != actual and configured + "." == prefix:
        return configured
    return actual


def auto_upgraded(version: str) -> str:
    """A later minor of the same major, as RDS's automatic minor upgrades install."""
    major, _, minor = version.partition(".")
    return f"{major}.{int(minor) + 3 if minor else 11}"


def test_refresh_after_an_automatic_minor_upgrade_shows_no_diff(
    run: ProgramRun, aurora_run: ProgramRun, cfg: StackConfig
) -> None:
    for engine_run, type_ in ((run, database_resource(run, cfg).type), (aurora_run, CLUSTER)):
        database = only(engine_run, DATABASE, type_).inputs
        configured = database["engineVersion"]
        assert refreshed_engine_version(configured, auto_upgraded(configured)) == configured, (
            f"{type_}: engine_version {configured} would plan a downgrade once RDS upgrades the minor version"
        )
        members = [database] if type_ == INSTANCE else [m.inputs for m in child(engine_run, DATABASE, CLUSTER_INSTANCE)]
        assert members and all(m["autoMinorVersionUpgrade"] is True for m in members)
    assert refreshed_engine_version("16.8", "16.11") == "16.11"  # the old pinned default: a downgrade diff


# Seed 003 (the ticketing reference stack) plans Aurora Serverless v2 at 2-64 ACU for a sale.
SALE_ACU = (2, 64)


def test_prod_aurora_capacity_fits_the_sale(cfg: StackConfig) -> None:
    if not cfg.is_prod:
        assert cfg.database.aurora_min_acu <= cfg.database.aurora_max_acu
        return
    assert cfg.database.aurora_min_acu >= SALE_ACU[0] and cfg.database.aurora_max_acu >= SALE_ACU[1]


def test_database_outputs(run: ProgramRun, cfg: StackConfig) -> None:
    assert run.outputs["databaseEndpoint"]
    assert run.outputs["databasePort"] == 5432
    assert run.outputs["databaseName"] == cfg.database.name


def test_switching_the_engine_to_aurora_needs_no_other_edit(aurora_run: ProgramRun, cfg: StackConfig) -> None:
    result = aurora_run
    assert not result.of_type(INSTANCE)
    cluster = only(result, DATABASE, CLUSTER)
    inputs = cluster.inputs
    assert (inputs["engine"], inputs["engineMode"]) == ("aurora-postgresql", "provisioned")
    scaling = inputs["serverlessv2ScalingConfiguration"]
    assert (scaling["minCapacity"], scaling["maxCapacity"]) == (
        cfg.database.aurora_min_acu,
        cfg.database.aurora_max_acu,
    )
    members = child(result, DATABASE, CLUSTER_INSTANCE)
    assert len(members) == 1 + cfg.database.aurora_readers
    assert all(m.inputs["instanceClass"] == "db.serverless" for m in members)
    assert all(m.inputs["clusterIdentifier"] == mock_id(cluster.name) for m in members)
    writer = next(m for m in members if m.name.endswith("-writer"))
    assert all(writer.urn in m.dependencies for m in members if m is not writer)
    assert [m.protect for m in [cluster, *members]] == [cfg.protect_data] * (1 + len(members))
    assert result.outputs["databaseEndpoint"].startswith(f"{cluster.name}.cluster-")
    if cfg.database.proxy:
        target = only(result, DATABASE, "aws:rds/proxyTarget:ProxyTarget")
        assert target.inputs["dbClusterIdentifier"] == inputs["clusterIdentifier"]
        assert {m.urn for m in members} <= set(target.dependencies)
    assert result.outputs["databaseSecretArn"].startswith("arn:aws:secretsmanager:")


# --------------------------------------------------------------------------------------------
# Cache


def redis(run: ProgramRun) -> RecordedResource:
    return only(run, CACHE, REDIS)


def test_redis_shape_follows_config(run: ProgramRun, cfg: StackConfig) -> None:
    c, inputs = cfg.cache, redis(run).inputs
    assert (inputs["engine"], inputs["engineVersion"], inputs["nodeType"]) == (c.engine, c.engine_version, c.node_type)
    if c.cluster_mode:
        assert inputs["clusterMode"] == "enabled"
        assert (inputs["numNodeGroups"], inputs["replicasPerNodeGroup"]) == (c.shards, c.replicas_per_shard)
        assert "numCacheClusters" not in inputs
    else:
        assert inputs["clusterMode"] == "disabled"
        assert inputs["numCacheClusters"] == 1 + c.replicas_per_shard
        assert "numNodeGroups" not in inputs
    assert inputs["automaticFailoverEnabled"] is (c.cluster_mode or c.replicas_per_shard >= 1)
    assert inputs["multiAzEnabled"] is (c.replicas_per_shard >= 1)


def test_redis_sits_in_isolated_subnets_behind_the_cache_group(run: ProgramRun) -> None:
    subnets = only(run, CACHE, "aws:elasticache/subnetGroup:SubnetGroup")
    assert subnets.inputs["subnetIds"] == run.outputs["isolatedSubnetIds"]
    inputs = redis(run).inputs
    assert inputs["subnetGroupName"] == subnets.name
    assert inputs["securityGroupIds"] == [run.outputs["securityGroupIds"]["cache"]]


def test_redis_is_encrypted_at_rest_and_in_transit(run: ProgramRun) -> None:
    key = only(run, CACHE, KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    inputs = redis(run).inputs
    assert inputs["atRestEncryptionEnabled"] is True and inputs["kmsKeyId"] == arn_of(key)
    assert inputs["transitEncryptionEnabled"] is True and inputs["transitEncryptionMode"] == "required"


def test_auth_token_is_generated_secret_and_kept_in_secrets_manager(run: ProgramRun) -> None:
    password = only(run, CACHE, PASSWORD).inputs
    assert password["length"] == AUTH_TOKEN_LENGTH
    assert set(password["overrideSpecial"]) <= set(AUTH_TOKEN_SPECIALS)
    assert not set(AUTH_TOKEN_SPECIALS) & set(' /"@')
    secret = only(run, CACHE, SECRET)
    assert secret.inputs["kmsKeyId"] == arn_of(only(run, CACHE, KMS_KEY))
    version = only(run, CACHE, "aws:secretsmanager/secretVersion:SecretVersion").inputs
    assert version["secretId"] == mock_id(secret.name)
    token = redis(run).inputs["authToken"]
    assert is_secret(token) and is_secret(version["secretString"])
    assert token["value"] == version["secretString"]["value"]
    assert run.outputs["redisAuthSecretArn"] == arn_of(secret)


def test_parameter_group_never_evicts_and_matches_cluster_mode(run: ProgramRun, cfg: StackConfig) -> None:
    group = only(run, CACHE, "aws:elasticache/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == parameter_group_family(cfg.cache.engine, cfg.cache.engine_version)
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert params["maxmemory-policy"] == "noeviction"
    assert params["cluster-enabled"] == ("yes" if cfg.cache.cluster_mode else "no")
    assert redis(run).inputs["parameterGroupName"] == group.name


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [("redis", "7.1", "redis7"), ("valkey", "7.2", "valkey7"), ("valkey", "8.0", "valkey8")],
)
def test_parameter_group_family(engine: str, version: str, family: str) -> None:
    assert parameter_group_family(engine, version) == family


def test_slow_log_goes_to_a_log_group_with_retention(run: ProgramRun, cfg: StackConfig) -> None:
    group = only(run, CACHE, LOG_GROUP)
    assert group.inputs["retentionInDays"] == cfg.log_retention_days
    (delivery,) = redis(run).inputs["logDeliveryConfigurations"]
    assert delivery == {
        "logType": "slow-log",
        "destinationType": "cloudwatch-logs",
        "destination": group.inputs["name"],
        "logFormat": "json",
    }


def test_cache_snapshots_and_protection_follow_config(run: ProgramRun, cfg: StackConfig) -> None:
    protect = cfg.protect_data
    group = redis(run)
    assert group.inputs["snapshotRetentionLimit"] == cfg.cache.snapshot_retention_days
    assert bool(group.inputs.get("finalSnapshotIdentifier")) is protect
    data = [group, only(run, CACHE, KMS_KEY), only(run, CACHE, SECRET)]
    assert [r.protect for r in data] == [protect] * len(data)
    # The rest, the AUTH token included (a rotation replaces it), goes in one destroy.
    others = [r for r in run.children(run.one(CACHE)) if r not in data]
    assert not any(r.protect for r in others)


def test_cache_outputs(run: ProgramRun, cfg: StackConfig) -> None:
    assert run.outputs["redisClusterMode"] is cfg.cache.cluster_mode
    # Cluster-mode clients need the configuration endpoint; otherwise the primary.
    prefix = "clustercfg." if cfg.cache.cluster_mode else "master."
    assert run.outputs["redisEndpoint"].startswith(prefix)


# --------------------------------------------------------------------------------------------
# Both


@pytest.mark.parametrize("component", [DATABASE, CACHE])
def test_every_child_is_parented_and_named_from_the_component(run: ProgramRun, component: str) -> None:
    parent = run.one(component)
    children = run.children(parent)
    assert children
    assert all(c.name.startswith(f"{parent.name}-") for c in children)


def test_rds_and_elasticache_resources_live_in_their_component(run: ProgramRun) -> None:
    owners = {"aws:rds/": run.one(DATABASE).urn, "aws:elasticache/": run.one(CACHE).urn}
    # The cross-region copy of the backups is DatabaseBackupCopy's (tests/infra/test_disaster_recovery.py).
    elsewhere = {"aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"}
    found = [
        (r, owner)
        for r in run.resources
        for prefix, owner in owners.items()
        if r.type.startswith(prefix) and r.type not in elsewhere
    ]
    assert found
    assert [(r.name, r.parent) for r, _ in found] == [(r.name, owner) for r, owner in found]
