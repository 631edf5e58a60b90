"""Odd claims in a correctly signed token are a 401 for that request alone, never a 500, and never the
failure of a Redis pipeline shared with other buyers' attempts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid

import pytest

from .conftest import JWT_SECRET, Harness, bearer


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def _signed(claims_json: str) -> str:
    """An HS256 token over exactly this payload text (PyJWT cannot encode a lone surrogate or Infinity)."""
    head = _b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + _b64(claims_json.encode("utf-8", "surrogatepass"))
    return (head + b"." + _b64(hmac.new(JWT_SECRET.encode(), head, hashlib.sha256).digest())).decode()


EXP = int(time.time()) + 3600
HOSTILE = {
    "sub not UTF-8": f'{{"sub": "\\udc80", "exp": {EXP}}}',
    "sub with a control character": f'{{"sub": "alice\\u0000", "exp": {EXP}}}',
    "sub empty": f'{{"sub": "", "exp": {EXP}}}',
    "sub huge": f'{{"sub": "{"x" * 100_000}", "exp": {EXP}}}',
    "sub not a string": f'{{"sub": {{"id": 1}}, "exp": {EXP}}}',
    "exp beyond a float": f'{{"sub": "alice", "exp": 1{"0" * 400}}}',
    "exp infinite": '{"sub": "alice", "exp": Infinity}',
}


@pytest.mark.parametrize("claims", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_token_among_good_ones_is_a_401_and_the_good_ones_succeed(with_app, claims: str) -> None:
    async def body(h: Harness) -> None:
        sale = (await h.create_sale(total_stock=50, per_user_limit=1))["id"]
        hostile = {"Authorization": f"Bearer {_signed(claims)}", "Idempotency-Key": uuid.uuid4().hex}
        attempts = [h.reserve(sale, f"buyer-{n}") for n in range(10)]
        attempts.insert(5, h.client.post(f"/sales/{sale}/reservations", json={"quantity": 1}, headers=hostile))
        answers = await asyncio.gather(*attempts)  # one event-loop tick: one Redis pipeline
        refused = answers.pop(5)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token", refused.text
        assert [r.status_code for r in answers] == [201] * 10
        read = await h.client.get(f"/sales/{sale}/availability", headers=hostile)
        assert read.status_code == 401 and read.json()["error"] == "invalid_token", read.text
        assert (await h.client.get(f"/sales/{sale}/availability", headers=bearer("buyer-1"))).status_code == 200

    with_app(body)
