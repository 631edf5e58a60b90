"""The base of every configuration model and the value types the stack keys share.

The engine hands every value to the program as a string (structured values as JSON). The types below
turn those strings into Python values and refuse anything else, so `"yes"` is no boolean and `true` no
integer. Every error a check raises says what is allowed; stackconfig/errors.py adds the key and value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainValidator, Strict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from stackconfig.allowed import LOG_RETENTION_DAYS


class Model(BaseModel):
    """Frozen, camelCase keys (`azCount`), unknown keys refused; Python code may use the field names."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


def problem(allowed: str, *shown: Any) -> PydanticCustomError:
    """A check's failure; `allowed` is the whole message after `key = value: `. `shown` (one value) is the
    value the message names instead of the raw text: the number read from it, or a list's one bad entry."""
    return PydanticCustomError("stack_config", allowed, {"shown": shown[0]} if shown else None)


def _int(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise problem("must be an integer")


def _float(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise problem("must be a number") from None


def _bool(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool):
        return value
    raise problem("must be true or false")


def _decoded(value: Any) -> Any:
    # The engine hands structured values to the program as JSON strings.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def optional_int(low: int, high: int) -> PlainValidator:
    """An optional integer in [low, high]: absent or null means None."""

    def check(value: Any) -> int | None:
        if value is None:
            return None
        number = _int(value)
        if not low <= number <= high:
            raise problem(f"must be between {low} and {high}", number)
        return number

    return PlainValidator(check)


def _str_list(value: Any) -> Any:
    items = _decoded(value)
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise problem("must be a list of strings")
    return tuple(items)


def objects(value: Any) -> Any:
    """A list of objects (services, topics, sale windows) from its JSON text."""
    items = _decoded(value)
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, (dict, BaseModel)) for i in items):
        raise problem("must be a list of objects")
    return tuple(items)


def _string(value: Any) -> Any:
    if not isinstance(value, str):
        raise problem("must be a string")
    return value


Int = Annotated[int, BeforeValidator(_int), Strict()]
Float = Annotated[float, BeforeValidator(_float), Strict()]
Bool = Annotated[bool, BeforeValidator(_bool), Strict()]
Str = Annotated[str, BeforeValidator(_string), Strict()]
StrList = Annotated[tuple[str, ...], BeforeValidator(_str_list)]


def once_each(entries: tuple[str, ...]) -> tuple[str, ...]:
    """Resources made from these lists are named by the entry (a removal must not replace its neighbours)."""
    twice = sorted({e for e in entries if entries.count(e) > 1})
    if twice:
        raise problem("each entry once; listed more than once: " + ", ".join(twice), list(entries))
    return entries


def checked_list(entry: Callable[[str], str], whole: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None) -> Any:
    """A list of strings whose entries are checked one by one, so every bad entry is reported (under its index),
    then as a whole (`whole`: length, duplicates, totals)."""
    entries = Annotated[tuple[Annotated[str, AfterValidator(entry)], ...], BeforeValidator(_str_list)]
    return Annotated[entries, AfterValidator(whole)] if whole else entries


def matches(pattern: str, allowed: str) -> AfterValidator:
    """A string check: `pattern` must match, else the problem says `allowed`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise problem(allowed, value)
        return value

    return AfterValidator(check)


def blank_is_none(pattern: str = "", allowed: str = "") -> PlainValidator:
    """An optional string: empty (Pulumi.yaml's default) means None; anything else must match `pattern`."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise problem("must be a string")
        if not compiled.match(value):
            raise problem(allowed, value)
        return value

    return PlainValidator(check)


def _retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise problem(f"must be a CloudWatch Logs retention: {', '.join(map(str, LOG_RETENTION_DAYS))}", days)
    return days


LogRetention = Annotated[Int, AfterValidator(_retention)]
NAME_PATTERN = matches(r"^[a-z][a-z0-9-]{0,23}$", "must be lowercase letters, digits and '-', at most 24 characters")


def between(low: float | None = None, high: float | None = None) -> AfterValidator:
    """A range check whose problem names both bounds, as the stack files' readers need them."""
    if low is not None and high is not None:
        allowed = f"must be between {low} and {high}"
    else:
        allowed = f"must be >= {low}" if low is not None else f"must be <= {high}"

    def check(value: float) -> float:
        if (low is not None and value < low) or (high is not None and value > high):
            raise problem(allowed, value)
        return value

    return AfterValidator(check)
