"""IAM rules: no statement allows everything, no administrator policy attached or inline."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policy.rules.props import UNKNOWN, Subject, as_mapping, elements, get
from policy.rules.resource_types import IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY

ADMIN_POLICY_ARNS = ("/AdministratorAccess", "/IAMFullAccess", "/PowerUserAccess")


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
