"""Disaster recovery: the database's backups copied to a second region, encrypted with a key there.

- RDS PostgreSQL: RDS replicates the instance's automated backups (snapshots and transaction logs)
  to the second region as they are made, so a restore there can reach a point minutes before the
  loss (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html).
  The replication resource lives in the destination region and names the source instance.
- Aurora: RDS cannot replicate a cluster's automated backups (the page above), so an AWS Backup plan
  snapshots the cluster on a schedule and copies each recovery point to a vault in the second region
  (https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html).

Redis and Kafka are not copied: the gate is rebuilt from PostgreSQL and the outbox replays to a new
cluster (README, "Disaster recovery").
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy
from components.kms import data_key

AURORA = "aurora-postgresql"
# AWS managed policies for a customer-created AWS Backup service role; both carry the service-role/ path
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForBackup.html,
#  .../AWSBackupServiceRolePolicyForRestores.html).
BACKUP_ROLE_POLICIES = {
    "backup": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "restores": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
}


@dataclass(frozen=True)
class DatabaseBackupCopyArgs:
    source_arn: pulumi.Input[str]
    """ARN of the RDS instance (engine `postgres`) or of the Aurora cluster whose backups are copied. Required."""
    engine: str
    """`postgres` (RDS automated-backup replication) or `aurora-postgresql` (AWS Backup copy). Required."""
    dr_provider: pulumi.ProviderResource
    """An aws provider for the second region: the copies, their key and vault are created there. Required."""
    retention_days: int = 7
    """Days the copies are kept in the second region (RDS allows 1-35). Default 7."""
    protect: bool = True
    """Pulumi `protect` on the keys and vaults, and a 30-day key deletion window. Default True."""
    aurora_schedule: str = "cron(0 * * * ? *)"
    """Aurora only: when AWS Backup snapshots the cluster (UTC); hourly by default, which is the RPO. Default hourly."""


class DatabaseBackupCopy(pulumi.ComponentResource):
    """Copies of one database's backups in a second region. Outputs: `key_arn` (the key there) and
    `copy_arn` (the replicated automated backups' ARN for RDS, the destination vault's ARN for Aurora)."""

    key_arn: pulumi.Output[str]
    copy_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseBackupCopyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:data:DatabaseBackupCopy", name, None, opts)
        self._name, self._args = name, args
        in_dr = pulumi.ResourceOptions(parent=self, provider=args.dr_provider, protect=args.protect)
        key = data_key(
            f"{name}-key",
            f"{name}: database backup copies in the DR region",
            protect=args.protect,
            parent=self,
            provider=args.dr_provider,
        )
        self.key_arn = key.arn
        if args.engine == AURORA:
            self.copy_arn = self._backup_plan(key, in_dr)
        else:
            replication = aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-replication",
                source_db_instance_arn=args.source_arn,
                kms_key_id=key.arn,
                retention_period=args.retention_days,
                opts=in_dr,
            )
            self.copy_arn = replication.id
        self.register_outputs({"keyArn": self.key_arn, "copyArn": self.copy_arn})

    def _backup_plan(self, dr_key: aws.kms.Key, in_dr: pulumi.ResourceOptions) -> pulumi.Output[str]:
        name, args = self._name, self._args
        here = pulumi.ResourceOptions(parent=self)
        local_key = data_key(f"{name}-vault-key", f"{name}: AWS Backup vault", protect=args.protect, parent=self)
        vault = aws.backup.Vault(
            f"{name}-vault",
            kms_key_arn=local_key.arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        dr_vault = aws.backup.Vault(f"{name}-dr-vault", kms_key_arn=dr_key.arn, opts=in_dr)
        keep = aws.backup.PlanRuleLifecycleArgs(delete_after=args.retention_days)
        plan = aws.backup.Plan(
            f"{name}-plan",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="scheduled-with-dr-copy",
                    target_vault_name=vault.name,
                    schedule=args.aurora_schedule,
                    # AWS Backup's minimum start window is 60 minutes.
                    start_window=60,
                    completion_window=180,
                    lifecycle=keep,
                    copy_actions=[
                        aws.backup.PlanRuleCopyActionArgs(
                            destination_vault_arn=dr_vault.arn,
                            lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=args.retention_days),
                        )
                    ],
                )
            ],
            opts=here,
        )
        role = aws.iam.Role(f"{name}-backup", assume_role_policy=assume_role_policy("backup.amazonaws.com"), opts=here)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-backup-{purpose}", role=role.name, policy_arn=arn, opts=here)
            for purpose, arn in BACKUP_ROLE_POLICIES.items()
        ]
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{name}-database",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=[args.source_arn],
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        return dr_vault.arn
