"""Rotating the JWT signing key with `jwt.keyGeneration`: each step regenerates only the older key slot,
the secret holds the current and the previous key by kid, and the services roll onto the new version."""

from __future__ import annotations

import json

from components.jwt_key import keyset, slot_keepers
from stackconfig import StackConfig
from tests.infra.compute import child, containers, services_in
from tests.infra.test_data import is_secret
from tooling.mock_runtime import ProgramRun, run_program

PASSWORD = "random:index/randomPassword:RandomPassword"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def _keepers(generation: int) -> list[dict[str, str] | None]:
    return [slot_keepers(generation, slot) for slot in (0, 1)]


def test_each_rotation_regenerates_only_the_older_slot_and_keeps_the_key_before_it() -> None:
    for generation in range(1, 6):
        before, after = _keepers(generation - 1), _keepers(generation)
        changed = [slot for slot in (0, 1) if before[slot] != after[slot]]
        # The slot that changes is the one the new current key (of this generation's parity) lives in.
        assert changed == [generation % 2], (generation, before, after)


def test_generation_zero_adopts_the_key_made_before_rotation_existed() -> None:
    assert slot_keepers(0, 0) is None  # the original key had no keepers: adding none replaces nothing


def test_the_keyset_names_the_current_key_and_keeps_the_previous_one() -> None:
    assert json.loads(keyset(0, ("a" * 64, "b" * 64))) == {"current": "g0", "keys": {"g0": "a" * 64}}
    assert json.loads(keyset(1, ("a" * 64, "b" * 64))) == {"current": "g1", "keys": {"g1": "b" * 64, "g0": "a" * 64}}
    assert json.loads(keyset(2, ("c" * 64, "b" * 64))) == {"current": "g2", "keys": {"g2": "c" * 64, "g1": "b" * 64}}


def _jwt(run: ProgramRun, cfg: StackConfig) -> tuple[list[dict | None], dict, dict[str, str]]:
    parent = run.one("flashsale:service:JwtSigningKey")
    keepers = [child(run, parent, PASSWORD, slot).inputs.get("keepers") for slot in ("value", "value-1")]
    value = child(run, parent, VERSION, "version").inputs["secretString"]
    assert is_secret(value), "the keyset must stay a Pulumi secret in state"
    refs = {
        c["name"]: s["valueFrom"]
        for svc in services_in(cfg)
        for c in containers(run, svc).values()
        for s in c.get("secrets", [])
        if s["name"] == "JWT_KEYS"
    }
    return keepers, json.loads(value["value"]), refs


def test_raising_the_generation_rotates_the_key_and_rolls_the_serving_tasks(
    stack: str, run: ProgramRun, cfg: StackConfig
) -> None:
    keepers, value, refs = _jwt(run, cfg)
    assert cfg.jwt_key_generation == 0 and value["current"] == "g0" and set(value["keys"]) == {"g0"}
    assert keepers[0] is None
    rotated = run_program(stack, {"flashsale:jwt.keyGeneration": 1})
    new_keepers, new_value, new_refs = _jwt(rotated, cfg)
    assert new_keepers == [None, {"generation": "1"}], "only the second slot is regenerated"
    assert new_value["current"] == "g1" and set(new_value["keys"]) == {"g1", "g0"}
    assert new_value["keys"]["g0"] == value["keys"]["g0"] != new_value["keys"]["g1"], "the old key stays valid"
    assert refs and set(new_refs) == set(refs)
    assert all(new_refs[name] != refs[name] for name in refs), "a new keyset must reach the tasks as a new version"
