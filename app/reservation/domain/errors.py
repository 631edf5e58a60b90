"""The failures the service tells apart, whatever reports them: a refusal (ApiError, with the status and code
the HTTP edge answers with) and a backing service being unavailable (DEPENDENCY_ERRORS). http/errors.py maps
them to responses."""

from __future__ import annotations

import asyncpg
from redis.exceptions import RedisClusterException, RedisError


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


# A database or Redis outage is the service being unavailable, not a bug: 503 so clients retry. The classes
# follow the libraries' own hierarchies (asyncpg/exceptions/__init__.py, by PostgreSQL's SQLSTATE classes of
# Appendix A; redis/exceptions.py), so every subclass, present or future, is covered.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    RedisError,  # everything redis-py raises: ConnectionError, TimeoutError, BusyLoadingError, ClusterDownError...
    RedisClusterException,  # SlotNotCoveredError and the cluster client's other failures (not RedisErrors)
    OSError,  # sockets, TLS, DNS; TimeoutError (asyncpg's command_timeout) is one
    asyncpg.InterfaceError,  # client side: the connection is closed, or another operation is in progress
    asyncpg.InternalClientError,  # the client's protocol state broken by a connection lost while idle
    asyncpg.PostgresConnectionError,  # class 08: connection exception
    asyncpg.OperatorInterventionError,  # class 57: admin/crash shutdown, cannot connect now, query canceled
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, out of memory, disk full
    asyncpg.PostgresSystemError,  # class 58: I/O error
    asyncpg.TransactionRollbackError,  # class 40: serialization failure, deadlock; a retry succeeds
    asyncpg.IdleInTransactionSessionTimeoutError,  # 25P03: the server ended the session
    asyncpg.ReadOnlySQLTransactionError,  # 25006: after a failover, a connection to the old writer refuses writes
)


def is_dependency_error(exc: BaseException) -> bool:
    return isinstance(exc, DEPENDENCY_ERRORS)
