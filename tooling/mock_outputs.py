"""What the mocked engine answers: invoke results and the outputs a provider would compute.

Only outputs the program reads need to be here; inputs are echoed back for every custom resource.
awsx classes are remote components: one registration each, whose outputs must be given here
(echoing their inputs back crashes their SDK).
"""

from __future__ import annotations

import hashlib
import json
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
    return [{"secretArn": arn("secretsmanager", f"secret:rds!{name}-AbCdEf"), "secretStatus": "active"}]


# type token -> function(name, inputs) -> outputs added on top of the echoed inputs
OUTPUTS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
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
        "clusterUuid": f"{n}-uuid",
    },
    "aws:msk/configuration:Configuration": lambda n, i: {"latestRevision": 1},
    "aws:lb/loadBalancer:LoadBalancer": lambda n, i: {
        "dnsName": f"{n}-123.{REGION}.elb.amazonaws.com",
        "arnSuffix": f"app/{n}/abc123",
        "zoneId": "Z32O12XQLNTSW2",
    },
    "aws:lb/targetGroup:TargetGroup": lambda n, i: {"arnSuffix": f"targetgroup/{n}/abc123"},
    "aws:ecr/repository:Repository": lambda n, i: {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{n}"},
    "aws:ecs/taskDefinition:TaskDefinition": lambda n, i: {
        "revision": 1,
        "arn": arn("ecs", f"task-definition/{i.get('family', n)}:1"),
    },
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
    "random:index/randomPassword:RandomPassword": lambda n, i: {"result": "mock-generated-secret-" + "x" * 40},
}

# Remote components whose inputs must not be echoed back.
REMOTE_COMPONENTS = {"awsx:ec2:Vpc", "awsx:ecr:Image"}


def mock_id(name: str) -> str:
    """The id the mocked provider gives a resource: tests use it to follow references."""
    return f"{name}-id"


def resource_outputs(type_: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The (id, state) the mocked provider returns for one registration."""
    service = type_.split(":")[1].split("/")[0] if ":" in type_ else "mock"
    state: dict[str, Any] = {} if type_ in REMOTE_COMPONENTS else dict(inputs)
    state.setdefault("arn", arn(service, f"{type_.rsplit(':', 1)[-1].lower()}/{name}"))
    state.setdefault("name", inputs.get("name") or name)
    extra = OUTPUTS.get(type_)
    if extra is not None:
        state.update(extra(name, inputs))
    return mock_id(name), state
