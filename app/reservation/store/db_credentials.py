"""PostgreSQL credentials read from the RDS-managed Secrets Manager secret when a connection opens.

RDS rotates that secret's password (every 7 days by default, and it cannot be turned off), so a
password read once at start-up breaks every new connection after the next rotation. Instead every
connection asks a provider that caches the secret briefly and reads it again as soon as PostgreSQL
refuses the cached password.

asyncpg accepts a callable `password`, but the user comes from the same secret and the callable never
learns that authentication failed; so the provider replaces asyncpg's `connect` (create_pool's
`connect=` argument, or called directly by migrate).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import boto3

from ..shared.settings import Settings
from .db_iam import IamTokenLogin

log = logging.getLogger(__name__)

# asyncpg.connect's signature: create_pool calls it with the DSN and loop/connection_class/... keywords.
Connect = Callable[..., Awaitable[asyncpg.Connection]]

# Short enough that a rotation done by someone else is picked up within minutes even without an
# authentication failure; long enough that a pool growing under load does not hammer Secrets Manager.
DEFAULT_TTL_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class DbCredentials:
    username: str
    password: str


class SecretCredentials:
    """The `username`/`password` JSON of one secret, cached for `ttl` seconds."""

    def __init__(
        self,
        secret_arn: str,
        *,
        client: Any = None,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        connect: Connect = asyncpg.connect,
    ) -> None:
        self._arn = secret_arn
        # arn:aws:secretsmanager:<region>:<account>:secret:<name>: the secret's own region, no config.
        self._client = client or boto3.client("secretsmanager", region_name=secret_arn.split(":")[3])
        self._ttl = ttl
        self._clock = clock
        self._connect = connect
        self._cached: DbCredentials | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()  # a pool opening many connections at once fetches the secret once

    async def credentials(self) -> DbCredentials:
        async with self._lock:
            if self._cached is None or self._clock() - self._fetched_at >= self._ttl:
                self._cached = await asyncio.to_thread(self._fetch)  # boto3 blocks
                self._fetched_at = self._clock()
            return self._cached

    def _fetch(self) -> DbCredentials:
        value = json.loads(self._client.get_secret_value(SecretId=self._arn)["SecretString"])
        return DbCredentials(username=value["username"], password=value["password"])

    def _forget(self, refused: DbCredentials) -> None:
        if self._cached == refused:  # not yet replaced by a concurrent connection's fresh read
            self._cached = None

    async def connect(self, dsn: str | None = None, **kwargs: Any) -> asyncpg.Connection:
        """asyncpg.connect with the secret's user and password; on a refused password, read the secret
        again and, if it changed (a rotation), retry once with the new one."""
        current = await self.credentials()
        try:
            return await self._connect(dsn, user=current.username, password=current.password, **kwargs)
        except asyncpg.InvalidPasswordError:
            self._forget(current)
            fresh = await self.credentials()
            if fresh == current:
                raise  # the secret itself is wrong: nothing newer to try
            log.info("database password rotated; reconnecting with the new one from %s", self._arn)
            try:
                return await self._connect(dsn, user=fresh.username, password=fresh.password, **kwargs)
            except asyncpg.InvalidPasswordError:
                self._forget(fresh)
                raise


def database_connect(settings: Settings) -> Connect:
    """How `settings.command` opens PostgreSQL connections: through the secret when DB_LOGIN_ARN is set,
    with an IAM token per connection when DB_IAM_AUTH is, else with the URL's own credentials."""
    if settings.db_iam_auth:
        return IamTokenLogin(settings).connect
    if settings.db_secret_arn is None:
        return asyncpg.connect
    return SecretCredentials(settings.db_secret_arn).connect
