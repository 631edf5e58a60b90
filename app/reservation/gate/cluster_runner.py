"""Batched Lua calls in Redis Cluster mode, and the choice of script runner for a client.

Every key of a sale shares the hash tag {sale-<id>}, so each call has exactly one slot and one node.
A tick's calls are split by node and written, as the single-node runner does, on one long-lived
pipelined connection per node (redis_pipe.py), straight from the flush callback once that connection
is up. A reply saying the slot moved (resharding, failover) or the node lacks the script is retried
through the cluster client, which follows the redirect and refreshes its slot table; a lost node
connection fails its callers and refreshes the slot table, so the next calls go where the slots are now.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import AskError, ClusterDownError, MovedError, NoScriptError, TryAgainError

from .redis_pipe import Endpoint, RedisPipe
from .scripts import READ_TIMEOUT, BatchingRunner, DirectRunner, QueuedCall, ScriptRunner, fail_calls

log = logging.getLogger(__name__)


class ClusterBatchingRunner(BatchingRunner):
    RETRY_THROUGH_CLIENT = (NoScriptError, MovedError, AskError, TryAgainError, ClusterDownError)

    def __init__(self, client: RedisCluster) -> None:
        super().__init__(client)  # type: ignore[arg-type]  # the queue and reply handling are shared
        self._cluster = client
        self._pipes: dict[str, RedisPipe] = {}  # by node name (host:port)
        self._slots_loaded = False
        self._refresh: asyncio.Task[None] | None = None

    def _write_now(self, batch: list[QueuedCall]) -> bool:
        if not self._slots_loaded:
            return False
        try:
            groups = self._by_node(batch)
        except Exception:  # slots not covered: _execute reloads the table or fails the callers
            return False
        for node, calls in groups:
            pipe = self._pipes.get(node.name)
            if pipe is None or not self._submit(pipe, calls):
                self._spawn(self._send(self._pipe_of(node), calls))
        return True

    async def _execute(self, batch: list[QueuedCall]) -> None:
        try:
            await self._cluster.initialize()  # loads the slot table on first use; a no-op afterwards
            groups = self._by_node(batch)
        except Exception as exc:  # cluster unreachable or slots uncovered: every caller sees it
            fail_calls(batch, exc)
            return
        self._slots_loaded = True
        await asyncio.gather(*(self._send(self._pipe_of(node), calls) for node, calls in groups))

    def _by_node(self, batch: list[QueuedCall]) -> list[tuple[ClusterNode, list[QueuedCall]]]:
        groups: dict[str, tuple[ClusterNode, list[QueuedCall]]] = {}
        for call in batch:
            node = self._cluster.get_node_from_key(call[1][0])
            groups.setdefault(node.name, (node, []))[1].append(call)
        return list(groups.values())

    def _pipe_of(self, node: ClusterNode) -> RedisPipe:
        pipe = self._pipes.get(node.name)
        if pipe is None:
            pipe = self._pipes[node.name] = RedisPipe(Endpoint.of_node(node), READ_TIMEOUT)
        return pipe

    def _lost(self, batch: list[QueuedCall], exc: BaseException) -> None:
        super()._lost(batch, exc)
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_slots())

    async def _refresh_slots(self) -> None:
        """A node that stopped answering may have failed over: ask the cluster where the slots are now."""
        try:
            await self._cluster.nodes_manager.initialize()
        except Exception:
            log.warning("refreshing the Redis Cluster slot table failed; the next lost call retries", exc_info=True)

    def close(self) -> None:
        for pipe in self._pipes.values():
            pipe.close()
        if self._refresh is not None:
            self._refresh.cancel()


def script_runner(client: redis.Redis | RedisCluster, batching: bool) -> ScriptRunner:
    if not batching:
        return DirectRunner(client)  # type: ignore[arg-type]  # evalsha/script_load exist on both clients
    if isinstance(client, RedisCluster):
        return ClusterBatchingRunner(client)
    return BatchingRunner(client)
