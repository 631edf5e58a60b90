"""Run the real program once per stack file per session; every infra test queries that record."""

from __future__ import annotations

import json

import pytest

from stackconfig import StackConfig
from tooling.capacity import load_stack_config
from tooling.mock_runtime import ProgramRun, run_program
from tooling.stack_files import stack_names

STACKS = stack_names()
_RUNS: dict[str, ProgramRun] = {}


# The stack's configuration read as make plan, make capacity and make cost read it.
stack_config = load_stack_config


@pytest.fixture(scope="session", params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def run(stack: str) -> ProgramRun:
    if stack not in _RUNS:
        _RUNS[stack] = run_program(stack)
    result = _RUNS[stack]
    # Guard for every test that uses the record: a program that registered nothing fails them all.
    assert any(r.type == "flashsale:network:Network" for r in result.resources), "the program registered no Network"
    return result


@pytest.fixture(scope="session")
def cfg(stack: str) -> StackConfig:
    return stack_config(stack)


def policy_document(value: object) -> dict:
    """IAM documents arrive as JSON strings; parse them for assertions."""
    return json.loads(value) if isinstance(value, str) else value  # type: ignore[return-value]
