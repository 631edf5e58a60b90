"""Versioned SQL migrations, applied in order under an advisory lock so many tasks may run them at once;
then, under the same lock, the application role serve and relay log in as (app_role.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import asyncpg

from ..shared.settings import AppLogin
from .app_role import AppRole, AppRoleError, ensure_app_role
from .db_credentials import Connect, SecretCredentials

log = logging.getLogger(__name__)

# Arbitrary constant; every `reservation migrate` in any task contends for the same lock.
MIGRATION_LOCK_KEY = 0x46_53_4D_49_47  # "FSMIG"


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    sql: str


def bundled_migrations() -> list[Migration]:
    files = resources.files("reservation.store") / "migrations"
    found = [
        Migration(version=f.name.removesuffix(".sql"), sql=f.read_text())
        for f in files.iterdir()
        if f.name.endswith(".sql")
    ]
    return sorted(found, key=lambda m: m.version)


async def load_app_role(login: AppLogin) -> AppRole | None:
    """The application role migrate should ensure: from DB_APP_LOGIN_ARN's secret, or DB_APP_USER and
    DB_APP_PASSWORD; None when neither is set (local use as one user)."""
    if login.secret_arn:
        found = await SecretCredentials(login.secret_arn).credentials()
        try:
            return AppRole(found.username, found.password)
        except AppRoleError as exc:
            raise AppRoleError(f"DB_APP_LOGIN_ARN: the secret's {exc}") from None
    if login.username and login.password:
        return AppRole(login.username, login.password)
    return None


async def migrate(
    database_url: str,
    migrations: list[Migration] | None = None,
    *,
    connect: Connect = asyncpg.connect,
    app_role: AppRole | None = None,
) -> list[str]:
    """Apply pending migrations, then ensure `app_role` (if given) with its password and exactly its grants;
    return the versions this call applied. `connect`: see db_credentials."""
    migrations = bundled_migrations() if migrations is None else migrations
    conn = await connect(database_url)
    try:
        # Session lock, held across the per-migration transactions below.
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            applied = []
            for m in migrations:
                if m.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", m.version)
                log.info("applied migration %s", m.version)
                applied.append(m.version)
            if app_role is not None:
                # Every run, not only after a new migration: a rotated password, or grants of an older
                # version of this code, are brought up to date.
                await ensure_app_role(conn, app_role)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await conn.close()
