"""Rotating the Redis AUTH token in two runs: `cache.authTokenGeneration` + 1 makes a new token that
ElastiCache accepts beside the old one (ROTATE) while the tasks roll onto it; `cache.authTokenFinalizedGeneration`
set to the same number then drops the old token (SET)."""

from __future__ import annotations

import pytest
from botocore.session import get_session

from components.cache import auth_token_update_strategy
from stackconfig import StackConfig
from tests.infra.compute import containers, services_in
from tests.infra.test_config import one_problem
from tests.infra.test_data import CACHE, PASSWORD, REDIS, only
from tooling.mock_runtime import ProgramRun, run_program

# The strategies ModifyReplicationGroup accepts, as botocore's ElastiCache model ships them.
STRATEGIES = set(get_session().get_service_model("elasticache").shape_for("AuthTokenUpdateStrategyType").enum)


def test_the_strategy_follows_the_two_step_rotation() -> None:
    assert auth_token_update_strategy(0, 0) is None  # never rotated: SET without a ROTATE before it is refused
    for generation in (1, 2, 7):
        assert auth_token_update_strategy(generation, generation - 1) == "ROTATE"
        assert auth_token_update_strategy(generation, generation) == "SET"
    assert {auth_token_update_strategy(1, 0), auth_token_update_strategy(1, 1)} <= STRATEGIES


@pytest.mark.parametrize(("generation", "finalized"), [(2, 0), (1, 2), (0, 1)])
def test_a_finalized_generation_out_of_step_is_refused(generation: int, finalized: int) -> None:
    problem = one_problem(cache__authTokenGeneration=generation, cache__authTokenFinalizedGeneration=finalized)
    assert problem.startswith("flashsale:cache.authTokenFinalizedGeneration = ") and "finish one rotation" in problem


def _token_state(run: ProgramRun, cfg: StackConfig) -> tuple[dict | None, str | None, str, set[str]]:
    token = only(run, CACHE, PASSWORD).inputs
    group = only(run, CACHE, REDIS).inputs
    refs = {
        s["valueFrom"]
        for svc in services_in(cfg)
        for c in containers(run, svc).values()
        for s in c.get("secrets", [])
        if s["name"] == "REDIS_PASSWORD"
    }
    assert len(refs) == 1, "every serving task reads the same token version"
    return token.get("keepers"), group.get("authTokenUpdateStrategy"), group["authToken"]["value"], refs


def test_rotate_then_drop_the_old_token(stack: str, run: ProgramRun, cfg: StackConfig) -> None:
    keepers, strategy, _, refs = _token_state(run, cfg)
    assert (keepers, strategy) == (None, None), "the stack's existing token is kept as generation 0"

    rotating = run_program(stack, {"flashsale:cache.authTokenGeneration": 1})
    keepers, strategy, _, rotating_refs = _token_state(rotating, cfg)
    assert keepers == {"generation": "1"} and strategy == "ROTATE"
    assert rotating_refs != refs, "the new token must reach the tasks as a new secret version (a new deployment)"

    finalized = run_program(
        stack, {"flashsale:cache.authTokenGeneration": 1, "flashsale:cache.authTokenFinalizedGeneration": 1}
    )
    keepers, strategy, _, finalized_refs = _token_state(finalized, cfg)
    assert keepers == {"generation": "1"} and strategy == "SET"
    assert finalized_refs == rotating_refs, "dropping the old token changes nothing the tasks read"
