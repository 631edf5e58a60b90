"""Signing-key rotation: with a keyset (JWT_KEYS) the token's `kid` picks the key, so tokens signed with
the previous key keep working while new ones use the current key; an unknown kid is a 401."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid

import pytest
from reservation.http.auth import Authenticator
from reservation.shared.settings import Command, Settings, SettingsError, load_settings

from .conftest import JWT_SECRET, Harness

PREVIOUS, CURRENT = "g0", "g1"
# The harness's admin token carries no kid and is signed with JWT_SECRET: that is the current key here.
NEW_SECRET, OLD_SECRET = JWT_SECRET, "previous-secret-previous-secret-0123456789"
KEYSET = json.dumps({"current": CURRENT, "keys": {CURRENT: NEW_SECRET, PREVIOUS: OLD_SECRET}})


@pytest.fixture(scope="module")
def settings(migrated: str, redis_url: str) -> Settings:
    """The app under test holds the keyset the program writes after one rotation."""
    env = {"DATABASE_URL": migrated, "REDIS_URL": redis_url, "JWT_KEYS": KEYSET}
    return load_settings(env, command=Command.SERVE)


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _bearer(sub: str, key: str, kid: object) -> dict[str, str]:
    """An HS256 token with this `kid` header (None: no kid); built by hand, as PyJWT encodes only string kids."""
    header = {"alg": "HS256", "typ": "JWT"} | ({} if kid is None else {"kid": kid})
    claims = {"sub": sub, "exp": int(time.time()) + 3600}
    head = _b64(json.dumps(header).encode()) + b"." + _b64(json.dumps(claims).encode())
    token = (head + b"." + _b64(hmac.new(key.encode(), head, hashlib.sha256).digest())).decode()
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}


ACCEPTED = {
    "previous key by its kid": (OLD_SECRET, PREVIOUS),
    "current key by its kid": (NEW_SECRET, CURRENT),
    "current key without kid": (NEW_SECRET, None),
}
REFUSED = {
    "unknown kid": (NEW_SECRET, "g7"),
    "kid naming another key than the signer's": (OLD_SECRET, CURRENT),
    "previous key without kid": (OLD_SECRET, None),
    "kid not a string": (NEW_SECRET, 1),
}


@pytest.mark.parametrize(("key", "kid"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_tokens_of_both_valid_keys_reserve_and_read(with_app, key: str, kid: str | None) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=5, per_user_limit=1))["id"]
        headers = _bearer("rotating-buyer", key, kid)
        reserved = await h.client.post(f"/sales/{sale}/reservations", json={"quantity": 1}, headers=headers)
        assert reserved.status_code == 201, reserved.text
        assert (await h.client.get(f"/sales/{sale}/availability", headers=headers)).status_code == 200

    with_app(body)


@pytest.mark.parametrize(("key", "kid"), REFUSED.values(), ids=REFUSED.keys())
def test_a_token_no_valid_key_verifies_is_a_401_in_the_api_error_shape(with_app, key: str, kid) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=5, per_user_limit=1))["id"]
        headers = _bearer("rotating-buyer", key, kid)
        for answer in (
            await h.client.post(f"/sales/{sale}/reservations", json={"quantity": 1}, headers=headers),
            await h.client.get(f"/sales/{sale}/availability", headers=headers),
        ):
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"] == "invalid_token" and answer.json()["detail"], answer.text

    with_app(body)


def test_verified_tokens_stay_cached_per_key(settings: Settings) -> None:
    auth = Authenticator(settings)
    old, new = (_bearer("u", k, kid)["Authorization"] for k, kid in ((OLD_SECRET, PREVIOUS), (NEW_SECRET, CURRENT)))
    assert auth.bearer(old) is auth.bearer(old) and auth.bearer(new) is auth.bearer(new)


def test_with_a_single_key_a_kid_is_ignored(settings: Settings) -> None:
    single = dataclasses.replace(settings, jwt_secret=JWT_SECRET, jwt_key_id=None, jwt_keys={})
    assert Authenticator(single).bearer(_bearer("u", JWT_SECRET, "anything")["Authorization"]).user_id == "u"


SETTINGS_BASE = {"DATABASE_URL": "postgresql://u@db:5432/app", "REDIS_URL": "redis://cache:6379/0"}
BAD_KEYSETS = {
    "not JSON": ("{", "not valid JSON"),
    "no keys": ('{"current": "a", "keys": {}}', '"current": "<kid>"'),
    "current missing": (json.dumps({"current": "b", "keys": {"a": "k" * 32}}), "current kid 'b' is not among"),
    "a short key": (json.dumps({"current": "a", "keys": {"a": "k" * 32, "b": "short"}}), "['b'] are shorter than 32"),
    "a kid twice": ('{"current": "a", "keys": {"a": "' + "k" * 32 + '", "a": "' + "j" * 32 + '"}}', "a appears more"),
    "empty kid": (json.dumps({"current": "a", "keys": {"a": "k" * 32, "": "j" * 32}}), "kid must be non-empty"),
}


@pytest.mark.parametrize(("keyset", "says"), BAD_KEYSETS.values(), ids=BAD_KEYSETS.keys())
def test_a_bad_keyset_is_refused_naming_what_is_wrong(keyset: str, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(SETTINGS_BASE | {"JWT_KEYS": keyset}, command=Command.SERVE)
    (problem,) = raised.value.problems
    assert problem.startswith("JWT_KEYS: ") and says in problem, problem


def test_a_keyset_and_a_single_secret_together_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"either JWT_SECRET .* or JWT_KEYS"):
        load_settings(SETTINGS_BASE | {"JWT_KEYS": KEYSET, "JWT_SECRET": OLD_SECRET}, command=Command.SERVE)


def test_a_keyset_gives_the_current_key_and_every_key_by_kid() -> None:
    loaded = load_settings(SETTINGS_BASE | {"JWT_KEYS": KEYSET}, command=Command.SERVE)
    assert (loaded.jwt_secret, loaded.jwt_key_id) == (NEW_SECRET, CURRENT)
    assert loaded.jwt_keys == {CURRENT: NEW_SECRET, PREVIOUS: OLD_SECRET}
