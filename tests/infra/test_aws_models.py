"""Values the program registers, checked against the enums and bounds botocore's service models ship
(the API's own definitions), not against a copy: a value AWS's API would reject fails here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from tooling.mock_runtime import ProgramRun

ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCHEDULED = "aws:appautoscaling/scheduledAction:ScheduledAction"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
AUTOSCALING = "application-autoscaling"

# (resource type, path to the value in its inputs, botocore service, shape). A path steps into keys;
# `[]` steps into every item of a list; a JSON string (containerDefinitions) is parsed on the way.
FACTS: list[tuple[str, str, str, str]] = [
    (ECS_SERVICE, "deploymentConfiguration.strategy", "ecs", "DeploymentStrategy"),
    (ECS_SERVICE, "deploymentController.type", "ecs", "DeploymentControllerType"),
    (ECS_SERVICE, "propagateTags", "ecs", "PropagateTags"),
    (TASK_DEFINITION, "networkMode", "ecs", "NetworkMode"),
    (TASK_DEFINITION, "requiresCompatibilities[]", "ecs", "Compatibility"),
    (TASK_DEFINITION, "runtimePlatform.cpuArchitecture", "ecs", "CPUArchitecture"),
    (TASK_DEFINITION, "runtimePlatform.operatingSystemFamily", "ecs", "OSFamily"),
    (TASK_DEFINITION, "containerDefinitions[].logConfiguration.logDriver", "ecs", "LogDriver"),
    (TASK_DEFINITION, "containerDefinitions[].dependsOn[].condition", "ecs", "ContainerCondition"),
    ("aws:ecs/cluster:Cluster", "settings[].name", "ecs", "ClusterSettingName"),
    (ALARM, "comparisonOperator", "cloudwatch", "ComparisonOperator"),
    (ALARM, "statistic", "cloudwatch", "Statistic"),
    (ALARM, "evaluationPeriods", "cloudwatch", "EvaluationPeriods"),
    (ALARM, "datapointsToAlarm", "cloudwatch", "DatapointsToAlarm"),
    (ALARM, "period", "cloudwatch", "Period"),
    (ALARM, "metricQueries[].metric.period", "cloudwatch", "Period"),
    (SCALING_POLICY, "policyType", AUTOSCALING, "PolicyType"),
    (SCALING_POLICY, "serviceNamespace", AUTOSCALING, "ServiceNamespace"),
    (SCALING_POLICY, "scalableDimension", AUTOSCALING, "ScalableDimension"),
    (
        SCALING_POLICY,
        "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType",
        AUTOSCALING,
        "MetricType",
    ),
    (SCALING_TARGET, "serviceNamespace", AUTOSCALING, "ServiceNamespace"),
    (SCALING_TARGET, "scalableDimension", AUTOSCALING, "ScalableDimension"),
    (SCHEDULED, "scalableDimension", AUTOSCALING, "ScalableDimension"),
    (TARGET_GROUP, "targetType", "elbv2", "TargetTypeEnum"),
    (TARGET_GROUP, "protocol", "elbv2", "ProtocolEnum"),
    (TARGET_GROUP, "healthCheck.interval", "elbv2", "HealthCheckIntervalSeconds"),
    (TARGET_GROUP, "healthCheck.timeout", "elbv2", "HealthCheckTimeoutSeconds"),
    (TARGET_GROUP, "healthCheck.healthyThreshold", "elbv2", "HealthCheckThresholdCount"),
    (TARGET_GROUP, "healthCheck.unhealthyThreshold", "elbv2", "HealthCheckThresholdCount"),
    (LISTENER, "protocol", "elbv2", "ProtocolEnum"),
    (LISTENER, "defaultActions[].type", "elbv2", "ActionTypeEnum"),
    (RULE, "actions[].type", "elbv2", "ActionTypeEnum"),
    (RULE, "priority", "elbv2", "RulePriority"),
    ("aws:lb/loadBalancer:LoadBalancer", "loadBalancerType", "elbv2", "LoadBalancerTypeEnum"),
    (WEB_ACL, "rules[].statement.rateBasedStatement.limit", "wafv2", "RateLimit"),
    (WEB_ACL, "rules[].statement.rateBasedStatement.aggregateKeyType", "wafv2", "RateBasedStatementAggregateKeyType"),
    (WEB_ACL, "rules[].priority", "wafv2", "RulePriority"),
    (WEB_ACL, "rules[].action.block.customResponse.responseCode", "wafv2", "ResponseStatusCode"),
    (WEB_ACL, "rules[].action.block.customResponse.responseHeaders[].name", "wafv2", "CustomHTTPHeaderName"),
    (WEB_ACL, "rules[].action.block.customResponse.customResponseBodyKey", "wafv2", "EntityName"),
    (WEB_ACL, "customResponseBodies[].key", "wafv2", "EntityName"),
    (WEB_ACL, "customResponseBodies[].contentType", "wafv2", "ResponseContentType"),
    (
        WEB_ACL,
        "rules[].statement.rateBasedStatement.scopeDownStatement.byteMatchStatement.positionalConstraint",
        "wafv2",
        "PositionalConstraint",
    ),
    (
        WEB_ACL,
        "rules[].statement.rateBasedStatement.scopeDownStatement.byteMatchStatement.textTransformations[].type",
        "wafv2",
        "TextTransformationType",
    ),
    (
        WEB_ACL,
        "rules[].statement.rateBasedStatement.scopeDownStatement.andStatement.statements[].byteMatchStatement.positionalConstraint",
        "wafv2",
        "PositionalConstraint",
    ),
    (
        WEB_ACL,
        "rules[].statement.rateBasedStatement.scopeDownStatement.andStatement.statements[].regexMatchStatement.regexString",
        "wafv2",
        "RegexPatternString",
    ),
    (
        WEB_ACL,
        "rules[].statement.rateBasedStatement.scopeDownStatement.andStatement.statements[].regexMatchStatement.textTransformations[].type",
        "wafv2",
        "TextTransformationType",
    ),
    ("aws:rds/proxyEndpoint:ProxyEndpoint", "targetRole", "rds", "DBProxyEndpointTargetRole"),
    ("aws:ec2/flowLog:FlowLog", "trafficType", "ec2", "TrafficType"),
    ("aws:ec2/flowLog:FlowLog", "logDestinationType", "ec2", "LogDestinationType"),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "vpcEndpointType", "ec2", "VpcEndpointType"),
    ("aws:msk/cluster:Cluster", "enhancedMonitoring", "kafka", "EnhancedMonitoring"),
    ("aws:msk/cluster:Cluster", "encryptionInfo.encryptionInTransit.clientBroker", "kafka", "ClientBroker"),
    ("aws:elasticache/replicationGroup:ReplicationGroup", "clusterMode", "elasticache", "ClusterMode"),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "rule.objectOwnership", "s3", "ObjectOwnership"),
    ("aws:rds/proxy:Proxy", "engineFamily", "rds", "EngineFamily"),
    ("aws:rds/proxy:Proxy", "auths[].authScheme", "rds", "AuthScheme"),
    ("aws:rds/proxy:Proxy", "auths[].iamAuth", "rds", "IAMAuthMode"),
    ("aws:rds/proxy:Proxy", "auths[].clientPasswordAuthType", "rds", "ClientPasswordAuthType"),
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
        "s3",
        "ServerSideEncryption",
    ),
]
_SESSION = botocore.session.get_session()


def _shape(service: str, name: str):
    return _SESSION.get_service_model(service).shape_for(name)


def values_at(value: Any, path: str) -> Iterator[Any]:
    if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
        value = json.loads(value)
    if not path:
        yield value
        return
    head, _, rest = path.partition(".")
    key, many = (head[:-2], True) if head.endswith("[]") else (head, False)
    if not isinstance(value, dict) or value.get(key) is None:
        return
    item = value[key]
    if isinstance(item, str) and item.lstrip().startswith(("[", "{")):
        item = json.loads(item)
    for element in item if many else [item]:
        yield from values_at(element, rest)


def violation(value: Any, service: str, name: str) -> str | None:
    """Why the API would refuse this value for that shape, or None."""
    shape = _shape(service, name)
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        return f"{value!r} is not one of {enum}"
    if shape.type_name in ("integer", "long"):
        if float(value) != int(value):
            return f"{value!r} is not an integer"
        value = int(value)
    limits = shape.metadata
    size = len(value) if isinstance(value, str) else value
    if "min" in limits and size < limits["min"]:
        return f"{value!r} is below the minimum {limits['min']}"
    if "max" in limits and size > limits["max"]:
        return f"{value!r} is above the maximum {limits['max']}"
    return None


def _check(run: ProgramRun, facts) -> tuple[list[str], dict[tuple, int]]:
    problems, counts = [], {}
    for fact in facts:
        type_, path, service, name = fact
        counts[fact] = 0
        for resource in run.of_type(type_):
            for value in values_at(resource.inputs, path):
                counts[fact] += 1
                why = violation(value, service, name)
                if why:
                    problems.append(f"{resource.name}.{path}: {why} ({service} {name})")
    return problems, counts


def test_registered_values_are_what_the_aws_apis_accept(run: ProgramRun) -> None:
    problems, counts = _check(run, FACTS)
    assert not problems, "\n".join(problems)
    # A stack may lack a resource type (dev has no RDS Proxy); a type it has must yield its value.
    unused = [f"{t} {p}" for (t, p, _, _), c in counts.items() if c == 0 and run.of_type(t)]
    assert not unused, f"facts that match nothing the program registers (fix the path): {unused}"
    assert sum(1 for c in counts.values() if c) >= 30


@pytest.mark.parametrize(
    ("value", "service", "shape", "expected"),
    [
        ("BLUE_GREEN_CANARY", "ecs", "DeploymentStrategy", "not one of"),
        ("GreaterThan", "cloudwatch", "ComparisonOperator", "not one of"),
        (5.0, "wafv2", "RateLimit", "below the minimum"),
        (3000000000.0, "wafv2", "RateLimit", "above the maximum"),
        (0.0, "elbv2", "RulePriority", "below the minimum"),
    ],
)
def test_the_check_refuses_what_the_models_refuse(value: Any, service: str, shape: str, expected: str) -> None:
    assert expected in (violation(value, service, shape) or "")
