"""Batched Lua calls in Redis Cluster mode, and the choice of script runner for a client.

The single-node BatchingRunner writes each tick's calls down one pooled connection. A cluster has one
pool per node, so this runner splits the tick's calls by the node that owns each sale's slot (every key
of a sale shares the hash tag {sale-<id>}, so a call has exactly one slot) and pipelines each group on
a connection of that node. A reply that says the slot moved (resharding, failover) or that the node
lacks the script is retried through the cluster client, which follows the redirect and refreshes its
slot table.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from hiredis import pack_command
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import AskError, MovedError, NoScriptError, ResponseError, TryAgainError

from .scripts import BatchingRunner, DirectRunner, LuaScript, ScriptRunner

_Call = tuple[LuaScript, Sequence[str], list[Any], asyncio.Future[Any]]
_RETRY_THROUGH_CLIENT = (MovedError, AskError, TryAgainError, NoScriptError)


class ClusterBatchingRunner(BatchingRunner):
    def __init__(self, client: RedisCluster) -> None:
        super().__init__(client)  # type: ignore[arg-type]  # only the queue is shared; sends are ours
        self._cluster = client

    def _write_now(self, batch: list[_Call]) -> bool:
        return False  # calls go out by node, split in _execute

    async def _execute(self, batch: list[_Call]) -> None:
        by_node: dict[str, list[_Call]] = defaultdict(list)
        nodes: dict[str, ClusterNode] = {}
        try:
            await self._cluster.initialize()  # loads the slot table on first use; a no-op afterwards
            for call in batch:
                node = self._cluster.get_node_from_key(call[1][0])
                nodes[node.name] = node
                by_node[node.name].append(call)
        except Exception as exc:  # cluster unreachable or slots uncovered: every caller sees it
            _fail(batch, exc)
            return
        await asyncio.gather(*(self._send(nodes[name], calls) for name, calls in by_node.items()))

    async def _send(self, node: ClusterNode, calls: list[_Call]) -> None:
        try:
            conn = node.acquire_connection()  # raises when the node's pool is exhausted
        except Exception as exc:
            _fail(calls, exc)
            return
        try:
            payload = b"".join(pack_command(("EVALSHA", s.sha, len(k), *k, *a)) for s, k, a, _ in calls)
            await conn.send_packed_command(payload, check_health=False)
            replies: list[Any] = []
            for _ in calls:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:  # an error reply for this call; the stream stays in step
                    replies.append(exc)
        except Exception as exc:  # connection-level failure: every caller of this node sees it
            await conn.disconnect()
            _fail(calls, exc)
            return
        finally:
            node.release(conn)
        for (script, keys, args, fut), reply in zip(calls, replies, strict=True):
            if fut.done():
                continue
            if isinstance(reply, _RETRY_THROUGH_CLIENT):
                try:
                    fut.set_result(await self._direct.run(script, keys, args))
                except Exception as exc:
                    fut.set_exception(exc)
            elif isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)


def _fail(calls: list[_Call], exc: Exception) -> None:
    for *_, fut in calls:
        if not fut.done():
            fut.set_exception(exc)


def script_runner(client: redis.Redis | RedisCluster, batching: bool) -> ScriptRunner:
    if not batching:
        return DirectRunner(client)  # type: ignore[arg-type]  # evalsha/script_load exist on both clients
    if isinstance(client, RedisCluster):
        return ClusterBatchingRunner(client)
    return BatchingRunner(client)
