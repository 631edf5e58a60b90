"""Running the Lua scripts: one awaited EVALSHA each, or coalesced into one pipeline per event-loop tick.

A Redis round trip costs more than the script itself, so under load the batched runner sends every
script call made during one loop iteration as a single pipeline (`reservation serve --redis-batching`).
It packs the pipeline with hiredis' C packer and writes it on one long-lived pipelined connection
(redis_pipe.py): redis-py's pipeline object and per-batch pool checkout cost more than the rest of
a refused attempt.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from hashlib import sha1
from importlib import resources
from typing import Any, Protocol

import redis.asyncio as redis
from hiredis import pack_command
from redis.exceptions import NoScriptError

from .redis_pipe import Endpoint, RedisPipe

MAX_BATCH = 512
READ_TIMEOUT = 5.0  # seconds for the replies of one batch


@dataclass(frozen=True, slots=True)
class LuaScript:
    name: str
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", sha1(self.source.encode()).hexdigest())

    @classmethod
    def bundled(cls, name: str) -> LuaScript:
        return cls(name, (resources.files("reservation.gate") / "lua" / f"{name}.lua").read_text())


class ScriptRunner(Protocol):
    async def run(self, script: LuaScript, keys: Sequence[str], args: list[Any]) -> Any: ...


class DirectRunner:
    """One awaited EVALSHA per call."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    async def run(self, script: LuaScript, keys: Sequence[str], args: list[Any]) -> Any:
        try:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._client.script_load(script.source)
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)


QueuedCall = tuple[LuaScript, Sequence[str], list[Any], asyncio.Future[Any]]  # script, keys, args, caller's future


def _command(call: QueuedCall) -> bytes:
    script, keys, args, _ = call
    return pack_command(("EVALSHA", script.sha, len(keys), *keys, *args))


def _payload(batch: list[QueuedCall]) -> tuple[bytes, list[QueuedCall]]:
    """The batch's commands, and the calls they are for. A call that cannot be encoded (text that is not
    valid UTF-8) fails alone: the callers it shares the pipeline with must not see its error."""
    try:
        return b"".join(pack_command(("EVALSHA", s.sha, len(k), *k, *a)) for s, k, a, _ in batch), batch
    except Exception:
        packed, kept = [], []
        for call in batch:
            try:
                packed.append(_command(call))
            except Exception as exc:
                fail_calls([call], exc)
            else:
                kept.append(call)
        return b"".join(packed), kept


def fail_calls(batch: list[QueuedCall], exc: BaseException) -> None:
    for *_, fut in batch:
        if not fut.done():
            fut.set_exception(exc)


class BatchingRunner:
    """Queues calls and flushes them as one non-transactional pipeline on the next loop tick."""

    # Error replies that the client itself knows how to recover from: it loads a missing script.
    RETRY_THROUGH_CLIENT: tuple[type[Exception], ...] = (NoScriptError,)

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._direct = DirectRunner(client)
        self._queue: list[QueuedCall] = []
        self._scheduled = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._pipe: RedisPipe | None = None  # created on first use, inside the running loop

    def run(self, script: LuaScript, keys: Sequence[str], args: list[Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append((script, keys, args, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), MAX_BATCH):
            batch = queue[start : start + MAX_BATCH]
            if not self._write_now(batch):
                self._spawn(self._execute(batch))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._inflight.add(task)  # keep a reference until done
        task.add_done_callback(self._inflight.discard)

    def _write_now(self, batch: list[QueuedCall]) -> bool:
        """Writes the batch from this callback once the pipe is connected. Under paced load most batches
        hold a call or two, and a task per batch cost about as much CPU as the rest of a refused attempt."""
        return self._pipe is not None and self._submit(self._pipe, batch)

    async def _execute(self, batch: list[QueuedCall]) -> None:
        if self._pipe is None:
            self._pipe = RedisPipe(Endpoint.of(self._client), READ_TIMEOUT)
        await self._send(self._pipe, batch)

    def _submit(self, pipe: RedisPipe, batch: list[QueuedCall]) -> bool:
        """Writes on a connected pipe, replies handled in a callback; False when the pipe must connect first."""
        payload, batch = _payload(batch)
        if not batch:
            return True
        try:
            future = pipe.submit(payload, len(batch))
        except Exception as exc:
            self._lost(batch, exc)
            return True
        if future is None:
            return False
        future.add_done_callback(functools.partial(self._replied, batch))
        return True

    def _replied(self, batch: list[QueuedCall], future: asyncio.Future[list[Any]]) -> None:
        exc = future.exception()
        if exc is not None:
            self._lost(batch, exc)
            return
        retry = self._settle(batch, future.result())
        if retry:
            self._spawn(self._retry(retry))

    async def _send(self, pipe: RedisPipe, batch: list[QueuedCall]) -> None:
        """Connects the pipe if needed, then writes and waits for the replies."""
        payload, batch = _payload(batch)
        if not batch:
            return
        try:
            replies = await pipe.send(payload, len(batch))
        except Exception as exc:
            self._lost(batch, exc)
            return
        await self._retry(self._settle(batch, replies))

    def _lost(self, batch: list[QueuedCall], exc: BaseException) -> None:
        """A connection-level failure (or no reply in time): every caller of the batch sees it."""
        fail_calls(batch, exc)

    def _settle(self, batch: list[QueuedCall], replies: list[Any]) -> list[QueuedCall]:
        """Resolves the callers' futures; returns the calls to retry through the client."""
        retry = []
        for call, reply in zip(batch, replies, strict=True):
            fut = call[3]
            if fut.done():
                continue
            if isinstance(reply, self.RETRY_THROUGH_CLIENT):
                retry.append(call)
            elif isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)
        return retry

    async def _retry(self, calls: list[QueuedCall]) -> None:
        """One by one through the client, which loads the script (first use after a Redis restart) and, in
        a cluster, follows a redirect and refreshes its slot table."""
        for script, keys, args, fut in calls:
            try:
                result = await self._direct.run(script, keys, args)
            except Exception as exc:
                if not fut.done():
                    fut.set_exception(exc)
                continue
            if not fut.done():
                fut.set_result(result)

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
