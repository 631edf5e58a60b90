"""Run one policy the way the analyzer does: props wrapped in pulumi-policy's unknown-checking proxy,
violations collected from the report callback. `Case` is the table row every resource rule is tested by."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
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
    unknown_checking_proxy,
)

from policy.registry import ALL_POLICIES, BY_DOMAIN

# What `pulumi preview` sends for values not known yet.
UNKNOWN_BOOL = UNKNOWN_BOOLEAN_VALUE
UNKNOWN_NUMBER = UNKNOWN_NUMBER_VALUE
UNKNOWN_STRING = UNKNOWN_STRING_VALUE
UNKNOWN_ARRAY = UNKNOWN_ARRAY_VALUE
UNKNOWN_OBJECT = UNKNOWN_OBJECT_VALUE


def _options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def check_resource(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Mapping[str, Any],
    *,
    protect: bool = False,
    provider_props: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[str]:
    provider = (
        None
        if provider_props is None
        else PolicyProviderResource(
            "pulumi:providers:aws", unknown_checking_proxy(dict(provider_props)), "urn:provider", "aws"
        )
    )
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        f"urn:pulumi:test::flashsale::{resource_type}::subject",
        "subject",
        _options(protect),
        provider,
        config,
    )
    messages: list[str] = []
    policy.validate(args, lambda message, urn=None: messages.append(message))
    return messages


@dataclass
class Res:
    """A stack resource for StackValidationArgs; `deps` names other Res in the same stack."""

    type: str
    name: str
    props: dict[str, Any]
    deps: Sequence[str] = field(default_factory=tuple)
    provider_props: dict[str, Any] | None = None  # the aws provider's inputs (region...), when it matters

    @property
    def urn(self) -> str:
        return f"urn:pulumi:test::flashsale::{self.type}::{self.name}"


def check_stack(policy: StackValidationPolicy, resources: Sequence[Res]) -> list[tuple[str, str]]:
    def provider(r: Res) -> PolicyProviderResource | None:
        if r.provider_props is None:
            return None
        return PolicyProviderResource(
            "pulumi:providers:aws", unknown_checking_proxy(dict(r.provider_props)), "urn:provider", "aws"
        )

    built = {
        r.name: PolicyResource(
            r.type, unknown_checking_proxy(dict(r.props)), r.urn, r.name, _options(), provider(r), None, [], {}
        )
        for r in resources
    }
    for r in resources:
        built[r.name].dependencies.extend(built[d] for d in r.deps)
    found: list[tuple[str, str]] = []
    policy.validate(StackValidationArgs(list(built.values())), lambda message, urn=None: found.append((urn, message)))
    return found


POLICIES = {p.name: p for p in ALL_POLICIES}


def domain_policies(domain: str) -> tuple[set[str], set[str]]:
    """The names of the resource policies and of the stack policies registered for policy/rules/<domain>.py."""
    group = BY_DOMAIN[domain]
    resource = {p.name for p in group if isinstance(p, ResourceValidationPolicy)}
    return resource, {p.name for p in group if isinstance(p, StackValidationPolicy)}


@dataclass(frozen=True)
class Case:
    """One resource policy on one type: props that pass, props that fail (the message holds `expect`),
    and props whose deciding values are unknown (as under `pulumi preview`), which must not fail."""

    policy: str
    type: str
    passing: dict[str, Any]
    failing: dict[str, Any]
    unknown: dict[str, Any]
    expect: str  # a fragment of the failing message
    options: dict[str, Any] = field(default_factory=dict)  # protect / provider_props / config

    @property
    def id(self) -> str:
        return f"{self.policy}:{self.type.split(':')[-1]}:{self.expect[:24]}"

    def messages(self, props: Mapping[str, Any]) -> list[str]:
        policy = POLICIES[self.policy]
        assert isinstance(policy, ResourceValidationPolicy), f"{self.policy} is not a resource policy"
        return check_resource(policy, self.type, props, **self.options)


# An MSK cluster every MSK rule accepts.
MSK_GOOD = {
    "numberOfBrokerNodes": 3.0,
    "brokerNodeGroupInfo": {
        "clientSubnets": ["a", "b", "c"],
        "connectivityInfo": {"publicAccess": {"type": "DISABLED"}},
    },
    "encryptionInfo": {
        "encryptionAtRestKmsKeyArn": "arn:aws:kms:k",
        "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True},
    },
}


def case_tests(cases: Sequence[Case]) -> tuple[Any, Any, Any]:
    """The three tests every domain's resource-rule cases get (a test module binds them to test_* names)."""

    @pytest.mark.parametrize("case", cases, ids=lambda c: c.id)
    def passing_resource_has_no_violation(case: Case) -> None:
        assert case.messages(case.passing) == []

    @pytest.mark.parametrize("case", cases, ids=lambda c: c.id)
    def failing_resource_is_reported(case: Case) -> None:
        messages = case.messages(case.failing)
        assert any(case.expect in m for m in messages), messages

    @pytest.mark.parametrize("case", cases, ids=lambda c: c.id)
    def unknown_props_are_not_a_violation(case: Case) -> None:
        assert case.messages(case.unknown) == []

    return passing_resource_has_no_violation, failing_resource_is_reported, unknown_props_are_not_a_violation
