"""`make bench`: reservation attempts against one server worker pinned to core 1, load from core 0.

In one run, against the same server process: the ceiling on a trivial endpoint (/health/live), the
reservation peak (closed loop), reservations at 80% of that peak (open loop) for its p99, the rate at
which winners alone can be committed, and the capacity at the latency target (the highest offered rate at
which a fresh sale keeps p99 <= 50 ms, bisected, each probe a fresh sale). Then the conventional baseline
(bench/pg_only_app.py: the same API decided by PostgreSQL alone) on the same core: its peak and capacity.
Winners are counted from PostgreSQL and must equal the sale's units in every phase and probe. Last, what
a refusal by the per-buyer attempt bucket costs against a sold-out refusal (bench/refusal_cost.py);
`--refusals-only` runs that phase alone.
Uses a private database and redis-server on 127.0.0.1; nothing shared is touched. `--matrix` repeats it
for each server and Redis client mode, which is how the defaults (uvicorn, batched EVALSHA) were chosen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import jwt
import redis
import uvloop
from reservation.store.migrate import migrate

from bench import pg_only_app, refusal_cost
from bench.capacity_search import Probe, Search, find_capacity
from bench.loadgen import OPEN_LOOP_WINDOW, LoadResult, open_loop_connections, run_load
from devservers.redis_servers import RedisServerError, free_ports, redis_cluster, single_redis

SECRET = "bench-only-secret-bench-only-secret-0123"
SERVER_CORE, LOADGEN_CORE = 1, 0
DEFAULT_ADMIN_URL = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True, slots=True)
class Config:
    server: str
    redis_batching: bool
    redis_mode: str  # single | cluster
    units: int
    buyers: int
    attempts: int
    connections: int
    phase_timeout: float
    admin_url: str
    probe_seconds: float = 12.0  # a probe sends min(R, rate x this) attempts, at least 2N
    max_probes: int = 6
    capacity_budget: float = 150.0  # seconds of probing per server
    refusal_rounds: int = 3  # rounds of the refusal-cost phase (a sold-out phase and a bucket phase each)


@dataclass(frozen=True, slots=True)
class Usage:
    server_cpu: float  # the server worker's CPU time per second of the phase (core 1)
    core0_busy: float  # share of core 0 busy: load generator, PostgreSQL backends, Redis, anything else


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    server: str
    batching: bool | None  # None: no Redis at all (the PostgreSQL-only baseline)
    result: LoadResult
    usage: Usage
    units: int | None = None  # the sale's units, for phases whose winners are counted
    winners: int | None = None


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    return f"nproc {os.cpu_count()}, {model}, Linux {platform.release()}, Python {platform.python_version()}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (granian serves from a worker subprocess)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(cpu.get(p, 0.0) for p in tree)


def _core_ticks() -> dict[int, tuple[int, int]]:
    """(busy, total) clock ticks of each core since boot, from /proc/stat."""
    ticks = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
                ticks[int(name[3:])] = (sum(values) - values[3] - values[4], sum(values))
    return ticks


@contextlib.contextmanager
def private_redis(mode: str, workdir: str) -> Iterator[str]:
    """On the load generator's core: the server's core is for the server worker alone."""
    try:
        if mode == "cluster":
            with redis_cluster(Path(tempfile.mkdtemp(dir=workdir)), cpu=LOADGEN_CORE) as url:
                yield url
        else:
            with single_redis(cpu=LOADGEN_CORE) as url:
                yield url
    except RedisServerError as exc:
        raise SystemExit(f"{exc} (see scripts/ensure-services.sh)") from exc


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def private_database(admin_url: str) -> Iterator[str]:
    name = f"flashsale_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _serve(
    cmd: list[str], env: dict[str, str], port: int, log_path: str, ready_port: int | None = None
) -> Iterator[tuple[int, int]]:
    """Start `cmd`, wait until /health/ready on `ready_port` (default: `port`) answers 200, yield (port, pid)."""
    with open(log_path, "w") as log:
        # the same as `taskset -c 1`: the server and everything it spawns stay on core 1
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CORE}),
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            url = f"http://127.0.0.1:{ready_port or port}/health/ready"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log_path) as f:
                    raise SystemExit(f"server did not become ready:\n{f.read()[-3000:]}")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server(cfg: Config, database_url: str, redis_url: str, log_dir: str) -> contextlib.AbstractContextManager:
    port, internal_port = free_ports(2)  # held together: two distinct ports
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET": SECRET}
    env["REDIS_CLUSTER"] = "true" if cfg.redis_mode == "cluster" else "false"
    # Readiness is served on the internal port only (app/reservation/http/internal.py), as on AWS.
    env["PORT"], env["INTERNAL_PORT"] = str(port), str(internal_port)
    cmd = [sys.executable, "-m", "reservation", "serve", "--server", cfg.server, "--host", "127.0.0.1"]
    cmd.append("--redis-batching" if cfg.redis_batching else "--no-redis-batching")
    return _serve(cmd, env, port, os.path.join(log_dir, f"server-{cfg.server}-{port}.log"), internal_port)


def pg_only_server(database_url: str, log_dir: str) -> contextlib.AbstractContextManager:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": SECRET}
    cmd = [sys.executable, "-m", "bench.pg_only_app", "--port", str(port)]
    return _serve(cmd, env, port, os.path.join(log_dir, f"server-pg-only-{port}.log"))


def _token(sub: str, admin: bool = False) -> str:
    claims = {"sub": sub, "exp": int(time.time()) + 3600, **({"role": "admin"} if admin else {})}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# The phases measure the gate's stock and limits: 5000 buyers each retrying several times a second would
# otherwise meet the per-buyer attempt bucket. The refusal-cost phase sets its own.
LIFTED_BUCKET = {"attempts_per_second": 1000, "attempt_burst": 1000}
EMPTY_AFTER_ONE = {"attempts_per_second": 0.01, "attempt_burst": 1}  # one attempt, then one per 100 s


def _create_sale(port: int, units: int, bucket: dict[str, float] = LIFTED_BUCKET) -> int:
    now = datetime.now(UTC)
    body = {
        **bucket,
        "name": "bench",
        "sku": "BENCH-1",
        "total_stock": units,
        "per_user_limit": 1,
        "hold_seconds": 3600,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/sales",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {_token('bench-admin', admin=True)}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())["id"]


def trivial_requests(count: int) -> list[bytes]:
    return [b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"] * count


def reserve_requests(sale_id: int, tokens: list[str], count: int, tag: str) -> list[bytes]:
    body = b'{"quantity":1}'
    head = f"POST /sales/{sale_id}/reservations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return [
        (
            f"{head}Authorization: Bearer {tokens[i % len(tokens)]}\r\nIdempotency-Key: {tag}-{i}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for i in range(count)
    ]


GATE_WINNERS = "SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sale_id = $1 AND status = 'held'"


async def _winners(database_url: str, sale_id: int, query: str = GATE_WINNERS) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(query, sale_id)
    finally:
        await conn.close()


async def _backend_pids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [r["pid"] for r in rows]
    finally:
        await conn.close()


def pin_database_backends(database_url: str) -> str:
    """Moves this run's PostgreSQL backends (the server's pool, opened by the warm-up) to the load generator's
    core: the scheduler otherwise runs them on the server's core, where every winner's commit steals its CPU.
    Only this run's private database is touched; other sessions' backends stay where they are."""
    pids = asyncio.run(_backend_pids(database_url))
    try:
        for backend in pids:
            with contextlib.suppress(ProcessLookupError):  # a backend that just exited
                os.sched_setaffinity(backend, {LOADGEN_CORE})
    except PermissionError:
        return "not pinned (no permission over the PostgreSQL processes: they may steal the server's core)"
    return f"{len(pids)} backends pinned to core {LOADGEN_CORE}"


def _load(port: int, pid: int, requests: list[bytes], cfg: Config, rate: float | None) -> tuple[LoadResult, Usage]:
    connections = cfg.connections if rate is None else open_loop_connections(rate, cfg.connections)
    cpu0, ticks0 = _tree_cpu_seconds(pid), _core_ticks()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(run_load("127.0.0.1", port, requests, connections, rate, cfg.phase_timeout))
    (busy1, total1), (busy0, total0) = _core_ticks()[LOADGEN_CORE], ticks0[LOADGEN_CORE]
    core0 = (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan")
    return result, Usage((_tree_cpu_seconds(pid) - cpu0) / result.seconds, core0)


def probe_attempts(cfg: Config, rate: float) -> int:
    """A probe lasts about `probe_seconds` (at most R attempts), and sends at least 2N so the sale sells out."""
    return max(2 * cfg.units, min(cfg.attempts, math.ceil(rate * cfg.probe_seconds)))


def search_capacity(
    cfg: Config, port: int, pid: int, database_url: str, upper: float, kind: tuple[str, bool | None], winners_sql: str
) -> tuple[Search, list[Row]]:
    """Bisects the offered rate below `upper`; each probe is a fresh sale of N units whose N winners arrive
    first (N distinct buyers), and must hold exactly N winners in PostgreSQL."""
    tokens = [_token(f"buyer-{i}") for i in range(cfg.buyers)]
    rows: list[Row] = []

    def probe(rate: float) -> Probe:
        count = probe_attempts(cfg, rate)
        sale = _create_sale(port, cfg.units)
        pin_database_backends(database_url)
        result, usage = _load(port, pid, reserve_requests(sale, tokens, count, f"probe{len(rows)}"), cfg, rate)
        winners = asyncio.run(_winners(database_url, sale, winners_sql))
        rows.append(Row(f"capacity probe, {rate:,.0f}/s offered", *kind, result, usage, cfg.units, winners))
        if winners != cfg.units:
            raise SystemExit(f"FAIL: the probe at {rate:,.0f}/s holds {winners} winners, not N={cfg.units}")
        return Probe(rate, result.percentile(99), not result.timed_out and result.completed == count)

    search = find_capacity(
        probe,
        upper,
        max_probes=cfg.max_probes,
        budget_seconds=cfg.capacity_budget,
        probe_seconds=lambda rate: probe_attempts(cfg, rate) / rate + 1.0,  # +1 s: sale, pinning, counting
    )
    return search, rows


Refusals = list[tuple[refusal_cost.Phase, Row]]  # the refusal-cost phase, in running order


@dataclass(frozen=True, slots=True)
class GateRun:
    rows: list[Row]  # the five phases, in order
    pinned: str  # where this run's PostgreSQL backends ran
    search: Search
    probes: list[Row]
    refusals: Refusals


def bench_one(cfg: Config, database_url: str, redis_url: str, log_dir: str) -> GateRun:
    """The five phases and the capacity search against one server."""
    tokens = [_token(f"buyer-{i}") for i in range(cfg.buyers)]
    rows: list[Row] = []

    def row(label: str, loaded: tuple[LoadResult, Usage], sale: int | None = None, units: int | None = None) -> None:
        winners = None if sale is None else asyncio.run(_winners(database_url, sale))
        rows.append(Row(label, cfg.server, cfg.redis_batching, *loaded, units, winners))

    with server(cfg, database_url, redis_url, log_dir) as (port, pid):
        _load(port, pid, trivial_requests(5000), cfg, None)  # warm-up: connections, caches
        row("trivial GET /health/live (ceiling)", _load(port, pid, trivial_requests(cfg.attempts), cfg, None))

        sale = _create_sale(port, cfg.units)
        _load(port, pid, reserve_requests(_create_sale(port, 10), tokens, 5000, "warm"), cfg, None)
        pin_database_backends(database_url)
        peak = _load(port, pid, reserve_requests(sale, tokens, cfg.attempts, "peak"), cfg, None)
        row("reserve, peak (closed loop)", peak, sale, cfg.units)

        target = 0.8 * peak[0].rate
        sale = _create_sale(port, cfg.units)
        pinned = pin_database_backends(database_url)  # and any the peak phase opened
        paced = _load(port, pid, reserve_requests(sale, tokens, cfg.attempts, "paced"), cfg, target)
        row(f"reserve at 80% of peak ({target:,.0f}/s offered)", paced, sale, cfg.units)

        # The same rate once the sale is sold out: the steady state of refusals, without the winners' burst.
        after = _load(port, pid, reserve_requests(sale, tokens, cfg.attempts, "after"), cfg, target)
        row("same rate, after sell-out (refusals only)", after)

        # A unit for every buyer: each attempt wins and waits for its commit. Its rate is the most winners
        # per second this machine commits, to compare with the rate the paced phase's winners arrived at.
        sale = _create_sale(port, cfg.buyers)
        pin_database_backends(database_url)
        only = _load(port, pid, reserve_requests(sale, tokens, cfg.buyers, "winners"), cfg, None)
        row("winners only (closed loop, a unit per buyer)", only, sale, cfg.buyers)

        kind = (cfg.server, cfg.redis_batching)
        search, probes = search_capacity(cfg, port, pid, database_url, peak[0].rate, kind, GATE_WINNERS)
        refusals = refusal_phases(cfg, port, pid, tokens, redis_url)
    return GateRun(rows, pinned, search, probes, refusals)


def redis_cpu_seconds(url: str, cluster: bool) -> float:
    """CPU time of the private Redis (every node of the cluster), from INFO: the scripts' side of a refusal."""
    client = redis.RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)
    try:
        if cluster:
            infos = list(client.info("cpu", target_nodes=redis.RedisCluster.ALL_NODES).values())
        else:
            infos = [client.info("cpu")]
    finally:
        client.close()
    return sum(i["used_cpu_sys"] + i["used_cpu_user"] for i in infos)


def refusal_phases(cfg: Config, port: int, pid: int, tokens: list[str], redis_url: str) -> Refusals:
    """Closed-loop refusals of each kind, alternating (refusal_cost.order), R attempts per phase. Sold out:
    a sale of one unit, sold by its first attempt, its bucket lifted. Too many attempts: a fresh sale per
    phase whose buyers have each made their one attempt (the bucket then lets one through per 100 s)."""
    sold_out = _create_sale(port, 1)
    _load(port, pid, reserve_requests(sold_out, tokens, len(tokens), "sell"), cfg, None)
    out = []
    for n, kind in refusal_cost.order(cfg.refusal_rounds):
        if kind == refusal_cost.SOLD_OUT:
            sale = sold_out
        else:
            sale = _create_sale(port, 1, EMPTY_AFTER_ONE)
            _load(port, pid, reserve_requests(sale, tokens, len(tokens), f"empty{n}"), cfg, None)  # one each
        requests = reserve_requests(sale, tokens, cfg.attempts, f"{kind}{n}")
        redis_before = redis_cpu_seconds(redis_url, cfg.redis_mode == "cluster")
        result, usage = _load(port, pid, requests, cfg, None)
        redis_cpu = redis_cpu_seconds(redis_url, cfg.redis_mode == "cluster") - redis_before
        phase = refusal_cost.Phase(
            kind,
            n,
            result.rate,
            usage.server_cpu * result.seconds / result.completed * 1e6 if result.completed else float("nan"),
            redis_cpu / result.completed * 1e6 if result.completed else float("nan"),
            result.completed,
            result.statuses[refusal_cost.STATUS[kind]],
        )
        out.append((phase, Row(f"refusals: {kind}, round {n + 1}", cfg.server, cfg.redis_batching, result, usage)))
    return out


def bench_refusals(cfg: Config, database_url: str, redis_url: str, log_dir: str) -> Refusals:
    """--refusals-only: the refusal-cost phase alone, after the same warm-up."""
    tokens = [_token(f"buyer-{i}") for i in range(cfg.buyers)]
    with server(cfg, database_url, redis_url, log_dir) as (port, pid):
        _load(port, pid, trivial_requests(5000), cfg, None)
        _load(port, pid, reserve_requests(_create_sale(port, 10), tokens, 5000, "warm"), cfg, None)
        pin_database_backends(database_url)
        return refusal_phases(cfg, port, pid, tokens, redis_url)


def print_refusals(refusals: Refusals) -> None:
    print(
        "\nRefusal cost: closed loop, R attempts per phase, sold-out and too-many-attempts phases alternating "
        "against the same server.\n"
    )
    print(table([row for _, row in refusals]))
    print()
    print("\n".join(refusal_cost.summary([phase for phase, _ in refusals])))


@dataclass(frozen=True, slots=True)
class BaselineRun:
    peak: Row
    search: Search
    probes: list[Row]


def bench_baseline(cfg: Config, database_url: str, log_dir: str) -> BaselineRun:
    """The PostgreSQL-only service on the same core, the same database server and the same sale."""
    tokens = [_token(f"buyer-{i}") for i in range(cfg.buyers)]
    kind = ("pg-only", None)
    with pg_only_server(database_url, log_dir) as (port, pid):
        _load(port, pid, trivial_requests(5000), cfg, None)  # warm-up
        _load(port, pid, reserve_requests(_create_sale(port, 10), tokens, 5000, "warm"), cfg, None)
        sale = _create_sale(port, cfg.units)
        pin_database_backends(database_url)
        result, usage = _load(port, pid, reserve_requests(sale, tokens, cfg.attempts, "peak"), cfg, None)
        winners = asyncio.run(_winners(database_url, sale, pg_only_app.WINNERS))
        peak = Row("reserve, peak (closed loop)", *kind, result, usage, cfg.units, winners)
        search, probes = search_capacity(cfg, port, pid, database_url, result.rate, kind, pg_only_app.WINNERS)
    return BaselineRun(peak, search, probes)


def _ms(seconds: float) -> str:
    return "" if math.isnan(seconds) else f"{seconds * 1000:.2f}"  # NaN: no such requests


def _calls(batching: bool | None) -> str:
    return "none" if batching is None else "batched" if batching else "direct"


def table(rows: list[Row]) -> str:
    lines = [
        "| server | Redis calls | phase | requests/s | p50 ms | p99 ms | p99 of 201s ms | winners (PostgreSQL) "
        "| statuses | server CPU | core 0 busy | loadgen CPU |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        res = r.result
        winners = "" if r.winners is None else f"{r.winners} / {r.units} {'OK' if r.winners == r.units else 'FAIL'}"
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(res.statuses.items()))
        if res.timed_out:
            statuses += f" (timed out after {res.completed}/{res.sent})"
        latency = f"{_ms(res.percentile(50))} | {_ms(res.percentile(99))} | {_ms(res.percentile(99, 201))}"
        cpu = f"{r.usage.server_cpu:.0%} | {r.usage.core0_busy:.0%} | {res.cpu_seconds / res.seconds:.0%}"
        lines.append(
            f"| {r.server} | {_calls(r.batching)} | {r.label} | {res.rate:,.0f} "
            f"| {latency} | {winners} | {statuses} | {cpu} |"
        )
    return "\n".join(lines)


def verdict(rows: list[Row]) -> list[str]:
    by_kind: dict[tuple[str, bool], list[Row]] = {}
    for r in rows:
        by_kind.setdefault((r.server, r.batching), []).append(r)
    out = []
    for (srv, batching), (trivial, peak, paced, _, only) in by_kind.items():
        ratio = peak.result.rate / trivial.result.rate
        p99 = paced.result.percentile(99) * 1000
        ok_winners = all(r.winners == r.units for r in (peak, paced, only))
        out.append(
            f"- {srv}, {'batched' if batching else 'direct'}: reserve/trivial = {ratio:.0%} (target >= 50%) "
            f"{'PASS' if ratio >= 0.5 else 'MISS'}; p99 at 80% = {p99:.1f} ms (target < 50) "
            f"{'PASS' if p99 < 50 else 'MISS'}; winners == N: {'PASS' if ok_winners else 'FAIL'}"
        )
        won, refused = (paced.result.percentile(99, status) * 1000 for status in (201, 409))
        out.append(
            f"  the paced phase's first {paced.units} attempts won, offered at {paced.result.rate:,.0f}/s; winners "
            f"alone were committed at {only.result.rate:,.0f}/s over the same connections. p99 of its 201s "
            f"{won:.1f} ms, of its 409s {refused:.1f} ms"
        )
    return out


def _interval(search: Search) -> str:
    probes = len(search.probes)
    if not search.capacity:
        return f"no probe passed ({probes} probes, the lowest at {min(p.rate for p in search.probes):,.0f}/s)"
    return f"between {search.capacity:,.0f} and {search.first_failure:,.0f}/s after {probes} probes"


def capacity_lines(gate: GateRun, baseline: BaselineRun | None, redis_mode: str) -> list[str]:
    """The figures operators size by, as ratios to the same run's trivial ceiling and to the baseline."""
    ceiling, peak = gate.rows[0].result.rate, gate.rows[1].result.rate
    capacity = gate.search.capacity
    out = [
        f"- gate ({gate.rows[0].server}, {_calls(gate.rows[0].batching)}, Redis {redis_mode}): capacity at p99 <= "
        f"{gate.search.target * 1000:.0f} ms {capacity:,.0f}/s = {capacity / ceiling:.0%} of the trivial ceiling "
        f"({ceiling:,.0f}/s), {_interval(gate.search)}; peak {peak:,.0f}/s = {peak / ceiling:.0%}"
    ]
    if baseline is not None:
        base_peak, base_capacity = baseline.peak.result.rate, baseline.search.capacity
        out.append(
            f"- PostgreSQL only: capacity {base_capacity:,.0f}/s = {base_capacity / ceiling:.0%} of the ceiling, "
            f"{_interval(baseline.search)}; peak {base_peak:,.0f}/s = {base_peak / ceiling:.0%}"
        )
        times = f"{capacity / base_capacity:.1f}x" if base_capacity else "n/a (the baseline passed no probe)"
        out.append(f"- the gate over the baseline: capacity at the target {times}, peak {peak / base_peak:.1f}x")
    return out


def record(
    args: argparse.Namespace, command: str, gate: GateRun, baseline: BaselineRun | None, load: dict[str, list[float]]
) -> dict:
    """One run's figures as JSON (--json), the input of capacity/measured.yaml."""

    def search(s: Search) -> dict:
        return {"capacity": round(s.capacity), "below": round(s.first_failure), "probes": [
            {"rate": round(p.rate), "p99_ms": round(p.p99 * 1000, 2), "passed": p.passed(s.target)} for p in s.probes
        ]}  # fmt: skip

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": f"make bench BENCH_ARGS={shlex.quote(command)}" if command else "make bench",
        "machine": machine(),
        "load_average": load,
        "redis": args.redis,
        "units": args.units,
        "attempts": args.attempts,
        "trivial_ceiling": round(gate.rows[0].result.rate),
        "peak": round(gate.rows[1].result.rate),
        "winners_committed": round(gate.rows[4].result.rate),
        "gate": search(gate.search),
        "pg_only": None if baseline is None else {"peak": round(baseline.peak.result.rate), **search(baseline.search)},
    }


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--redis-batching", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--redis", choices=["single", "cluster"], default="single", help="one redis-server, or a 3-node Redis Cluster"
    )
    parser.add_argument(
        "--matrix", action="store_true", help="every server x Redis mode (the measurement behind the defaults)"
    )
    parser.add_argument("--units", type=int, default=2000, help="N: units on sale")
    parser.add_argument("--buyers", type=int, default=5000, help="distinct buyers (tokens; each retries), limit 1 each")
    parser.add_argument("--attempts", type=int, default=60000, help="R: attempts per phase")
    parser.add_argument(
        "--connections",
        type=int,
        default=128,
        help="C: keep-alive connections of the closed-loop phases; open-loop phases open max(C, rate x 100 ms)",
    )
    parser.add_argument("--phase-timeout", type=float, default=60.0, help="seconds; a phase never runs longer")
    parser.add_argument(
        "--probe-seconds",
        type=float,
        default=12.0,
        help="a capacity probe sends min(R, rate x this) attempts, at least 2N",
    )
    parser.add_argument("--max-probes", type=int, default=6, help="capacity probes per server at most")
    parser.add_argument("--capacity-budget", type=float, default=150.0, help="seconds of capacity probing per server")
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the PostgreSQL-only baseline (bench/pg_only_app.py)",
    )
    parser.add_argument(
        "--refusal-rounds", type=int, default=3, help="rounds of the refusal-cost phase (sold out vs too many attempts)"
    )
    parser.add_argument(
        "--refusals-only", action="store_true", help="only the refusal-cost phase (bench/refusal_cost.py)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the run's figures to PATH (capacity/measured.yaml)")
    parser.add_argument(
        "--admin-url", default=DEFAULT_ADMIN_URL,
        help="PostgreSQL to create the private benchmark database in",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 < args.units <= args.buyers:
        # with a limit of 1 each, fewer buyers than units could never sell the sale out
        parser.error(f"--units must be between 1 and --buyers ({args.buyers}), got {args.units}")
    if args.refusals_only and (args.matrix or args.json):
        parser.error("--refusals-only measures one server and writes no --json")
    for name in ("probe_seconds", "max_probes", "capacity_budget", "refusal_rounds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("the benchmark needs 2 cores: the server on core 1, the load generator on core 0")
    os.sched_setaffinity(0, {LOADGEN_CORE})
    combos = (
        [(s, b) for s in ("uvicorn", "granian") for b in (True, False)]
        if args.matrix
        else [(args.server, args.redis_batching)]
    )
    load = {"before": _load_average()}
    rows: list[Row] = []
    runs: list[GateRun] = []
    baseline = None
    cfg = None
    with tempfile.TemporaryDirectory(prefix="flashsale-bench-") as log_dir:
        for srv, batching in combos:
            cfg = Config(
                srv,
                batching,
                args.redis,
                args.units,
                args.buyers,
                args.attempts,
                args.connections,
                args.phase_timeout,
                args.admin_url,
                args.probe_seconds,
                args.max_probes,
                args.capacity_budget,
                args.refusal_rounds,
            )
            # a fresh Redis and database per combination, so no run inherits another's state
            with private_redis(args.redis, log_dir) as redis_url, private_database(cfg.admin_url) as database_url:
                if args.refusals_only:
                    refusals = bench_refusals(cfg, database_url, redis_url, log_dir)
                    load["after"] = _load_average()
                    print(f"\nMachine: {machine()}; load average (1, 5, 15 min) {load['before']} before, "
                          f"{load['after']} after; Redis {cfg.redis_mode}, C={cfg.connections}, R={cfg.attempts}, "
                          f"{cfg.buyers} buyers")  # fmt: skip
                    print_refusals(refusals)
                    return
                runs.append(bench_one(cfg, database_url, redis_url, log_dir))
                rows += runs[-1].rows
                if args.baseline and baseline is None:
                    baseline = bench_baseline(cfg, database_url, log_dir)
    load["after"] = _load_average()
    assert cfg is not None
    print(f"\nMachine: {machine()}; load average (1, 5, 15 min) {load['before']} before, {load['after']} after")
    print(
        f"Sale: N={cfg.units} units, per-user limit 1, {cfg.buyers} buyers, R={cfg.attempts} attempts per phase, "
        f"C={cfg.connections} connections (open-loop phases max(C, rate x {OPEN_LOOP_WINDOW * 1000:g} ms)); "
        f"server pinned to core {SERVER_CORE}, load generator to core "
        f"{LOADGEN_CORE} with the private Redis ({cfg.redis_mode}); this run's PostgreSQL database on the shared "
        f"server, its {runs[-1].pinned}.\n"
    )
    print(table(rows))
    print()
    print("\n".join(verdict(rows)))
    probes = [r for run in runs for r in run.probes] + ([baseline.peak, *baseline.probes] if baseline else [])
    print(
        f"\nCapacity at the latency target: fresh sales of N={cfg.units}, the N winners first, each probe "
        f"min(R, rate x {cfg.probe_seconds:g} s) attempts (at least 2N), p99 over every request of the probe.\n"
    )
    print(table(probes))
    print()
    for run in runs:
        print("\n".join(capacity_lines(run, baseline, cfg.redis_mode)))
    for run in runs:
        print_refusals(run.refusals)
    if args.json:
        command = shlex.join(argv if argv is not None else sys.argv[1:])
        with open(args.json, "w") as f:
            json.dump(record(args, command, runs[0], baseline, load), f, indent=2)
    if any(r.winners != r.units for r in rows + probes):
        raise SystemExit("FAIL: winners differ from the units on sale")


if __name__ == "__main__":
    main()
