"""How the service's PostgreSQL pools are made: connections that discard themselves once they failed, no
named prepared statements behind RDS Proxy (DB_PROXY), and an optional small pool on a reader endpoint.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..domain.errors import DEPENDENCY_ERRORS
from ..shared.settings import Settings

READER_APPLICATION_NAME = "reservation-reader"


class DiscardingConnection(asyncpg.Connection):
    """Terminates itself on a dependency error, so its pool opens a fresh connection instead of handing this
    one out again. asyncpg closes a connection whose socket died; this also covers the ones left open on
    a node that can no longer serve them: after an Aurora failover the old writer, now a reader, refuses
    every write (25006) to connections the pool would otherwise keep reusing, and a fresh connection
    resolves the writer endpoint to the new writer."""

    def _discard(self) -> None:
        if not self.is_closed():
            self.terminate()

    async def _execute(self, *args: Any, **kwargs: Any) -> Any:  # fetch, fetchrow, fetchval, execute with args
        try:
            return await super()._execute(*args, **kwargs)
        except DEPENDENCY_ERRORS:
            self._discard()
            raise

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # also BEGIN/COMMIT
        try:
            return await super().execute(query, *args, timeout=timeout)
        except DEPENDENCY_ERRORS:
            self._discard()
            raise


def connection_options(settings: Settings) -> dict[str, Any]:
    """create_pool/connect keywords every pool of every command uses."""
    options: dict[str, Any] = {"connection_class": DiscardingConnection}
    if settings.db_proxy:
        # RDS Proxy pins a client's session to one database connection once it prepares a named statement
        # ("Avoiding pinning", RDS User Guide, rds-proxy-pinning.html). With the cache off asyncpg prepares
        # every query as the unnamed statement, which the proxy multiplexes.
        options["statement_cache_size"] = 0
    return options


def reader_options(settings: Settings) -> dict[str, Any]:
    """Keywords for the reader pool: the writer's DSN with the reader's host (asyncpg lets keywords override
    the DSN), named in pg_stat_activity so its sessions are told apart."""
    return {
        **connection_options(settings),
        "host": settings.db_read_host,
        "server_settings": {"application_name": READER_APPLICATION_NAME},
    }
