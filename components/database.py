"""Database: PostgreSQL on RDS (16.x, gp3) or Aurora Serverless v2, chosen by `database.engine`.

Either way: isolated subnets, the database security group only, a customer KMS key, the master
password managed by RDS in Secrets Manager (only `migrate` logs in as the master user), Performance
Insights, TLS forced, slow statements logged to a log group with retention, and protection in prod.

The service logs in as an application role that migrate creates (docs/runtime-contract.md): its
password is generated here and kept in its own secret, `{"username", "password"}`, encrypted with the
database's key. An optional RDS Proxy caps the connections that Fargate scale-out multiplies; it holds
that application secret and admits clients only with IAM authentication (`rds-db:connect` on the
proxy's user), with a read-only endpoint over the Aurora readers when there are any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.database_proxy import ProxyPlacement, database_proxy
from components.kms import data_key

AURORA = "aurora-postgresql"
# Windows in UTC, away from European sale hours; maintenance follows the backup.
BACKUP_WINDOW = "02:00-03:00"
MAINTENANCE_WINDOW = "sun:03:30-sun:04:30"
# The application role's password: printable ASCII, as migrate requires (app/reservation/shared/role_login.py),
# without what JSON would escape ("\\), what a shell or a connection URL would mangle (' / @ : % space) or
# what RDS refuses in its own passwords (/ " @ space). Secrets Manager's JSON then stores it verbatim.
APP_PASSWORD_SPECIALS = "!#$&*()-_=+[]{}<>?"
APP_PASSWORD_LENGTH = 40


@dataclass(frozen=True)
class DatabaseArgs:
    identifier: str
    """Physical identifier of the instance or cluster. Fixed (not auto-named) because RDS writes its logs
    to /aws/rds/.../<identifier>/postgresql, and that group must exist first to get a retention. Required."""
    vpc_id: pulumi.Input[str]
    """The VPC (for the proxy's security group). Required."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """The isolated subnets the database lives in. Required."""
    security_group_id: pulumi.Input[str]
    """The database's security group. Required."""
    proxy_subnet_ids: pulumi.Input[Sequence[str]]
    """Where the clients run: the proxy sits with them. Required."""
    client_security_group_id: pulumi.Input[str]
    """The clients' security group: the proxy admits only it. Required."""
    engine: str = "postgres"
    """postgres (RDS) or aurora-postgresql (Aurora Serverless v2). Default postgres."""
    engine_version: str = "16"
    """The major version (RDS picks the current minor and upgrades it). Default "16"."""
    instance_class: str = "db.t4g.micro"
    """RDS instance class (postgres only). Default db.t4g.micro."""
    allocated_storage_gb: int = 20
    """gp3 storage at creation, GiB (postgres only). Default 20."""
    max_allocated_storage_gb: int = 100
    """Storage autoscaling ceiling, GiB (postgres only). Default 100."""
    multi_az: bool = True
    """A standby in a second zone (postgres only). Default True."""
    aurora_min_acu: float = 0.5
    """Aurora Serverless v2 floor, ACU. Default 0.5."""
    aurora_max_acu: float = 4
    """Aurora Serverless v2 ceiling, ACU. Default 4."""
    aurora_readers: int = 0
    """Aurora reader instances beside the writer. Default 0."""
    backup_retention_days: int = 7
    """Automated backups kept, days. Default 7."""
    proxy: bool = False
    """An RDS Proxy in front of the database. Default False."""
    db_name: str = "flashsale"
    """The database created. Default flashsale."""
    username: str = "flashsale"
    """The master user (its password is managed by RDS in Secrets Manager). Default flashsale."""
    app_username: str = "flashsale_app"
    """The application role the service logs in as (migrate creates it; its password is generated here and
    kept in its own secret). Default flashsale_app."""
    slow_statement_ms: int = 250
    """Statements slower than this are logged. Default 250."""
    performance_insights_retention_days: int = 7
    """Performance Insights retention, days. Default 7 (the free tier)."""
    protect_data: bool = True
    """protect=True, deletion protection and a final snapshot. Default True."""
    log_retention_days: int = 90
    """Retention of the PostgreSQL log group, days. Default 90."""
    restore_from_backup_arn: str | None = None
    """Recovery only (RDS): create the instance from these replicated automated backups at their latest
    restorable time. Default None."""
    restore_kms_key_arn: str | None = None
    """The key of those backups (the restored storage keeps it, so the next `pulumi up` sees no key
    change: a key change replaces). Default None."""


class Database(pulumi.ComponentResource):
    arn: pulumi.Output[str]  # the instance's, or the Aurora cluster's
    endpoint: pulumi.Output[str]
    port: pulumi.Output[int]
    db_name: str
    username: str
    secret_arn: pulumi.Output[str]  # the master's, managed by RDS
    app_username: str
    app_secret_arn: pulumi.Output[str]  # {"username", "password"} of the application role
    app_secret_version: pulumi.Output[str]  # its current version: tasks pin it, so a new password rolls them
    proxy_arn: pulumi.Output[str] | None
    proxy_endpoint: pulumi.Output[str] | None
    proxy_read_endpoint: pulumi.Output[str] | None  # the proxy's READ_ONLY endpoint (Aurora with readers)
    reader_endpoint: pulumi.Output[str] | None  # Aurora with readers only
    kms_key_arn: pulumi.Output[str]
    alarm_dimensions: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("flashsale:data:Database", name, None, opts)
        self._name, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        # engine_version is the major version by default ("16"): RDS creates the current minor and
        # auto_minor_version_upgrade moves it on. On refresh the provider keeps the configured "16" while
        # the actual version starts with "16." (compareActualEngineVersion in terraform-provider-aws
        # internal/service/rds, used by both instance and cluster), so an upgraded database shows no diff;
        # a pinned minor (16.8) would read back as 16.11 and plan a downgrade. The parameter-group family
        # follows the major version.
        major = args.engine_version.split(".")[0]

        self._key = data_key(
            f"{name}-key",
            f"{name}: database storage, master secret, Performance Insights",
            protect=args.protect_data,
            parent=self,
        )
        self._subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            description=f"{name}: isolated subnets only",
            subnet_ids=args.subnet_ids,
            opts=child,
        )
        params = [
            # Clients must use TLS; slow statements go to the postgresql log export.
            ("rds.force_ssl", "1"),
            ("log_min_duration_statement", str(args.slow_statement_ms)),
        ]
        self.db_name, self.username = args.db_name, args.username
        self.kms_key_arn = self._key.arn
        self.reader_endpoint = None
        if args.engine == AURORA:
            self._aurora(major, params)
        else:
            self._postgres(major, params)

        self._app_login()
        self.proxy_arn = self.proxy_endpoint = self.proxy_read_endpoint = None
        if args.proxy:
            target, members = self._target
            proxy = database_proxy(
                self,
                ProxyPlacement(
                    name=name,
                    identifier=args.identifier,
                    app_username=args.app_username,
                    app_secret_arn=self.app_secret_arn,
                    key_arn=self._key.arn,
                    vpc_id=args.vpc_id,
                    subnet_ids=args.proxy_subnet_ids,
                    client_security_group_id=args.client_security_group_id,
                    target=target,
                    members=members,
                    with_readers=self.reader_endpoint is not None,
                ),
            )
            self.proxy_arn, self.proxy_endpoint = proxy.arn, proxy.endpoint
            self.proxy_read_endpoint = proxy.read_endpoint

        self.register_outputs(
            {
                "arn": self.arn,
                "endpoint": self.endpoint,
                "port": self.port,
                "dbName": self.db_name,
                "username": self.username,
                "secretArn": self.secret_arn,
                "appUsername": self.app_username,
                "appSecretArn": self.app_secret_arn,
                "proxyArn": self.proxy_arn,
                "proxyEndpoint": self.proxy_endpoint,
                "proxyReadEndpoint": self.proxy_read_endpoint,
                "readerEndpoint": self.reader_endpoint,
                "kmsKeyArn": self.kms_key_arn,
                "alarmDimensions": self.alarm_dimensions,
            }
        )

    def _data_opts(self, **extra) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=self._args.protect_data, **extra)

    def _log_group(self, kind: str) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-postgresql-logs",
            name=f"/aws/rds/{kind}/{self._args.identifier}/postgresql",
            retention_in_days=self._args.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _protection(self) -> dict:
        """Deletion protection and a final snapshot in prod; dev goes away in one destroy."""
        protect = self._args.protect_data
        return {
            "deletion_protection": protect,
            "skip_final_snapshot": not protect,
            "final_snapshot_identifier": f"{self._args.identifier}-final" if protect else None,
            "copy_tags_to_snapshot": True,
            "delete_automated_backups": not protect,
            "backup_retention_period": self._args.backup_retention_days,
            # Prod changes wait for the maintenance window; dev applies them now.
            "apply_immediately": not protect,
        }

    def _postgres(self, major: str, params: list[tuple[str, str]]) -> None:
        args = self._args
        group = aws.rds.ParameterGroup(
            f"{self._name}-params",
            family=f"postgres{major}",
            description=f"{self._name}: TLS only, slow statement log",
            parameters=[aws.rds.ParameterGroupParameterArgs(name=n, value=v) for n, v in params],
            opts=pulumi.ResourceOptions(parent=self),
        )
        logs = self._log_group("instance")
        restore = args.restore_from_backup_arn
        instance = aws.rds.Instance(
            f"{self._name}-postgres",
            identifier=args.identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.restore_kms_key_arn or self._key.arn,
            multi_az=args.multi_az,
            # A restore brings its database (and master user) from the backup.
            db_name=None if restore else args.db_name,
            restore_to_point_in_time=aws.rds.InstanceRestoreToPointInTimeArgs(
                source_db_instance_automated_backups_arn=restore, use_latest_restorable_time=True
            )
            if restore
            else None,
            username=args.username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=self._key.arn,
            iam_database_authentication_enabled=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=self._key.arn,
            performance_insights_retention_period=args.performance_insights_retention_days,
            parameter_group_name=group.name,
            enabled_cloudwatch_logs_exports=["postgresql"],
            db_subnet_group_name=self._subnets.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            **self._protection(),
            # Restoring happens once, at creation; dropping the setting later must not replace the database.
            opts=self._data_opts(depends_on=[logs], ignore_changes=["restoreToPointInTime"]),
        )
        self._target = ({"db_instance_identifier": instance.identifier}, [instance])
        self.arn = instance.arn
        self.endpoint = instance.address
        self.port = instance.port
        self.secret_arn = instance.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.alarm_dimensions = {"DBInstanceIdentifier": instance.identifier}

    def _aurora(self, major: str, params: list[tuple[str, str]]) -> None:
        args = self._args
        group = aws.rds.ClusterParameterGroup(
            f"{self._name}-params",
            family=f"aurora-postgresql{major}",
            description=f"{self._name}: TLS only, slow statement log",
            parameters=[aws.rds.ClusterParameterGroupParameterArgs(name=n, value=v) for n, v in params],
            opts=pulumi.ResourceOptions(parent=self),
        )
        logs = self._log_group("cluster")
        cluster = aws.rds.Cluster(
            f"{self._name}-aurora",
            cluster_identifier=args.identifier,
            engine=AURORA,
            engine_mode="provisioned",
            engine_version=args.engine_version,
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=args.aurora_min_acu, max_capacity=args.aurora_max_acu
            ),
            storage_encrypted=True,
            kms_key_id=self._key.arn,
            database_name=args.db_name,
            master_username=args.username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=self._key.arn,
            iam_database_authentication_enabled=True,
            db_cluster_parameter_group_name=group.name,
            enabled_cloudwatch_logs_exports=["postgresql"],
            db_subnet_group_name=self._subnets.name,
            vpc_security_group_ids=[args.security_group_id],
            preferred_backup_window=BACKUP_WINDOW,
            preferred_maintenance_window=MAINTENANCE_WINDOW,
            **self._protection(),
            opts=self._data_opts(depends_on=[logs]),
        )
        writer = self._aurora_instance("writer", cluster, promotion_tier=0, depends_on=[])
        # After the writer: the first instance of an Aurora cluster becomes its writer.
        readers = [
            self._aurora_instance(f"reader-{i + 1}", cluster, promotion_tier=1, depends_on=[writer])
            for i in range(args.aurora_readers)
        ]
        # The proxy can serve the cluster only once it has instances.
        self._target = ({"db_cluster_identifier": cluster.cluster_identifier}, [writer, *readers])
        self.arn = cluster.arn
        self.endpoint = cluster.endpoint
        if readers:
            # Load-balanced over the readers: the service's availability and counter reads go there.
            self.reader_endpoint = cluster.reader_endpoint
        self.port = cluster.port
        self.secret_arn = cluster.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.alarm_dimensions = {"DBClusterIdentifier": cluster.cluster_identifier}

    def _aurora_instance(
        self, role: str, cluster: aws.rds.Cluster, promotion_tier: int, depends_on: list[pulumi.Resource]
    ) -> aws.rds.ClusterInstance:
        return aws.rds.ClusterInstance(
            f"{self._name}-{role}",
            cluster_identifier=cluster.id,
            identifier=f"{self._args.identifier}-{role}",
            instance_class="db.serverless",
            engine=cluster.engine,
            engine_version=cluster.engine_version,
            db_subnet_group_name=self._subnets.name,
            publicly_accessible=False,
            promotion_tier=promotion_tier,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=self._key.arn,
            performance_insights_retention_period=self._args.performance_insights_retention_days,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            apply_immediately=not self._args.protect_data,
            opts=self._data_opts(depends_on=depends_on),
        )

    def _app_login(self) -> None:
        """The application role's login: a generated password in its own secret, in the JSON shape both
        migrate (DB_APP_USER/DB_APP_PASSWORD from its keys) and RDS Proxy read. The secret is data (protected
        in prod, the key's recovery window); the password is not, like the Redis AUTH token."""
        name, args = self._name, self._args
        password = random.RandomPassword(
            f"{name}-app-password",
            length=APP_PASSWORD_LENGTH,
            special=True,
            override_special=APP_PASSWORD_SPECIALS,
            opts=pulumi.ResourceOptions(parent=self),
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-app-login",
            description=f"{name}: the application role {args.app_username} (serve, relay; RDS Proxy)",
            kms_key_id=self._key.arn,
            # Dev: delete at once so a re-created stack can reuse the name; prod: the 30-day window.
            recovery_window_in_days=30 if args.protect_data else 0,
            opts=self._data_opts(),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-app-login",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.json_dumps({"username": args.app_username, "password": password.result})
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.app_username = args.app_username
        self.app_secret_arn = secret.arn
        self.app_secret_version = version.version_id
