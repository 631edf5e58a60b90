"""Resilience rules: surviving an AZ outage, a deletion and a region loss.

Cost-driven: advisory in dev through policy/config.dev.json. The program's configuration refuses the
same shortfalls for prod up front, so the minimums it shares with these rules come from allowed_values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from allowed_values import MIN_AVAILABILITY_ZONES, MIN_BACKUP_RETENTION_DAYS
from policy.rules.props import UNKNOWN, Subject, elements, get, number, shown
from policy.rules.resource_types import (
    BACKUP_PLAN,
    BACKUP_SELECTION,
    RDS_BACKUP_REPLICATION,
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_INSTANCE,
    SECRET,
)

DEFAULT_MIN_BROKERS = 3


def database_multi_az(resources: Sequence[PolicyResource], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    cluster_instances = [r for r in resources if r.resource_type == RDS_CLUSTER_INSTANCE]
    for r in resources:
        if r.resource_type == RDS_INSTANCE:
            if get(r.props, "replicateSourceDb") is None and get(r.props, "multiAz") in (False, None):
                yield r.urn, f"{r.name}: multiAz must be true"
        elif r.resource_type == RDS_CLUSTER:
            cluster_id = get(r.props, "clusterIdentifier")
            members = [
                i
                for i in cluster_instances
                if r.urn in {d.urn for d in i.dependencies}
                or (cluster_id not in (None, UNKNOWN) and get(i.props, "clusterIdentifier") == cluster_id)
            ]
            if len(members) < 2:
                message = f"{r.name} has {len(members)} instance(s); Multi-AZ needs a reader in another AZ"
                yield r.urn, message


def _region(r: PolicyResource) -> Any:
    return get(r.provider.props, "region") if r.provider is not None else None


def _depends_on(r: PolicyResource, target: PolicyResource) -> bool:
    return target.urn in {d.urn for d in r.dependencies}


def database_cross_region_backup(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """Each database has its backups copied to another region: RDS automated-backup replication on a
    provider of another region, or (Aurora) an AWS Backup selection whose plan has a copy action."""
    replications = [r for r in resources if r.resource_type == RDS_BACKUP_REPLICATION]
    selections = [r for r in resources if r.resource_type == BACKUP_SELECTION]
    plans = [r for r in resources if r.resource_type == BACKUP_PLAN]
    for db in resources:
        if db.resource_type == RDS_INSTANCE and get(db.props, "replicateSourceDb") is None:
            copies = [c for c in replications if _depends_on(c, db)]
            if not copies:
                yield db.urn, f"{db.name}: no InstanceAutomatedBackupsReplication copies its backups to another region"
            elif all(_region(c) is not None and _region(c) == _region(db) for c in copies):
                yield db.urn, f"{db.name}: its backups are replicated within {_region(db)}; use another region"
        elif db.resource_type == RDS_CLUSTER:
            chosen = [p for s in selections if _depends_on(s, db) for p in plans if _depends_on(s, p)]
            rule_lists = [elements(p.props, "rules") for p in chosen]
            if any(rules is UNKNOWN for rules in rule_lists):
                continue  # a preview may not know the rules yet
            # An unknown copyActions list (UNKNOWN is truthy) is given the benefit of the doubt.
            if not any(elements(rule, "copyActions") for rules in rule_lists for rule in rules):
                yield db.urn, f"{db.name}: no AWS Backup plan copies its recovery points to another region"


def redis_automatic_failover(s: Subject) -> Iterator[str]:
    if get(s.props, "automaticFailoverEnabled") in (False, None):
        yield "automaticFailoverEnabled must be true (a replica in another AZ takes over)"
    if get(s.props, "multiAzEnabled") in (False, None):
        yield "multiAzEnabled must be true"


def kafka_brokers_across_azs(s: Subject) -> Iterator[str]:
    min_brokers = int(s.config.get("minBrokers", DEFAULT_MIN_BROKERS))
    min_zones = int(s.config.get("minZones", MIN_AVAILABILITY_ZONES))
    brokers = get(s.props, "numberOfBrokerNodes")
    if brokers is not UNKNOWN and (number(brokers) or 0) < min_brokers:
        yield f"numberOfBrokerNodes is {shown(brokers)}; at least {min_brokers} are required"
    subnets = elements(s.props, "brokerNodeGroupInfo", "clientSubnets")
    if subnets is not UNKNOWN and len(subnets) < min_zones:
        yield f"brokers span {len(subnets)} subnet(s); spread them over {min_zones} AZs"


def deletion_protection(s: Subject) -> Iterator[str]:
    if s.type == SECRET:
        # Secrets Manager's own deletion protection is the recovery window (AWS default 30 days):
        # a secret deleted by mistake is restored with its value. 0 deletes it at once.
        window = get(s.props, "recoveryWindowInDays")
        if not s.protect and window is not UNKNOWN and window is not None and (number(window) or 0) < 7:
            yield f"recoveryWindowInDays is {shown(window)} and protect is off: a deletion cannot be undone"
        return
    if not s.protect:
        yield "data resources must be created with protect=True"
    if s.type in (RDS_INSTANCE, RDS_CLUSTER):
        if get(s.props, "deletionProtection") in (False, None):
            yield "deletionProtection must be true"
        if get(s.props, "skipFinalSnapshot") is True:
            yield "skipFinalSnapshot must be false (take a final snapshot)"


def backup_retention(s: Subject) -> Iterator[str]:
    minimum = int(s.config.get("minDays", MIN_BACKUP_RETENTION_DAYS))
    days = get(s.props, "backupRetentionPeriod")
    if days is UNKNOWN:
        return
    if (number(days) or 0) < minimum:
        current = "not set (AWS default: 1 day)" if days is None else f"{shown(days)} day(s)"
        yield f"backupRetentionPeriod is {current}; at least {minimum} days are required"


def network_high_availability(s: Subject) -> Iterator[str]:
    min_zones = int(s.config.get("minZones", MIN_AVAILABILITY_ZONES))
    if get(s.props, "natGateways", "strategy") == "Single":
        yield "natGateways.strategy is Single: one AZ outage cuts every private subnet off; use OnePerAz"
    names = elements(s.props, "availabilityZoneNames")
    zones = len(names) if names not in (UNKNOWN, []) else number(get(s.props, "numberOfAvailabilityZones"))
    if names is not UNKNOWN and zones is not None and zones < min_zones:
        yield f"the VPC spans {shown(zones)} AZ(s); at least {min_zones} are required"
