"""`make plan STACK=<name>`: what a stack would create, with no account and no CLI.

Runs the real program under mocks (tooling/mock_runtime.py) and prints the component tree with the
settings that matter per resource, then a count by type, and what the configuration sized from the measured
capacity (a sale window's floor from its rate, the derived requests per target); the program's warnings go to
stderr. A config error prints the validation message and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from stackconfig import ConfigError
from tooling.capacity import load_stack_config
from tooling.mock_runtime import ProgramRun, RecordedResource, run_program
from tooling.stack_files import StackNotFound

# Per type, the inputs a reviewer wants to see in a plan (camelCase, dotted into nested objects).
SETTINGS: dict[str, tuple[str, ...]] = {
    "awsx:ec2:Vpc": ("cidrBlock", "numberOfAvailabilityZones", "natGateways.strategy", "subnetStrategy",
                     "subnetSpecs", "vpcEndpointSpecs"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType", "privateDnsEnabled"),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("description",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("description",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType"),
    "aws:rds/instance:Instance": ("engine", "engineVersion", "instanceClass", "multiAz", "storageType",
                                  "allocatedStorage", "maxAllocatedStorage", "storageEncrypted",
                                  "iamDatabaseAuthenticationEnabled", "manageMasterUserPassword",
                                  "backupRetentionPeriod", "deletionProtection", "publiclyAccessible"),
    "aws:rds/cluster:Cluster": ("engine", "engineVersion", "serverlessv2ScalingConfiguration", "storageEncrypted",
                                "manageMasterUserPassword", "backupRetentionPeriod", "deletionProtection"),
    "aws:rds/clusterInstance:ClusterInstance": ("instanceClass", "publiclyAccessible"),
    "aws:rds/proxy:Proxy": ("engineFamily", "requireTls", "auths.iamAuth", "auths.description"),
    "aws:rds/proxyEndpoint:ProxyEndpoint": ("targetRole",),
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": ("retentionPeriod",),
    "aws:backup/plan:Plan": ("rules",),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("engine", "engineVersion", "nodeType", "clusterMode",
                                                          "numNodeGroups", "replicasPerNodeGroup",
                                                          "automaticFailoverEnabled", "multiAzEnabled",
                                                          "atRestEncryptionEnabled", "transitEncryptionEnabled",
                                                          "snapshotRetentionLimit"),
    "aws:msk/cluster:Cluster": ("kafkaVersion", "numberOfBrokerNodes", "brokerNodeGroupInfo.instanceType",
                                "encryptionInfo.encryptionInTransit", "clientAuthentication.sasl",
                                "enhancedMonitoring"),
    "aws:msk/topic:Topic": ("name", "partitionCount", "replicationFactor"),
    "aws:kms/key:Key": ("description", "enableKeyRotation"),
    "aws:ecs/service:Service": ("desiredCount", "deploymentConfiguration.strategy",
                                "deploymentConfiguration.bakeTimeInMinutes", "networkConfiguration.assignPublicIp"),
    "aws:ecs/taskDefinition:TaskDefinition": ("family", "cpu", "memory", "runtimePlatform.cpuArchitecture"),
    "aws:lb/loadBalancer:LoadBalancer": ("loadBalancerType", "internal", "enableDeletionProtection",
                                         "dropInvalidHeaderFields"),
    "aws:lb/listener:Listener": ("port", "protocol", "certificateArn"),
    "aws:lb/listenerRule:ListenerRule": ("priority", "conditions"),
    "aws:lb/targetGroup:TargetGroup": ("port", "targetType", "healthCheck.path", "deregistrationDelay"),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "aws:appautoscaling/policy:Policy": ("policyType", "targetTrackingScalingPolicyConfiguration.targetValue"),
    "aws:appautoscaling/scheduledAction:ScheduledAction": ("schedule", "timezone", "scalableTargetAction"),
    "aws:ecr/repository:Repository": ("imageTagMutability", "imageScanningConfiguration.scanOnPush"),
    "awsx:ecr:Image": ("context", "platform"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("metricName", "threshold", "comparisonOperator"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:wafv2/webAcl:WebAcl": ("scope",),
}  # fmt: skip


def _waf_rule(rule: dict[str, Any]) -> str:
    """`name(limit per key, scope -> response)` for a rate rule, `name(group, overrides)` for a managed one."""
    statement = rule.get("statement") or {}
    if "rateBasedStatement" in statement:
        rate = statement["rateBasedStatement"]
        scope = rate.get("scopeDownStatement")
        matches = scope["andStatement"]["statements"] if scope and "andStatement" in scope else [scope] if scope else []
        shown = [
            m.get("byteMatchStatement", {}).get("searchString") or m.get("regexMatchStatement", {}).get("regexString")
            for m in matches
        ]
        response = ((rule.get("action") or {}).get("block") or {}).get("customResponse") or {}
        return (
            f"{rule['name']}({_show(rate['limit'])}/{_show(rate.get('evaluationWindowSec'))}s per "
            f"{rate['aggregateKeyType']}{' on ' + ' '.join(map(str, shown)) if shown else ''}"
            f"{' -> ' + _show(response['responseCode']) if response else ''})"
        )
    group = statement.get("managedRuleGroupStatement") or {}
    overrides = [f"{o['name']}={next(iter(o['actionToUse']))}" for o in group.get("ruleActionOverrides") or []]
    return f"{rule['name']}({group.get('name')}{', ' + ', '.join(overrides) if overrides else ''})"


# Per type, a summary of inputs too nested for SETTINGS.
SUMMARIES: dict[str, Any] = {
    "aws:wafv2/webAcl:WebAcl": lambda inputs: "rules=" + "; ".join(_waf_rule(r) for r in inputs.get("rules") or []),
}


def _dig(inputs: dict[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for part in dotted.split("."):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(_ints(value), separators=(",", ":"))
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    return value


def describe(resource: RecordedResource, region: str | None = None) -> str:
    """One line per resource; `region` is shown when it is not the stack's own (a second provider)."""
    parts = [f"{resource.type}  {resource.name}"]
    for key in SETTINGS.get(resource.type, ()):
        value = _dig(resource.inputs, key)
        if value is not None:
            parts.append(f"{key}={_show(value)}")
    if resource.type in SUMMARIES:
        parts.append(SUMMARIES[resource.type](resource.inputs))
    if region:
        parts.append(f"[region {region}]")
    if resource.protect:
        parts.append("[protected]")
    if resource.ignore_changes:
        parts.append(f"[ignoreChanges: {', '.join(resource.ignore_changes)}]")
    return "  ".join(parts)


def render(run: ProgramRun) -> str:
    urns = {r.urn for r in run.resources}
    children: dict[str | None, list[RecordedResource]] = {}
    for r in run.resources:
        children.setdefault(r.parent if r.parent in urns else None, []).append(r)
    for items in children.values():
        items.sort(key=lambda r: (r.custom, r.type, r.name))  # components first, then by type

    lines = [f"Stack {run.stack}: {len(run.resources)} resources", ""]
    # A provider reference is "<provider urn>::<id>"; resources on another region's provider say so.
    regions = {r.urn: r.inputs.get("region") for r in run.resources if r.type == "pulumi:providers:aws"}
    home = {r.inputs.get("region") for r in run.resources if r.type == "pulumi:providers:aws" and r.name == "aws"}

    def region_of(r: RecordedResource) -> str | None:
        region = regions.get(r.provider.rsplit("::", 1)[0]) if r.provider else None
        return region if region not in home else None

    def walk(parent: str | None, prefix: str) -> None:
        items = children.get(parent, [])
        for i, r in enumerate(items):
            last = i == len(items) - 1
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{describe(r, region_of(r))}")
            walk(r.urn, prefix + ("   " if last else "│  "))

    walk(None, "")
    lines += ["", "Resources by type:"]
    for type_, count in sorted(Counter(r.type for r in run.resources).items()):
        lines.append(f"  {count:4d}  {type_}")
    if run.outputs:
        lines += ["", "Outputs:"]
        lines += [f"  {key} = {_show(value)}" for key, value in sorted(run.outputs.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name: Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    try:
        run = run_program(args.stack)
    except (ConfigError, StackNotFound) as err:
        print(f"plan for stack {args.stack} failed: {err}", file=sys.stderr)
        return 1
    print(render(run))
    notes = load_stack_config(args.stack).sizing.notes
    if notes:
        print("\nSized from the measured capacity (capacity/measured.yaml):")
        print("\n".join(f"  {note}" for note in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
