"""The single factory for the Redis client: a standalone server, or Redis Cluster with REDIS_CLUSTER=true."""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster

from ..shared.settings import Settings


def create_redis(settings: Settings, max_connections: int = 128) -> redis.Redis | RedisCluster:
    if settings.redis_cluster:
        # REDIS_URL is the configuration endpoint; the client discovers the shards and follows MOVED.
        # Every key of a sale shares the hash tag {sale-<id>} (domain/keys.py), so each Lua call is single-slot.
        # max_connections is per node; the cluster client raises rather than waits when they are all busy.
        return RedisCluster.from_url(
            settings.redis_url,
            password=settings.redis_password,
            max_connections=max_connections,
            socket_timeout=5,
            socket_connect_timeout=3,
            decode_responses=True,
        )
    # A blocking pool waits for a free connection instead of failing a request when all are busy.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        password=settings.redis_password,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=3,
        decode_responses=True,
    )
    return redis.Redis(connection_pool=pool)
