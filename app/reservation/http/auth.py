"""Bearer JWT (HS256). The user id is the token's `sub`; admins carry role "admin".

Signing keys rotate without logging anyone out: with a keyset (JWT_KEYS) a token's `kid` header names
the key that verifies it, the current or the previous one. A token without `kid` is verified with the
current key (tokens issued before kids were introduced); a `kid` outside the keyset is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from ..domain.errors import ApiError
from ..shared.settings import Settings

_CACHE_MAX = 50_000
# The user id is stored in Redis and PostgreSQL and sent in events: printable text (so valid UTF-8) of a
# size an identity provider's subject has (Cognito: a UUID; Auth0: "provider|id").
MAX_SUBJECT = 255
_MAX_EXP = 253_402_300_799  # 9999-12-31T23:59:59Z: a later expiry is no time a clock or datetime reaches


def _subject(claims: dict[str, object]) -> str:
    sub = claims["sub"]  # PyJWT refuses a sub that is not a string; the rest is checked here
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT or not sub.isprintable():
        raise ApiError(401, "invalid_token", f"bearer token rejected: sub must be 1-{MAX_SUBJECT} printable characters")
    return sub


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    is_admin: bool
    expires_at: float


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._keys = settings.jwt_keys  # empty with a single JWT_SECRET: any kid is then ignored
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        # Verified tokens by their exact text: buyers repeat the same token, and HMAC plus JSON decoding
        # is a noticeable share of a reservation attempt. Expiry is re-checked on every hit.
        self._cache: dict[str, Principal] = {}

    def _key(self, token: str) -> str:
        if not self._keys:
            return self._secret
        try:
            kid = jwt.get_unverified_header(token).get("kid")  # PyJWT refuses a kid that is not a string
        except jwt.PyJWTError as exc:
            raise ApiError(401, "invalid_token", f"bearer token rejected: {exc}") from None
        if kid is None:
            return self._secret
        if kid not in self._keys:
            raise ApiError(401, "invalid_token", "bearer token rejected: unknown kid (signing key)")
        return self._keys[kid]

    def _verify(self, token: str) -> Principal:
        key = self._key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise ApiError(401, "invalid_token", f"bearer token rejected: {exc}") from None
        except (ValueError, OverflowError, TypeError):  # odd claims PyJWT does not map, e.g. "exp": Infinity
            raise ApiError(401, "invalid_token", "bearer token rejected: malformed claims") from None
        roles = claims.get("roles") or []
        is_admin = claims.get("role") == "admin" or (isinstance(roles, list) and "admin" in roles)
        expires = int(claims["exp"])  # PyJWT checked it converts, and is in the future
        if expires > _MAX_EXP:
            raise ApiError(401, "invalid_token", "bearer token rejected: exp is beyond year 9999")
        return Principal(_subject(claims), is_admin, float(expires))

    def principal(self, request: Request) -> Principal:
        return self.bearer(request.headers.get("authorization", ""))

    def bearer(self, header: str) -> Principal:
        """The principal of an Authorization header's value (the hot path reads it from the ASGI scope)."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "missing_token", "send Authorization: Bearer <JWT>", {"WWW-Authenticate": "Bearer"})
        found = self._cache.get(token)
        if found is None or found.expires_at <= time.time():
            found = self._verify(token)
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[token] = found
        return found

    def admin(self, request: Request) -> Principal:
        p = self.principal(request)
        if not p.is_admin:
            raise ApiError(403, "forbidden", "this operation needs the admin role")
        return p
