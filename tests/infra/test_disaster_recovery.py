"""Disaster recovery: the database's backups reach a second region, encrypted with a key there."""

from __future__ import annotations

import pytest

from components.disaster_recovery import BACKUP_ROLE_POLICIES
from stackconfig import ConfigError, StackConfig
from tests.infra.conftest import STACKS, policy_document
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program

REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
KMS_KEY = "aws:kms/key:Key"


def _region(run: ProgramRun, resource: RecordedResource) -> str:
    provider = run.by_urn(resource.provider.rsplit("::", 1)[0])
    return provider.inputs["region"]


def test_backups_replicate_to_the_configured_second_region(run: ProgramRun, cfg: StackConfig) -> None:
    copies = run.of_type(REPLICATION)
    if cfg.disaster_recovery.region is None:
        assert copies == []
        return
    (copy,) = copies
    assert _region(run, copy) == cfg.disaster_recovery.region != cfg.region
    assert copy.inputs["retentionPeriod"] == cfg.disaster_recovery.backup_retention_days
    instance = run.one("aws:rds/instance:Instance")
    assert instance.urn in copy.dependencies  # sourceDbInstanceArn is that instance's ARN
    assert copy.parent == run.one("flashsale:data:DatabaseBackupCopy").urn
    assert copy.protect is cfg.protect_data


def test_copies_are_encrypted_with_a_rotating_key_in_the_second_region(run: ProgramRun, cfg: StackConfig) -> None:
    if cfg.disaster_recovery.region is None:
        assert run.of_type(REPLICATION) == []
        return
    (copy,) = run.of_type(REPLICATION)
    keys = [k for k in run.of_type(KMS_KEY) if k.urn in copy.dependencies]
    assert len(keys) == 1 and copy.inputs["kmsKeyId"]
    assert _region(run, keys[0]) == cfg.disaster_recovery.region
    assert keys[0].inputs["enableKeyRotation"] is True


def test_prod_requires_a_second_region() -> None:
    with pytest.raises(ConfigError, match=r"flashsale:dr\.region = '': must be set when environment is prod"):
        run_program("prod", overrides={"flashsale:dr.region": ""})


@pytest.mark.parametrize(
    ("value", "allowed"),
    [("eu-west-1", "must differ from aws:region"), ("eu-centrall-1", "an AWS region where RDS runs")],
)
def test_second_region_must_exist_and_differ(value: str, allowed: str) -> None:
    with pytest.raises(ConfigError, match=rf"flashsale:dr\.region = '{value}': .*{allowed}"):
        run_program("prod", overrides={"flashsale:dr.region": value})


@pytest.fixture(scope="module", params=STACKS)
def aurora_run(request: pytest.FixtureRequest) -> ProgramRun:
    overrides = {"flashsale:database.engine": "aurora-postgresql", "flashsale:dr.region": "eu-north-1"}
    return run_program(request.param, overrides=overrides)


def test_aurora_is_copied_by_an_aws_backup_plan_to_a_vault_in_the_second_region(aurora_run: ProgramRun) -> None:
    run = aurora_run
    assert run.of_type(REPLICATION) == []  # RDS cannot replicate a cluster's automated backups
    cluster = run.one("aws:rds/cluster:Cluster")
    selection = run.one("aws:backup/selection:Selection")
    plan = run.one("aws:backup/plan:Plan")
    assert cluster.urn in selection.dependencies and plan.urn in selection.dependencies
    (rule,) = plan.inputs["rules"]
    (copy,) = rule["copyActions"]
    vaults = {v.name: v for v in run.of_type("aws:backup/vault:Vault")}
    dr_vault = next(v for v in vaults.values() if v.urn in plan.dependencies and _region(run, v) == "eu-north-1")
    assert copy["destinationVaultArn"].startswith("arn:aws:backup:")
    assert copy["lifecycle"]["deleteAfter"] == rule["lifecycle"]["deleteAfter"] > 0
    assert _region(run, dr_vault) != _region(run, cluster)


def test_aws_backup_role_is_trusted_by_backup_and_has_the_exact_managed_policies(aurora_run: ProgramRun) -> None:
    run = aurora_run
    selection = run.one("aws:backup/selection:Selection")
    role = next(r for r in run.of_type("aws:iam/role:Role") if r.urn in selection.dependencies)
    trust = policy_document(role.inputs["assumeRolePolicy"])
    assert [s["Principal"]["Service"] for s in trust["Statement"]] == ["backup.amazonaws.com"]
    attached = {
        a.inputs["policyArn"]
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if role.urn in a.dependencies
    }
    # Exact ARNs: these two carry the service-role/ path (AWS Managed Policy Reference).
    assert attached == {
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
        "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    }
    assert attached == set(BACKUP_ROLE_POLICIES.values())


BACKUP_ARN = "arn:aws:rds:eu-west-1:123456789012:auto-backup:ab-L2IJCEXJP7XQ7HOJ4SIEXAMPLE"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
RESTORE = {"flashsale:dr.restoreFromBackupArn": BACKUP_ARN, "flashsale:dr.restoreKmsKeyArn": KEY_ARN}


def test_a_recovery_stack_creates_its_database_from_the_replicated_backups() -> None:
    run = run_program("prod", overrides=RESTORE)
    instance = run.one("aws:rds/instance:Instance")
    restore = instance.inputs["restoreToPointInTime"]
    assert restore == {"sourceDbInstanceAutomatedBackupsArn": BACKUP_ARN, "useLatestRestorableTime": True}
    # The restored storage keeps the backups' key; any other key would replace the instance next time.
    assert instance.inputs["kmsKeyId"] == KEY_ARN
    assert "dbName" not in instance.inputs  # the database comes from the backup


def test_restoring_is_ignored_after_creation_on_every_stack(run: ProgramRun) -> None:
    instances = run.of_type("aws:rds/instance:Instance")
    assert instances, "the stack has an RDS instance"
    for instance in instances:
        assert "restoreToPointInTime" in instance.ignore_changes
        assert "restoreToPointInTime" not in instance.inputs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {**RESTORE, "flashsale:dr.restoreFromBackupArn": BACKUP_ARN.replace("eu-west-1", "eu-central-1")},
            r"flashsale:dr\.restoreFromBackupArn = .*: must be empty or the ARN of replicated backups .* "
            r"in aws:region \(eu-west-1\)",
        ),
        (
            {"flashsale:dr.restoreFromBackupArn": BACKUP_ARN},
            r"flashsale:dr\.restoreKmsKeyArn = '': must be set with the other dr\.restore\* key",
        ),
        (
            {**RESTORE, "flashsale:database.engine": "aurora-postgresql"},
            r"flashsale:dr\.restoreFromBackupArn = .*: restores an RDS PostgreSQL instance only",
        ),
    ],
)
def test_restore_settings_are_checked(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_program("prod", overrides=overrides)
