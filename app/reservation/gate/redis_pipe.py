"""One long-lived, fully pipelined connection to a standalone Redis for the batched Lua calls.

Each event-loop tick's calls go out as one write; replies are parsed by hiredis as bytes arrive and
handed back in order. Compared with taking a redis-py pool connection per batch, nothing waits for a
free connection, no per-batch task or health check runs, and many batches can be in flight at once —
at a flash sale's request rates that per-batch overhead was most of a refused attempt's cost.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any

import hiredis
import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import AskError, ClusterDownError, MovedError, NoScriptError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError

CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def of(cls, client: redis.Redis) -> Endpoint:
        """The endpoint of a client made by redis_client.create_redis (same URL, password and TLS)."""
        pool = client.connection_pool
        kw = pool.connection_kwargs
        tls = issubclass(pool.connection_class, redis.SSLConnection)
        return cls(kw["host"], kw["port"], kw.get("db", 0), kw.get("username"), kw.get("password"), tls)

    @classmethod
    def of_node(cls, node: ClusterNode) -> Endpoint:
        """One node of a cluster client made by create_redis: its address, the client's password and TLS."""
        kw = node.connection_kwargs
        tls = issubclass(node.connection_class, redis.SSLConnection)
        return cls(node.host, node.port, 0, kw.get("username"), kw.get("password"), tls)


# The error replies a caller acts on, as the classes redis-py raises for them; the rest are ResponseError.
_ERRORS: dict[str, type[ResponseError]] = {
    "NOSCRIPT": NoScriptError,
    "MOVED": MovedError,
    "ASK": AskError,
    "TRYAGAIN": TryAgainError,
    "CLUSTERDOWN": ClusterDownError,
}


def _error(reply: Exception) -> ResponseError:
    text = str(reply)
    code, _, rest = text.partition(" ")
    kind = _ERRORS.get(code)
    return kind(rest) if kind else ResponseError(text)


class _Batch:
    __slots__ = ("future", "remaining", "replies", "timer")

    def __init__(self, size: int, future: asyncio.Future[list[Any]]) -> None:
        self.remaining = size
        self.replies: list[Any] = []
        self.future = future
        self.timer: asyncio.TimerHandle | None = None


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader(encoding="utf-8", replyError=Exception)
        self.pending: deque[_Batch] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            head = self.pending[0]
            head.replies.append(_error(reply) if isinstance(reply, Exception) else reply)
            head.remaining -= 1
            if head.remaining == 0:
                self.pending.popleft()
                if head.timer is not None:
                    head.timer.cancel()
                if not head.future.done():
                    head.future.set_result(head.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        error = RedisConnectionError(f"Redis connection lost: {exc or 'closed by server'}")
        while self.pending:
            batch = self.pending.popleft()
            if batch.timer is not None:
                batch.timer.cancel()
            if not batch.future.done():
                batch.future.set_exception(error)


class RedisPipe:
    """send(payload, n) writes n packed commands and resolves to their n replies (errors as values)."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    async def _connect(self) -> _Protocol:
        ep = self._endpoint
        loop = asyncio.get_running_loop()
        tls = ssl.create_default_context() if ep.tls else None
        _, protocol = await asyncio.wait_for(
            loop.create_connection(_Protocol, ep.host, ep.port, ssl=tls, server_hostname=ep.host if tls else None),
            CONNECT_TIMEOUT,
        )
        setup: list[tuple[Any, ...]] = []
        if ep.password:
            setup.append(("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password))
        if ep.db:
            setup.append(("SELECT", ep.db))
        if setup:
            for reply in await self._exchange(protocol, b"".join(hiredis.pack_command(c) for c in setup), len(setup)):
                if isinstance(reply, Exception):
                    protocol.transport.close()
                    raise reply
        return protocol

    async def _exchange(self, protocol: _Protocol, payload: bytes, count: int) -> list[Any]:
        return await asyncio.shield(self._write(protocol, payload, count))

    def _write(self, protocol: _Protocol, payload: bytes, count: int) -> asyncio.Future[list[Any]]:
        loop = asyncio.get_running_loop()
        batch = _Batch(count, loop.create_future())
        protocol.pending.append(batch)
        assert protocol.transport is not None
        protocol.transport.write(payload)
        # A timer rather than asyncio.timeout: submit() has no coroutine to run one in.
        batch.timer = loop.call_later(self._timeout, self._expire, protocol, batch.future)
        return batch.future

    def _expire(self, protocol: _Protocol, future: asyncio.Future[list[Any]]) -> None:
        if not future.done():
            future.set_exception(RedisConnectionError(f"no reply from Redis within {self._timeout} s"))
        # Replies may still arrive for this batch; the stream can no longer be trusted.
        assert protocol.transport is not None
        protocol.transport.close()

    def submit(self, payload: bytes, count: int) -> asyncio.Future[list[Any]] | None:
        """Writes now and returns the replies' future when connected; None when send() must connect first."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            return None
        return self._write(protocol, payload, count)

    async def send(self, payload: bytes, count: int) -> list[Any]:
        protocol = self._protocol
        if protocol is None or protocol.closed:
            async with self._connecting:
                if self._protocol is None or self._protocol.closed:
                    self._protocol = await self._connect()
                protocol = self._protocol
        return await self._exchange(protocol, payload, count)

    def close(self) -> None:
        if self._protocol and self._protocol.transport:
            self._protocol.transport.close()
