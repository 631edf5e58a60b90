"""PostgreSQL logins with an RDS IAM authentication token as the password (DB_IAM_AUTH=true).

In prod serve and relay reach PostgreSQL through RDS Proxy with IAM authentication: the client signs a
token with the task role's credentials (`rds-db:connect` on the proxy's user), the proxy checks it and logs
in to the database with the user's password from its own secret ("Connecting to a database using IAM
authentication", docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-connecting.html). A token is a
SigV4-presigned request, made locally without a network call, valid for 15 minutes and only for the host,
port and user it names (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html):
so every new connection signs a fresh one, for the host that connection goes to (the writer, or the
reader pool's DB_READ_HOST). IAM authentication needs TLS (settings enforce DB_SSLMODE).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import boto3

from ..shared.settings import Settings

DEFAULT_PORT = 5432


class IamTokenLogin:
    """asyncpg.connect (create_pool's `connect=`) with a new IAM token as each connection's password."""

    def __init__(self, settings: Settings, *, client: Any = None, connect: Any = asyncpg.connect) -> None:
        url = urlsplit(settings.database_url)
        self._user = unquote(url.username or "")
        self._host = url.hostname or ""
        self._port = url.port or DEFAULT_PORT
        self._region = settings.aws_region
        # botocore signs with the default credential chain: on ECS, the task role's.
        self._client = client or boto3.client("rds", region_name=settings.aws_region)
        self._connect = connect

    def token(self, host: str) -> str:
        return self._client.generate_db_auth_token(
            DBHostname=host, Port=self._port, DBUsername=self._user, Region=self._region
        )

    async def connect(self, dsn: str | None = None, **kwargs: Any) -> asyncpg.Connection:
        # The reader pool passes its host as a keyword over the DSN's (pg_pool.reader_options).
        host = kwargs.get("host") or self._host
        # Refreshing the task role's credentials may call the container credentials endpoint: not on the loop.
        password = await asyncio.to_thread(self.token, host)
        return await self._connect(dsn, password=password, **kwargs)
