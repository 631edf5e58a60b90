"""What the compute tier needs from the data tier (Database, Cache, Kafka), as one frozen value.

The service components depend on this contract rather than on the data components themselves, so
they can be built and tested with any values; __main__.py fills it from the data tier's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class DataEndpoints:
    database_host: pulumi.Input[str]  # the RDS Proxy endpoint when there is one
    database_port: pulumi.Input[int]
    database_name: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]  # RDS-managed JSON secret: username, password
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
    # Customer keys encrypting those two secrets (None: the AWS managed key, which needs no grant).
    database_secret_kms_key_arn: pulumi.Input[str] | None = None
    cache_secret_kms_key_arn: pulumi.Input[str] | None = None
    # The AUTH token's secret version the tasks are pinned to (None: AWSCURRENT at task start).
    cache_auth_secret_version: pulumi.Input[str] | None = None
    # database_host is an RDS Proxy: clients must not use named prepared statements (they pin sessions).
    database_proxy: bool = False
    # Aurora's reader endpoint when the cluster has readers (None otherwise): where `serve` sends reads.
    database_read_host: pulumi.Input[str] | None = None
