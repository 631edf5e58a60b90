"""Private redis-server processes on free loopback ports: one node, or a 3-node Redis Cluster.

Used by tests/app (fixtures) and bench/ (`--redis cluster`), so both exercise the same set-up.
Every process is killed when its context exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis


class RedisServerError(RuntimeError):
    """redis-server or redis-cli is missing, or a private server did not come up."""


def free_ports(n: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RedisServerError(f"{name} is not installed: private Redis servers need redis-server and redis-cli")
    return path


def _start(args: list[str], cpu: int | None) -> subprocess.Popen[bytes]:
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin)


def _options(port: int, **extra: object) -> list[str]:
    options = {"port": port, "bind": "127.0.0.1", "save": "", "appendonly": "no", "daemonize": "no",
               "maxmemory-policy": "noeviction", **extra}  # fmt: skip
    return [f"--{name}" if i == 0 else str(value) for name, value in options.items() for i in (0, 1)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait()


@contextmanager
def single_redis(cpu: int | None = None) -> Iterator[str]:
    """One node; yields its redis:// URL. `cpu` pins it to one core (the benchmark keeps core 1 free)."""
    port = free_ports(1)[0]
    proc = _start([_binary("redis-server"), *_options(port)], cpu)
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        _wait(lambda: _pings(client), 10, f"redis-server on port {port}")
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop([proc])


@contextmanager
def redis_cluster(workdir: Path, nodes: int = 3, cpu: int | None = None) -> Iterator[str]:
    """A Redis Cluster without replicas; yields one node's URL (clients discover the rest)."""
    server, cli = _binary("redis-server"), _binary("redis-cli")
    ports = free_ports(2 * nodes)  # client ports, then cluster bus ports
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port, bus in zip(ports[:nodes], ports[nodes:], strict=True):
            node_dir = workdir / str(port)
            node_dir.mkdir(parents=True)
            extra = {"cluster-port": bus, "cluster-enabled": "yes", "cluster-config-file": node_dir / "nodes.conf",
                     "cluster-node-timeout": 5000, "dir": node_dir}  # fmt: skip
            procs.append(_start([server, *_options(port, **extra)], cpu))
        clients = [redis.Redis(port=p, socket_connect_timeout=1) for p in ports[:nodes]]
        _wait(lambda: all(_pings(c) for c in clients), 10, "redis-server nodes to start")
        addresses = [f"127.0.0.1:{p}" for p in ports[:nodes]]
        create = subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if create.returncode != 0:
            raise RedisServerError(f"redis-cli --cluster create failed:\n{create.stdout}\n{create.stderr}")
        _wait(lambda: all(c.cluster("INFO")["cluster_state"] == "ok" for c in clients), 20, "cluster_state:ok")
        for c in clients:
            c.close()
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        _stop(procs)


def _pings(client: redis.Redis) -> bool:
    with contextlib.suppress(redis.ConnectionError):
        return bool(client.ping())
    return False


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RedisServerError(f"timed out waiting for {what}")
        time.sleep(0.1)
