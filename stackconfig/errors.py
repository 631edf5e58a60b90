"""One line per problem: `flashsale:<full.key> = <value>: <what is allowed>`, from pydantic's errors or a rule."""

from __future__ import annotations

import json
from collections.abc import Iterable
from difflib import get_close_matches
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from stackconfig.keys import NAMESPACE


class ConfigError(Exception):
    """Every problem of a stack's configuration, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def fail(key: str, value: Any, allowed: str) -> str:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return f"{NAMESPACE}:{key} = {shown}: {allowed}"


def unknown_key(key: str, value: Any, declared: Iterable[str]) -> str:
    hint = get_close_matches(key, sorted(declared), n=1)
    return fail(key, value, "unknown key" + (f" (did you mean {NAMESPACE}:{hint[0]}?)" if hint else ""))


def full_key(prefix: str, loc: tuple[int | str, ...]) -> str:
    key = prefix
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model nested at `loc` (a field's location) reads, e.g. TopicConfig's for topics[0].x."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next(f for n, f in model.model_fields.items() if part in (n, f.alias))
        inner = [a for a in (field.annotation, *get_args(field.annotation)) if isinstance(a, type)]
        model = next(a for a in inner if issubclass(a, BaseModel))
    return [f.alias or n for n, f in model.model_fields.items()]


def describe(err: ValidationError, prefix: str, model: type[BaseModel], declared: Iterable[str]) -> list[str]:
    """pydantic's errors of the value at `prefix` (read by `model`), each as one line naming the full key."""
    found = []
    for e in err.errors():
        key, ctx = full_key(prefix, e["loc"]), e.get("ctx") or {}
        if e["type"] == "extra_forbidden" and not any(isinstance(p, int) for p in e["loc"]):
            found.append(unknown_key(key, e["input"], declared))
        elif e["type"] == "extra_forbidden":
            fields = _fields_at(model, e["loc"])
            hint = get_close_matches(str(e["loc"][-1]), fields, n=1)
            allowed = f" (did you mean {hint[0]}?)" if hint else f"; allowed fields: {', '.join(fields)}"
            found.append(fail(key, e["input"], "unknown field" + allowed))
        elif e["type"] == "missing":
            found.append(f"{NAMESPACE}:{key} is missing: it is required")
        elif e["type"] == "literal_error":
            options = ctx["expected"].replace("'", "").replace(" or ", ", ")
            found.append(fail(key, e["input"], f"must be one of {options}"))
        else:
            found.append(fail(key, ctx.get("shown", e["input"]), e["msg"]))
    return found
