"""Cluster mode: the client factory, and every Lua call staying in the one slot of its sale's hash tag.

The guarantee tests themselves (no oversell, per-user limit, idempotency, invariant) run on both a
single Redis and the cluster: see REDIS_MODES in test_concurrency.py and test_api.py.
"""

from __future__ import annotations

import ast
import asyncio
import re
from dataclasses import astuple, replace
from importlib import resources

import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from reservation.domain.keys import attempt_keys, attempts_key, sale_keys
from reservation.gate.cluster_runner import ClusterBatchingRunner, script_runner
from reservation.gate.redis_client import create_redis
from reservation.gate.redis_pipe import Endpoint
from reservation.gate.scripts import LuaScript
from reservation.shared.settings import Settings

LUA = resources.files("reservation.gate") / "lua"
# How gate.py passes one sale's keys (all of them, from keys.py) to a script; reserve adds the buyer's bucket.
SALE_KEYS_EXPRESSIONS = {"script_keys(sale_id)", "sale_keys(sale_id).all()", "attempt_keys(sale_id, user)"}
REDIS_CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?")


def test_cluster_flag_selects_the_cluster_client(settings: Settings, redis_cluster_url: str):
    async def clients():
        cluster = create_redis(replace(settings, redis_url=redis_cluster_url, redis_cluster=True))
        single = create_redis(settings)
        try:
            assert isinstance(cluster, RedisCluster)
            assert not isinstance(single, RedisCluster)
            assert await cluster.ping() and await single.ping()
            assert len(cluster.get_primaries()) == 3
        finally:
            await cluster.aclose()
            await single.aclose()

    asyncio.run(clients())


def _all_keys(sale_id: int) -> tuple[str, ...]:
    return astuple(sale_keys(sale_id))


@pytest.mark.parametrize("sale_id", [1, 42, 10_000_000])
def test_all_keys_of_a_sale_share_its_hash_tag_and_slot(sale_id: int):
    # a buyer's attempt bucket too, whatever the user id holds (braces included: the first tag counts)
    keys = (*_all_keys(sale_id), *(attempts_key(sale_id, u) for u in ("alice", "{sale-7}", "}{", "é" * 255)))
    assert attempt_keys(sale_id, "alice") == (*_all_keys(sale_id), attempts_key(sale_id, "alice"))
    assert all(f"{{sale-{sale_id}}}" in k for k in keys)
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_sales_spread_over_slots():
    """Different sales should not pile onto one shard."""
    assert len({key_slot(sale_keys(i).stock.encode()) for i in range(1, 50)}) > 40


@pytest.mark.parametrize("script", sorted(p.name for p in LUA.iterdir() if p.name.endswith(".lua")))
def test_lua_scripts_touch_only_the_keys_they_are_given(script: str):
    """A key built inside a script would bypass the hash tag and break in cluster mode."""
    calls = REDIS_CALL.findall((LUA / script).read_text())
    assert calls, f"no redis.call found in {script}"
    for command, first_arg in calls:
        if command.upper() == "TIME":
            continue
        assert re.fullmatch(r"KEYS\[\w+\]", first_arg.strip()), f"{script}: {command} on {first_arg!r}"


def test_every_gate_script_call_passes_one_sales_keys():
    tree = ast.parse(resources.files("reservation.gate").joinpath("gate.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run"
    ]
    assert len(calls) >= 5
    for call in calls:
        assert ast.unparse(call.args[1]) in SALE_KEYS_EXPRESSIONS, ast.unparse(call)


def test_the_cluster_refuses_a_script_across_slots(redis_cluster_url: str):
    """What the hash tag prevents: the cluster rejects a script whose keys sit in different slots."""
    client = redis.RedisCluster.from_url(redis_cluster_url)
    try:
        with pytest.raises(redis.RedisClusterException, match=r"(?i)slot"):
            client.eval("return 1", 2, sale_keys(1).stock, sale_keys(2).stock)
        assert client.eval("return #KEYS", 8, *_all_keys(1)) == 8
    finally:
        client.close()


def test_cluster_batching_routes_each_call_to_its_sales_node(redis_cluster_url: str):
    """One tick's calls for many sales go out per node; NOSCRIPT falls back through the cluster client."""
    echo = LuaScript("echo", "return {KEYS[1], ARGV[1]}")

    async def run():
        client = RedisCluster.from_url(redis_cluster_url, decode_responses=True)
        try:
            await client.script_flush()  # first use of the script on every node: NOSCRIPT path
            runner = script_runner(client, batching=True)
            assert isinstance(runner, ClusterBatchingRunner)
            sales = range(1, 61)
            replies = await asyncio.gather(*(runner.run(echo, _all_keys(i), [str(i)]) for i in sales))
            nodes = {client.get_node_from_key(_all_keys(i)[0]).name for i in sales}
            return replies, nodes
        finally:
            await client.aclose()

    replies, nodes = asyncio.run(run())
    assert replies == [[_all_keys(i)[0], str(i)] for i in range(1, 61)]
    assert len(nodes) == 3, "the sales should have spread over all three nodes"


def test_a_call_sent_to_a_node_that_no_longer_owns_its_slot_is_redirected(redis_cluster_url: str):
    """A stale slot table (resharding, failover): the node answers MOVED and the cluster client retries."""
    echo = LuaScript("echo-moved", "return ARGV[1]")

    async def run():
        client = RedisCluster.from_url(redis_cluster_url, decode_responses=True)
        runner = script_runner(client, batching=True)
        try:
            assert await runner.run(echo, _all_keys(1), ["warm"]) == "warm"  # slot table loaded, pipes up
            owner = client.get_node_from_key(_all_keys(1)[0])
            stale = next(n for n in client.get_primaries() if n.name != owner.name)
            client.get_node_from_key = lambda key, replica=False: stale  # what the runner routes by
            retried: list[str] = []
            direct_run = runner._direct.run

            async def counting(script, keys, args):
                retried.append(keys[0])
                return await direct_run(script, keys, args)

            runner._direct.run = counting
            replies = await asyncio.gather(*(runner.run(echo, _all_keys(i), [str(i)]) for i in range(1, 31)))
            return replies, retried
        finally:
            runner.close()
            await client.aclose()

    replies, retried = asyncio.run(run())
    assert replies == [str(i) for i in range(1, 31)]
    assert retried, "no call met a MOVED reply: the test did not exercise the redirect"


def test_a_node_that_stops_answering_fails_its_calls_and_the_next_calls_reconnect(
    redis_cluster_url: str, monkeypatch: pytest.MonkeyPatch
):
    slow = LuaScript("slow-cluster", "local n = 0 for i = 1, 200000000 do n = n + i end return 1")
    echo = LuaScript("echo-cluster-reconnect", "return ARGV[1]")
    monkeypatch.setattr("reservation.gate.cluster_runner.READ_TIMEOUT", 0.2)

    async def run():
        client = RedisCluster.from_url(redis_cluster_url, decode_responses=True)
        runner = script_runner(client, batching=True)
        try:
            assert await runner.run(echo, _all_keys(1), ["x"]) == "x"
            await client.script_load(slow.source)  # so the pipe, not the NOSCRIPT fallback, runs it
            with pytest.raises(redis.ConnectionError, match="no reply from Redis"):
                await runner.run(slow, _all_keys(1), [])
            assert runner._refresh is not None, "a lost node connection should refresh the slot table"
            await runner._refresh
            await client.get_node_from_key(_all_keys(1)[0]).execute_command("PING")  # the busy script ended
            return await asyncio.gather(*(runner.run(echo, _all_keys(i), [str(i)]) for i in range(1, 31)))
        finally:
            runner.close()
            await client.aclose()

    assert asyncio.run(run()) == [str(i) for i in range(1, 31)]


def test_node_pipes_use_the_clients_password_and_tls(settings: Settings):
    """ElastiCache in cluster mode: TLS and an AUTH token, both of which each node's pipe must use."""
    tls = replace(settings, redis_url="rediss://cache.example:6380", redis_password="s3cret", redis_cluster=True)
    plain = replace(settings, redis_url="redis://10.0.0.5:6379", redis_password=None, redis_cluster=True)
    endpoints = []
    for s in (tls, plain):
        client = create_redis(s)
        endpoints += [Endpoint.of_node(n) for n in client.nodes_manager.startup_nodes.values()]
    assert endpoints == [
        Endpoint("cache.example", 6380, 0, None, "s3cret", True),
        Endpoint("10.0.0.5", 6379, 0, None, None, False),
    ]
