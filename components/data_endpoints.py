"""What the compute tier needs from the data tier (Database, Cache, Kafka), as one frozen value.

The service components depend on this contract rather than on the data components themselves, so
they can be built and tested with any values; __main__.py fills it from the data tier's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class DataEndpoints:
    database_host: pulumi.Input[str]  # the database's own (writer) endpoint: migrate's, never the proxy
    database_port: pulumi.Input[int]
    database_name: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]  # the master's RDS-managed JSON secret (username, password): migrate only
    database_app_username: str  # the application role serve and relay log in as
    database_app_secret_arn: pulumi.Input[str]  # its JSON secret (username, password)
    database_alarm_dimensions: pulumi.Input[dict[str, str]]
    cache_endpoint: pulumi.Input[str]
    cache_port: pulumi.Input[int]
    cache_cluster_mode: bool
    cache_auth_secret_arn: pulumi.Input[str]  # the AUTH token as the secret's plain value
    cache_replication_group_id: pulumi.Input[str]
    kafka_cluster_arn: pulumi.Input[str]
    kafka_cluster_name: pulumi.Input[str]
    kafka_bootstrap_brokers: pulumi.Input[str]  # SASL/IAM brokers, port 9098
    kafka_topic_names: tuple[str, ...]
    # The app secret's version the tasks are pinned to (None: AWSCURRENT at task start).
    database_app_secret_version: pulumi.Input[str] | None = None
    # Customer keys encrypting the secrets (None: the AWS managed key, which needs no grant). The database's
    # key encrypts both the master's and the application role's secret.
    database_secret_kms_key_arn: pulumi.Input[str] | None = None
    cache_secret_kms_key_arn: pulumi.Input[str] | None = None
    # The AUTH token's secret version the tasks are pinned to (None: AWSCURRENT at task start).
    cache_auth_secret_version: pulumi.Input[str] | None = None
    # An RDS Proxy (None: none): serve and relay reach PostgreSQL through it with IAM authentication, and
    # use unnamed statements (named prepared statements pin proxy sessions). Its ARN names its resource id.
    database_proxy_host: pulumi.Input[str] | None = None
    database_proxy_arn: pulumi.Input[str] | None = None
    # Where `serve` sends reads that may lag (None: to the writer): the proxy's read-only endpoint with a
    # proxy, else Aurora's reader endpoint; set only when the cluster has readers.
    database_read_host: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        # The host decides how the services log in, the ARN what their task role may do: one without the other
        # would give them an IAM login their role cannot use (or the reverse).
        if (self.database_proxy_host is None) != (self.database_proxy_arn is None):
            raise ValueError("database_proxy_host and database_proxy_arn go together: set both for a proxy, or neither")

    @property
    def database_proxy(self) -> bool:
        return self.database_proxy_host is not None
