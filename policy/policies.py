"""The flash-sale CrossGuard rules.

Each rule is a pure function over one resource (`Subject`) or the whole stack, returning messages;
`RESOURCE_POLICIES` and `STACK_POLICIES` wrap them for pulumi-policy. Nothing here starts a server:
`PolicyPack(...)` lives in `__main__.py` only, because constructing it serves gRPC forever.

Every property may be unknown under `pulumi preview`. Rules read props through `get()`, which turns
an unknown into `UNKNOWN`, and never report a violation on a value they could not see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

# --------------------------------------------------------------------------------------------
# Resource types (pulumi-aws 7.x tokens; aws:alb/* are aliases of aws:lb/* and appear in older code).

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PROXY = "aws:rds/proxy:Proxy"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_PLAN = "aws:backup/plan:Plan"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK = "aws:msk/cluster:Cluster"
KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
CERTIFICATES = ("aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation")
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ECR_REPOSITORIES = ("aws:ecr/repository:Repository", "awsx:ecr:Repository")
SCALING_TARGET = "aws:appautoscaling/target:Target"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
AWSX_VPC = "awsx:ec2:Vpc"

DATA_STORES = (RDS_INSTANCE, RDS_CLUSTER, REDIS, MSK, KMS_KEY, SECRET)

# Types the required-tags rule checks. An allowlist, because several AWS types take no tags at all
# (rolePolicy, listener rules' attachments, msk configuration, ...) and would be false positives.
TAGGABLE = frozenset(
    {
        RDS_INSTANCE,
        RDS_CLUSTER,
        RDS_CLUSTER_INSTANCE,
        RDS_PROXY,
        REDIS,
        MSK,
        KMS_KEY,
        SECRET,
        SECURITY_GROUP,
        SG_INGRESS,
        ECS_SERVICE,
        TASK_DEFINITION,
        *LOAD_BALANCERS,
        *LISTENERS,
        LOG_GROUP,
        "aws:ecr/repository:Repository",
        SCALING_TARGET,
        IAM_ROLE,
        IAM_POLICY,
        "aws:ecs/cluster:Cluster",
        "aws:lb/targetGroup:TargetGroup",
        "aws:lb/listenerRule:ListenerRule",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/clusterParameterGroup:ClusterParameterGroup",
        "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:elasticache/parameterGroup:ParameterGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:sns/topic:Topic",
        "aws:wafv2/webAcl:WebAcl",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
    }
)

WORLD = frozenset({"0.0.0.0/0", "::/0"})
WEB_PORTS = frozenset({80, 443})
ADMIN_POLICY_ARNS = ("/AdministratorAccess", "/IAMFullAccess", "/PowerUserAccess")
CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/@:\s]+:[^/@\s]+@")

DEFAULT_REQUIRED_TAGS = ("project", "environment", "managed-by")
DEFAULT_MIN_BACKUP_DAYS = 7
DEFAULT_MIN_ZONES = 3
DEFAULT_MIN_BROKERS = 3
DEFAULT_STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")

# --------------------------------------------------------------------------------------------
# Reading props that may be unknown.


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


def get(value: Any, *path: str | int) -> Any:
    """The value at `path`: None when absent, UNKNOWN when it (or anything on the way) is unknown."""
    try:
        for key in path:
            if value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS):
                return UNKNOWN
            if isinstance(key, str) and isinstance(value, Mapping):
                value = value.get(key)
            elif isinstance(key, int) and isinstance(value, Sequence) and not isinstance(value, str):
                value = value[key] if -len(value) <= key < len(value) else None
            else:
                return None
    except UnknownValueError:
        return UNKNOWN
    return UNKNOWN if isinstance(value, str) and value in _SENTINELS else value


def elements(value: Any, *path: str | int) -> list[Any] | Any:
    """The list at `path` with each element read through `get` (absent: [], unknown list: UNKNOWN)."""
    seq = get(value, *path)
    if seq is UNKNOWN:
        return UNKNOWN
    if seq is None:
        return []
    if isinstance(seq, str) or not isinstance(seq, Sequence):
        return [seq]
    return [get(seq, i) for i in range(len(seq))]


def as_mapping(value: Any) -> Mapping[str, Any] | Any:
    """A nested object, also when it arrives JSON-encoded (provider inputs, policy documents)."""
    if isinstance(value, str) and value not in _SENTINELS:
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS):
        return UNKNOWN
    return value if isinstance(value, Mapping) else None


def number(value: Any) -> float | None:
    """Numbers arrive as floats over gRPC and sometimes as strings (bake times); None if not numeric."""
    if isinstance(value, bool) or value is None or value is UNKNOWN:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def shown(value: Any) -> str:
    """A value for a message: 7.0 reads as 7."""
    n = number(value)
    return f"{n:g}" if n is not None else str(value)


# --------------------------------------------------------------------------------------------
# The view rules see.


@dataclass(frozen=True)
class Subject:
    """One resource as a resource rule sees it."""

    type: str
    props: Mapping[str, Any]
    protect: bool
    provider_props: Mapping[str, Any] | None
    config: Mapping[str, Any]


ResourceRule = Callable[[Subject], Iterable[str]]
StackRule = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str]]]


# --------------------------------------------------------------------------------------------
# Encryption


def database_encryption(s: Subject) -> Iterator[str]:
    if s.type == RDS_PROXY:
        if get(s.props, "requireTls") in (False, None):
            yield "RDS Proxy must set requireTls: true"
        return
    if get(s.props, "engineMode") == "serverless":  # Aurora Serverless v1 is always encrypted
        return
    encrypted = get(s.props, "storageEncrypted")
    if encrypted is not UNKNOWN and encrypted is not True:
        yield "storageEncrypted must be true (KMS encryption at rest)"


def cache_encryption(s: Subject) -> Iterator[str]:
    if get(s.props, "atRestEncryptionEnabled") in (False, None):
        yield "atRestEncryptionEnabled must be true"
    if get(s.props, "transitEncryptionEnabled") in (False, None):
        yield "transitEncryptionEnabled must be true (clients use rediss://)"
    mode = get(s.props, "transitEncryptionMode")
    if mode not in (None, UNKNOWN) and str(mode).lower() != "required":
        yield f"transitEncryptionMode is {mode!r}: plaintext clients are still accepted; use 'required'"


def kafka_encryption(s: Subject) -> Iterator[str]:
    info = get(s.props, "encryptionInfo")
    if info is UNKNOWN:
        return
    if get(info, "encryptionAtRestKmsKeyArn") is None:
        yield "encryptionInfo.encryptionAtRestKmsKeyArn must name a customer-managed KMS key"
    client_broker = get(info, "encryptionInTransit", "clientBroker")  # absent: AWS default TLS
    if client_broker not in (None, UNKNOWN, "TLS"):
        yield f"encryptionInTransit.clientBroker is {client_broker!r}; only TLS is allowed"
    if get(info, "encryptionInTransit", "inCluster") is False:  # absent: AWS default true
        yield "encryptionInTransit.inCluster must be true"


def kms_key_rotation(s: Subject) -> Iterator[str]:
    spec = get(s.props, "customerMasterKeySpec") or get(s.props, "keySpec")
    if spec not in (None, UNKNOWN, "SYMMETRIC_DEFAULT"):  # AWS rotates only symmetric keys
        return
    if get(s.props, "enableKeyRotation") in (False, None):
        yield "enableKeyRotation must be true"


def credentials_in_secrets_manager(s: Subject) -> Iterator[str]:
    if s.type in (RDS_INSTANCE, RDS_CLUSTER):
        password_key = "password" if s.type == RDS_INSTANCE else "masterPassword"
        if get(s.props, password_key) not in (None, UNKNOWN, ""):
            yield f"{password_key} is set in the program; use manageMasterUserPassword (RDS-managed secret)"
        replica = get(s.props, "replicateSourceDb") or get(s.props, "snapshotIdentifier")
        managed = get(s.props, "manageMasterUserPassword")
        if replica is None and managed in (False, None):
            yield "manageMasterUserPassword must be true"
    elif s.type == RDS_PROXY:
        auths = elements(s.props, "auths")
        if auths is not UNKNOWN and any(get(a, "secretArn") is None for a in auths):
            yield "every proxy auth must take its credentials from a Secrets Manager secretArn"
    elif s.type == TASK_DEFINITION:
        yield from _plaintext_task_credentials(get(s.props, "containerDefinitions"))


def _plaintext_task_credentials(definitions: Any) -> Iterator[str]:
    if definitions is UNKNOWN or definitions is None:
        return
    if isinstance(definitions, str):
        try:
            definitions = json.loads(definitions)
        except ValueError:
            return  # the provider rejects malformed JSON itself
    containers = [c for c in (definitions if isinstance(definitions, list) else []) if isinstance(c, Mapping)]
    for container in containers:
        for env in [e for e in container.get("environment") or [] if isinstance(e, Mapping)]:
            name, value = str(env.get("name", "")), str(env.get("value", ""))
            if CREDENTIAL_NAME.search(name) or URL_WITH_PASSWORD.search(value):
                yield (
                    f"container {container.get('name')!r} passes {name} as a plain environment value; "
                    "use the task definition's secrets (valueFrom a Secrets Manager ARN)"
                )


# --------------------------------------------------------------------------------------------
# Exposure


def no_public_data_stores(s: Subject) -> Iterator[str]:
    if s.type in (RDS_INSTANCE, RDS_CLUSTER_INSTANCE) and get(s.props, "publiclyAccessible") is True:
        yield "publiclyAccessible must be false"
    if s.type == MSK:
        access = get(s.props, "brokerNodeGroupInfo", "connectivityInfo", "publicAccess", "type")
        if access not in (None, UNKNOWN, "DISABLED"):
            yield f"brokers have public access ({access}); keep them private"


@dataclass(frozen=True)
class OpenIngress:
    """One ingress permission from the whole internet."""

    cidr: str
    protocol: Any
    from_port: Any
    to_port: Any

    @property
    def web_only(self) -> bool:
        tcp = str(self.protocol).lower() in ("tcp", "6")
        return tcp and number(self.from_port) == number(self.to_port) and number(self.from_port) in WEB_PORTS

    @property
    def knowable(self) -> bool:
        return UNKNOWN not in (self.protocol, self.from_port, self.to_port)

    def describe(self) -> str:
        ports = "-".join(shown(p) for p in (self.from_port, self.to_port))
        return f"{self.cidr} on {self.protocol} {ports}"


def open_ingress(resource_type: str, props: Mapping[str, Any]) -> list[OpenIngress]:
    """Every world-open ingress a security group or rule resource declares (unknown CIDRs are skipped)."""
    if resource_type == SG_INGRESS:
        cidrs = [get(props, "cidrIpv4"), get(props, "cidrIpv6")]
        rules = [(props, cidrs, "ipProtocol")]
    elif resource_type == SG_RULE:
        if get(props, "type") != "ingress":
            return []
        rules = [(props, _cidrs(props), "protocol")]
    elif resource_type == SECURITY_GROUP:
        entries = elements(props, "ingress")
        rules = [] if entries is UNKNOWN else [(e, _cidrs(e), "protocol") for e in entries]
    else:
        return []
    found = []
    for rule, cidrs, protocol_key in rules:
        for cidr in cidrs:
            if cidr in WORLD:
                protocol = get(rule, protocol_key)
                found.append(OpenIngress(cidr, protocol, get(rule, "fromPort"), get(rule, "toPort")))
    return found


def _cidrs(rule: Any) -> list[Any]:
    out: list[Any] = []
    for key in ("cidrBlocks", "ipv6CidrBlocks"):
        values = elements(rule, key)
        out.extend([] if values is UNKNOWN else values)
    return out


def public_ingress_web_ports_only(s: Subject) -> Iterator[str]:
    for ingress in open_ingress(s.type, s.props):
        if ingress.knowable and not ingress.web_only:
            yield f"ingress from {ingress.describe()}: the internet may reach only TCP 80/443"


def public_ingress_on_load_balancer_only(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    # Which security groups front a public load balancer: by URN (the LB depends on them) and by id.
    lb_group_urns: set[str] = set()
    lb_group_ids: set[str] = set()
    for r in resources:
        if r.resource_type in LOAD_BALANCERS and get(r.props, "internal") is not True:
            lb_group_urns.update(d.urn for d in r.dependencies if d.resource_type == SECURITY_GROUP)
            ids = elements(r.props, "securityGroups")
            lb_group_ids.update(i for i in ([] if ids is UNKNOWN else ids) if isinstance(i, str))
    for r in resources:
        if not open_ingress(r.resource_type, r.props):
            continue
        if r.resource_type == SECURITY_GROUP:
            targets_lb = r.urn in lb_group_urns
            knowable = True
        else:
            group_id = get(r.props, "securityGroupId")
            dep_urns = {d.urn for d in r.dependencies}
            targets_lb = bool(dep_urns & lb_group_urns) or group_id in lb_group_ids
            knowable = group_id is not UNKNOWN or bool(dep_urns)
        if knowable and not targets_lb:
            yield (
                r.urn,
                f"{r.name} opens a security group to the internet that is not a public load balancer's",
            )


def tasks_without_public_ip(s: Subject) -> Iterator[str]:
    if get(s.props, "networkConfiguration", "assignPublicIp") is True:
        yield "networkConfiguration.assignPublicIp must be false; tasks run in private subnets"


def http_redirects_to_https(
    resources: Sequence[PolicyResource], config: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    listeners = [r for r in resources if r.resource_type in LISTENERS]
    has_certificate = any(r.resource_type in CERTIFICATES for r in resources) or any(
        get(r.props, "certificateArn") not in (None, "") for r in listeners
    )
    https = any(get(r.props, "protocol") == "HTTPS" for r in listeners)
    for r in listeners:
        protocol, port = get(r.props, "protocol"), number(get(r.props, "port"))
        if protocol != "HTTP" or port != 80:  # other HTTP ports (the blue/green test listener) stay private
            continue
        actions = elements(r.props, "defaultActions")
        if actions is UNKNOWN or any(a is UNKNOWN for a in actions):
            continue
        redirects = bool(actions) and all(
            get(a, "type") == "redirect" and get(a, "redirect", "protocol") in ("HTTPS", UNKNOWN) for a in actions
        )
        if has_certificate and not redirects:
            yield r.urn, f"{r.name}: a certificate exists, so HTTP :80 must only redirect to HTTPS"
        if redirects and not https:
            yield r.urn, f"{r.name} redirects to HTTPS but the stack has no HTTPS listener"


# --------------------------------------------------------------------------------------------
# Resilience (cost-driven: advisory in dev through policy/config.dev.json)


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
    min_zones = int(s.config.get("minZones", DEFAULT_MIN_ZONES))
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
    minimum = int(s.config.get("minDays", DEFAULT_MIN_BACKUP_DAYS))
    days = get(s.props, "backupRetentionPeriod")
    if days is UNKNOWN:
        return
    if (number(days) or 0) < minimum:
        current = "not set (AWS default: 1 day)" if days is None else f"{shown(days)} day(s)"
        yield f"backupRetentionPeriod is {current}; at least {minimum} days are required"


def network_high_availability(s: Subject) -> Iterator[str]:
    min_zones = int(s.config.get("minZones", DEFAULT_MIN_ZONES))
    if get(s.props, "natGateways", "strategy") == "Single":
        yield "natGateways.strategy is Single: one AZ outage cuts every private subnet off; use OnePerAz"
    names = elements(s.props, "availabilityZoneNames")
    zones = len(names) if names not in (UNKNOWN, []) else number(get(s.props, "numberOfAvailabilityZones"))
    if names is not UNKNOWN and zones is not None and zones < min_zones:
        yield f"the VPC spans {shown(zones)} AZ(s); at least {min_zones} are required"


# --------------------------------------------------------------------------------------------
# Operations


def log_group_retention(s: Subject) -> Iterator[str]:
    days = get(s.props, "retentionInDays")
    if days is not UNKNOWN and (number(days) or 0) <= 0:
        yield "retentionInDays must be set (logs otherwise never expire)"


def ecr_scan_and_immutable_tags(s: Subject) -> Iterator[str]:
    if get(s.props, "imageScanningConfiguration", "scanOnPush") in (False, None):
        yield "imageScanningConfiguration.scanOnPush must be true"
    mutability = get(s.props, "imageTagMutability")
    if mutability is not UNKNOWN and mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield f"imageTagMutability is {mutability or 'MUTABLE (default)'}; use IMMUTABLE"


def ecs_blue_green_rollback(s: Subject) -> Iterator[str]:
    strategies = tuple(s.config.get("strategies", DEFAULT_STRATEGIES))
    strategy = get(s.props, "deploymentConfiguration", "strategy")
    if strategy is not UNKNOWN and strategy not in strategies:
        shown = strategy or "ROLLING (default)"
        yield f"deploymentConfiguration.strategy is {shown}; use one of {', '.join(strategies)}"
    controller = get(s.props, "deploymentController", "type")
    if controller not in (None, UNKNOWN, "ECS"):
        yield f"deploymentController.type is {controller}; ECS-native blue/green needs ECS"
    switches = (
        get(s.props, "deploymentCircuitBreaker", "enable"),
        get(s.props, "deploymentCircuitBreaker", "rollback"),
    )
    if UNKNOWN not in switches and switches != (True, True):
        yield "deploymentCircuitBreaker must set enable: true and rollback: true"


def ecs_service_autoscaled(resources: Sequence[PolicyResource], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    targets = [r for r in resources if r.resource_type == SCALING_TARGET]
    for service in (r for r in resources if r.resource_type == ECS_SERVICE):
        name = get(service.props, "name")
        scaled = any(
            service.urn in {d.urn for d in t.dependencies}
            or (isinstance(name, str) and str(get(t.props, "resourceId")).endswith(f"/{name}"))
            for t in targets
        )
        if not scaled:
            yield service.urn, f"{service.name} has no aws.appautoscaling.Target (ecs:service:DesiredCount)"


def _tag_keys(value: Any) -> set[str] | Any:
    tags = as_mapping(value)
    if tags is UNKNOWN:
        return UNKNOWN
    return {str(k) for k in (tags or {}) if get(tags, str(k)) not in (None, "")}


def required_tags(s: Subject) -> Iterator[str]:
    required = tuple(s.config.get("requiredTags", DEFAULT_REQUIRED_TAGS))
    own = _tag_keys(get(s.props, "tags"))
    # The program tags through the provider's defaultTags; provider inputs arrive JSON-encoded.
    defaults = _tag_keys(get(as_mapping(get(s.provider_props, "defaultTags")), "tags"))
    if own is UNKNOWN or defaults is UNKNOWN:
        return
    missing = [t for t in required if t not in own | defaults]
    if missing:
        yield f"missing tags {missing} (set them on the resource or in the aws provider's defaultTags)"


# --------------------------------------------------------------------------------------------
# IAM


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]


def statements(document: Any) -> list[Statement] | Any:
    """A policy document's statements; UNKNOWN when the document is not yet known."""
    doc = as_mapping(document)
    if doc is UNKNOWN:
        return UNKNOWN
    raw = get(doc, "Statement") if doc else None
    raw_list = [raw] if isinstance(raw, Mapping) else elements(raw) if raw is not None else []
    if raw_list is UNKNOWN:
        return UNKNOWN

    def strings(stmt: Any, key: str) -> tuple[str, ...]:
        value = elements(stmt, key)
        return tuple(str(v) for v in ([] if value is UNKNOWN else value))

    return [
        Statement(str(get(st, "Effect")), strings(st, "Action"), strings(st, "NotAction"), strings(st, "Resource"))
        for st in raw_list
        if isinstance(st, Mapping)
    ]


def _documents(s: Subject) -> list[tuple[str, Any]]:
    if s.type in (IAM_ROLE_POLICY, IAM_POLICY):
        return [("policy", get(s.props, "policy"))]
    if s.type == IAM_ROLE:
        inline = elements(s.props, "inlinePolicies")
        return [] if inline is UNKNOWN else [(f"inline policy {get(p, 'name')}", get(p, "policy")) for p in inline]
    return []


def iam_no_wildcard_statements(s: Subject) -> Iterator[str]:
    for label, document in _documents(s):
        found = statements(document)
        for st in [] if found is UNKNOWN else found:
            everything = "*" in st.actions or "*:*" in st.actions or bool(st.not_actions)
            if st.effect == "Allow" and everything and "*" in st.resources:
                yield f"{label} allows every action on every resource"


def iam_no_admin_policies(s: Subject) -> Iterator[str]:
    arns = elements(s.props, "managedPolicyArns") if s.type == IAM_ROLE else [get(s.props, "policyArn")]
    for arn in [] if arns is UNKNOWN else arns:
        if isinstance(arn, str) and arn.endswith(ADMIN_POLICY_ARNS):
            yield f"attaches {arn}; grant the actions the workload needs instead"
    for label, document in _documents(s):
        found = statements(document)
        for st in [] if found is UNKNOWN else found:
            if st.effect == "Allow" and ({"*", "*:*", "iam:*"} & set(st.actions)):
                yield f"{label} grants administrator actions ({', '.join(st.actions)})"


# --------------------------------------------------------------------------------------------
# Wiring for pulumi-policy.


def _resource_policy(
    name: str,
    description: str,
    types: Iterable[str],
    rule: ResourceRule,
    schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    applies_to = frozenset(types)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in applies_to:
            return
        subject = Subject(
            type=args.resource_type,
            props=args.props,
            protect=bool(args.opts.protect) if args.opts is not None else False,
            provider_props=args.provider.props if args.provider is not None else None,
            config=args.get_config(),
        )
        for message in rule(subject):
            report(message)

    return ResourceValidationPolicy(name=name, description=description, validate=validate, config_schema=schema)


def _stack_policy(
    name: str, description: str, rule: StackRule, schema: PolicyConfigSchema | None = None
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for urn, message in rule(args.resources, args.get_config()):
            report(message, urn)

    return StackValidationPolicy(name=name, description=description, validate=validate, config_schema=schema)


def _schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


_ZONES = {"type": "integer", "minimum": 1, "default": DEFAULT_MIN_ZONES}

RESOURCE_POLICIES: tuple[ResourceValidationPolicy, ...] = (
    _resource_policy(
        "database-encryption",
        "Databases are encrypted at rest and RDS Proxy requires TLS.",
        (RDS_INSTANCE, RDS_CLUSTER, RDS_PROXY),
        database_encryption,
    ),
    _resource_policy("cache-encryption", "Redis is encrypted at rest and in transit.", (REDIS,), cache_encryption),
    _resource_policy(
        "kafka-encryption",
        "MSK encrypts at rest with a customer key and speaks TLS only.",
        (MSK,),
        kafka_encryption,
    ),
    _resource_policy("kms-key-rotation", "KMS keys rotate yearly.", (KMS_KEY,), kms_key_rotation),
    _resource_policy(
        "credentials-in-secrets-manager",
        "Credentials live in Secrets Manager, never in plaintext inputs.",
        (RDS_INSTANCE, RDS_CLUSTER, RDS_PROXY, TASK_DEFINITION),
        credentials_in_secrets_manager,
    ),
    _resource_policy(
        "no-public-data-stores",
        "Databases and brokers are not reachable from the internet.",
        (RDS_INSTANCE, RDS_CLUSTER_INSTANCE, MSK),
        no_public_data_stores,
    ),
    _resource_policy(
        "public-ingress-web-ports-only",
        "Ingress from 0.0.0.0/0 or ::/0 is allowed only on TCP 80/443.",
        (SG_INGRESS, SG_RULE, SECURITY_GROUP),
        public_ingress_web_ports_only,
    ),
    _resource_policy("tasks-without-public-ip", "ECS tasks get no public IP.", (ECS_SERVICE,), tasks_without_public_ip),
    _resource_policy(
        "redis-automatic-failover",
        "Redis fails over automatically to a replica in another AZ.",
        (REDIS,),
        redis_automatic_failover,
    ),
    _resource_policy(
        "kafka-brokers-across-azs",
        "MSK runs at least 3 brokers spread across AZs.",
        (MSK,),
        kafka_brokers_across_azs,
        _schema(minBrokers={"type": "integer", "minimum": 1, "default": DEFAULT_MIN_BROKERS}, minZones=_ZONES),
    ),
    _resource_policy(
        "deletion-protection",
        "Data stores, their keys and secrets are protected from deletion.",
        DATA_STORES,
        deletion_protection,
    ),
    _resource_policy(
        "backup-retention",
        "Databases keep automated backups long enough.",
        (RDS_INSTANCE, RDS_CLUSTER),
        backup_retention,
        _schema(minDays={"type": "integer", "minimum": 1, "default": DEFAULT_MIN_BACKUP_DAYS}),
    ),
    _resource_policy(
        "network-high-availability",
        "The VPC spans enough AZs with a NAT gateway in each.",
        (AWSX_VPC,),
        network_high_availability,
        _schema(minZones=_ZONES),
    ),
    _resource_policy("log-group-retention", "Every log group has a retention.", (LOG_GROUP,), log_group_retention),
    _resource_policy(
        "ecr-scan-and-immutable-tags",
        "ECR scans images on push and tags are immutable.",
        ECR_REPOSITORIES,
        ecr_scan_and_immutable_tags,
    ),
    _resource_policy(
        "ecs-blue-green-rollback",
        "ECS services deploy blue/green (or canary/linear) with circuit-breaker rollback.",
        (ECS_SERVICE,),
        ecs_blue_green_rollback,
        _schema(strategies={"type": "array", "items": {"type": "string"}, "default": list(DEFAULT_STRATEGIES)}),
    ),
    _resource_policy(
        "required-tags",
        "Resources carry the required tags (own tags or the provider's defaultTags).",
        TAGGABLE,
        required_tags,
        _schema(
            requiredTags={
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_REQUIRED_TAGS),
            }
        ),
    ),
    _resource_policy(
        "iam-no-wildcard-statements",
        "No IAM statement allows every action on every resource.",
        (IAM_ROLE, IAM_ROLE_POLICY, IAM_POLICY),
        iam_no_wildcard_statements,
    ),
    _resource_policy(
        "iam-no-admin-policies",
        "Roles get no administrator policy, attached or inline.",
        (IAM_ROLE, IAM_ROLE_POLICY, IAM_ATTACHMENT),
        iam_no_admin_policies,
    ),
)

STACK_POLICIES: tuple[StackValidationPolicy, ...] = (
    _stack_policy(
        "public-ingress-on-load-balancer-only",
        "Only a public load balancer's security group is open to the internet.",
        public_ingress_on_load_balancer_only,
    ),
    _stack_policy(
        "http-redirects-to-https",
        "With a certificate, HTTP :80 listeners only redirect to HTTPS.",
        http_redirects_to_https,
    ),
    _stack_policy(
        "database-multi-az",
        "Databases survive an AZ outage (Multi-AZ instance, or Aurora writer plus reader).",
        database_multi_az,
    ),
    _stack_policy(
        "database-cross-region-backup",
        "Database backups are copied to a second region (disaster recovery).",
        database_cross_region_backup,
    ),
    _stack_policy(
        "ecs-service-autoscaled",
        "Every ECS service has an autoscaling target.",
        ecs_service_autoscaled,
    ),
)

ALL_POLICIES = (*RESOURCE_POLICIES, *STACK_POLICIES)
