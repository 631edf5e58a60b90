"""Reading a resource's props as the analyzer sends them, and the view a resource rule gets.

Every property may be unknown under `pulumi preview`. Rules read props through `get()`, which turns an
unknown into `UNKNOWN`, and never report a violation on a value they could not see.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)


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
