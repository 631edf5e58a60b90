"""Only the API is on the internet (issue 16 item 2): per stack, the ALB's listener rules forward every
public route of the service and none of its internal ones, and the tasks' security group opens only the
API's port to the ALB, never serve's INTERNAL_PORT."""

from __future__ import annotations

import re
import uuid
from fnmatch import fnmatchcase

from reservation.http.api import Handlers
from reservation.http.hot_path import PATH as RESERVE_PATH
from reservation.http.internal import internal_routes
from reservation.shared.metrics import Metrics
from reservation.shared.settings import DEFAULT_INTERNAL_PORT

from stackconfig import StackConfig
from tests.infra.compute import INGRESS, LISTENER, LISTENER_RULE, arn_of
from tooling.mock_runtime import ProgramRun

# The internal server's routes, readiness detail included, and paths no route of the API has.
INTERNAL_PATHS = (*internal_routes(Metrics()), "/health/ready")
UNKNOWN_PATHS = ("/", "/internal", "/metrics/", "/Sales/1/availability", "/debug/pprof")
_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def _concrete(template: str) -> str:
    return _PARAM.sub(lambda m: str(uuid.uuid4()) if m.group(2) == "uuid" else "1", template)


def public_paths() -> list[str]:
    """One request path per public route of the service (api.py and the hot path)."""
    routes = Handlers(auth=None).routes()  # type: ignore[arg-type]  # building the list needs no auth
    return [_concrete(t) for t in (RESERVE_PATH, *(r.path for r in routes))]


def alb_matches(pattern: str, path: str) -> bool:
    """ALB path patterns: case-sensitive, `*` any characters (slashes too), `?` exactly one. Config allows
    no other special character, so fnmatch's `[...]` never applies."""
    return fnmatchcase(path, pattern)


def forwarded(run: ProgramRun, listener_arn: str, path: str) -> bool:
    for rule in run.of_type(LISTENER_RULE):
        if rule.inputs["listenerArn"] != listener_arn:
            continue
        assert rule.inputs["actions"][0]["type"] == "forward", rule.name
        for condition in rule.inputs["conditions"]:
            if any(alb_matches(p, path) for p in condition["pathPattern"]["values"]):
                return True
    return False  # the listener's default action: a fixed 404


def test_only_public_paths_reach_the_service(run: ProgramRun, cfg: StackConfig) -> None:
    listeners = [r for r in run.of_type(LISTENER) if r.inputs["defaultActions"][0]["type"] == "fixed-response"]
    assert {int(r.inputs["port"]) for r in listeners} == ({443, 8443} if cfg.alb.https else {80, 8080})
    for listener in listeners:
        arn = arn_of(listener)
        for path in public_paths():
            assert forwarded(run, arn, path), f"{path} is a public route the ALB does not forward"
        for path in (*INTERNAL_PATHS, *UNKNOWN_PATHS):
            assert not forwarded(run, arn, path), f"the ALB forwards {path} (port {listener.inputs['port']})"


def test_listener_rule_priorities_are_unique_per_listener(run: ProgramRun) -> None:
    seen: dict[tuple[str, int], str] = {}
    for rule in run.of_type(LISTENER_RULE):
        key = (rule.inputs["listenerArn"], int(rule.inputs["priority"]))
        assert key not in seen, f"{rule.name} and {seen[key]} share priority {key[1]}"
        seen[key] = rule.name


def test_the_alb_never_reaches_the_internal_port(run: ProgramRun, cfg: StackConfig) -> None:
    prefix = f"{run.one('flashsale:network:Network').name}-service-in-"
    into_tasks = {int(r.inputs["fromPort"]) for r in run.of_type(INGRESS) if r.name.startswith(prefix)}
    assert into_tasks == {s.port for s in cfg.web_services}
    assert DEFAULT_INTERNAL_PORT not in into_tasks
