"""Migrations apply once, in order, even when many tasks run `reservation migrate` at the same time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
from reservation.store.migrate import bundled_migrations, migrate

from .conftest import ADMIN_URL, JWT_SECRET, _admin


def test_concurrent_migrate_from_processes_and_tasks(redis_url: str) -> None:
    name = f"flashsale_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "JWT_SECRET": JWT_SECRET}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "reservation", "migrate"], env=env, stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]

        async def tasks() -> list[list[str]]:
            return await asyncio.gather(*(migrate(url) for _ in range(4)))

        in_process = asyncio.run(tasks())
        outputs = [p.communicate(timeout=60)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs), outputs
        versions = [m.version for m in bundled_migrations()]
        applied_by_procs = [v for out in outputs for v in versions if v in out]
        assert sorted(applied_by_procs + [v for run in in_process for v in run]) == sorted(versions)

        async def recorded() -> list[str]:
            conn = await asyncpg.connect(url)
            try:
                return [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
            finally:
                await conn.close()

        assert asyncio.run(recorded()) == versions
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
