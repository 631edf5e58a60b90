"""The single-node batching runner: once its pipe is connected, batches are written from the loop callback."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from reservation.gate.redis_client import create_redis
from reservation.gate.redis_pipe import Endpoint
from reservation.gate.scripts import BatchingRunner, LuaScript
from reservation.shared.settings import Settings


def test_connected_pipe_batches_and_noscript_fallback(redis_url: str) -> None:
    echo = LuaScript("echo-batching", "return {KEYS[1], ARGV[1]}")

    async def run() -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        runner = BatchingRunner(client)
        try:
            assert await runner.run(echo, ["k0"], ["0"]) == ["k0", "0"]  # connects (NOSCRIPT, loaded)
            await client.script_flush()  # the connected pipe now meets NOSCRIPT: retried through the client
            replies = await asyncio.gather(*(runner.run(echo, [f"k{i}"], [str(i)]) for i in range(1, 50)))
            assert replies == [[f"k{i}", str(i)] for i in range(1, 50)]
            pending = [runner.run(echo, ["k"], [str(i)]) for i in range(3)]
            await asyncio.sleep(0)  # the flush runs
            assert not runner._inflight, "a connected pipe needs no task per batch"
            assert await asyncio.gather(*pending) == [["k", str(i)] for i in range(3)]
        finally:
            runner.close()
            await client.aclose()

    asyncio.run(run())


def test_a_call_redis_cannot_encode_fails_alone(redis_url: str) -> None:
    """Text that is not valid UTF-8 fails its own call, not the callers sharing its pipeline."""
    echo = LuaScript("echo-encode", "return ARGV[1]")

    async def run() -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        runner = BatchingRunner(client)
        try:
            assert await runner.run(echo, ["k"], ["first"]) == "first"  # the pipe is connected
            for _ in range(2):  # written from the loop callback once connected, and through a task before
                calls = [runner.run(echo, ["k"], [arg]) for arg in ("a", "\udc80", "b")]
                good, bad, other = await asyncio.gather(*calls, return_exceptions=True)
                assert (good, other) == ("a", "b")
                assert isinstance(bad, UnicodeEncodeError)
                runner.close()
                runner = BatchingRunner(client)
        finally:
            runner.close()
            await client.aclose()

    asyncio.run(run())


def test_reply_timeout_fails_the_batch_and_reconnects(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = LuaScript("slow-batching", "local n = 0 for i = 1, 200000000 do n = n + i end return 1")
    echo = LuaScript("echo-batching", "return ARGV[1]")
    monkeypatch.setattr("reservation.gate.scripts.READ_TIMEOUT", 0.2)

    async def run() -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        runner = BatchingRunner(client)
        try:
            assert await runner.run(echo, ["k"], ["x"]) == "x"
            await client.script_load(slow.source)  # so the pipe, not the NOSCRIPT fallback, runs it
            with pytest.raises(RedisConnectionError, match="no reply from Redis"):
                await runner.run(slow, ["k"], [])
            await client.ping()  # answered once the busy script ends
            assert await runner.run(echo, ["k"], ["y"]) == "y"  # a new connection
        finally:
            runner.close()
            await client.aclose()

    asyncio.run(run())


def test_the_pipe_uses_the_clients_address_database_password_and_tls(settings: Settings) -> None:
    tls = replace(settings, redis_url="rediss://cache.example:6380/2", redis_password="s3cret")
    plain = replace(settings, redis_url="redis://10.0.0.5:6379", redis_password=None)
    assert [Endpoint.of(create_redis(s)) for s in (tls, plain)] == [
        Endpoint("cache.example", 6380, 2, None, "s3cret", True),
        Endpoint("10.0.0.5", 6379, 0, None, None, False),
    ]
