"""The application role serve and relay log in as: DML on the service's tables, nothing else.

`reservation migrate` runs as the master user and, after the migrations and under the same advisory lock,
creates or updates this role and re-applies its grants, so they always match the schema just migrated:
the grants below are the whole of what the role may do in the database (REVOKE first, then GRANT, in one
transaction, so no session ever sees the role with less or more).

Per-table grants, not ALTER DEFAULT PRIVILEGES: a default privilege would hand every future table to the
service, migrate-only ones included (schema_migrations), and binds only tables created by the role that
set it. A table a later migration adds is granted here, deliberately; tests/app/test_app_role.py fails
while a table of the schema is neither granted nor listed as migrate-only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from types import MappingProxyType

import asyncpg

from ..shared.role_login import password_problem, username_problem

log = logging.getLogger(__name__)

# What serve and relay run (store.py, rebuild.py, reaper.py, relay.py, relay_metrics.py). No DELETE and
# no TRUNCATE: nothing in the service removes rows. UPDATE on outbox also covers the relay's
# SELECT ... FOR UPDATE SKIP LOCKED; INSERT ... RETURNING needs SELECT.
TABLE_PRIVILEGES = MappingProxyType(
    {
        "sales": ("SELECT", "INSERT", "UPDATE"),
        "reservations": ("SELECT", "INSERT", "UPDATE"),
        "outbox": ("SELECT", "INSERT", "UPDATE"),
    }
)
MIGRATE_ONLY_TABLES = frozenset({"schema_migrations"})
# Called by the service's SQL (commit_holds by store.insert_held; reservation_events by store's CTEs and by
# commit_holds). The trigger function guard_units_out needs no EXECUTE: PostgreSQL checks that privilege
# when a trigger is created, not when it fires.
FUNCTIONS = ("commit_holds", "reservation_events")

_SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations


class AppRoleError(Exception):
    """The application role cannot be set up as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class AppRole:
    username: str
    password: str

    def __post_init__(self) -> None:
        for problem in (username_problem(self.username), password_problem(self.password)):
            if problem:
                raise AppRoleError(f"application role: {problem}")

    def __repr__(self) -> str:  # never the password, in a log line or a traceback
        return f"AppRole(username={self.username!r})"


def scram_sha_256(password: str, *, salt: bytes | None = None, iterations: int = _SCRAM_ITERATIONS) -> str:
    """The password as PostgreSQL stores it (pg_authid.rolpassword), computed here as psql's \\password does,
    so the plaintext never reaches the server, where a failed statement would be logged with it. RFC 5802
    and RFC 7677; PostgreSQL stores it as given ("already encrypted" in the CREATE ROLE reference)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    # Only for the SCRAM secret (base64, digits, '$', ':'): utility statements take no $n parameters.
    return "'" + text.replace("'", "''") + "'"


async def _upsert_role(conn: asyncpg.Connection, role: AppRole) -> None:
    name, secret = quote_ident(role.username), _literal(scram_sha_256(role.password))
    # Only attributes a non-superuser with CREATEROLE (the RDS master user) may set; the role is created
    # without SUPERUSER, REPLICATION and BYPASSRLS and is checked for them below.
    attributes = "LOGIN NOCREATEDB NOCREATEROLE NOINHERIT"
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role.username):
        await conn.execute(f"ALTER ROLE {name} {attributes} PASSWORD {secret}")
        return
    try:
        async with conn.transaction():  # a savepoint: the enclosing transaction survives a duplicate
            await conn.execute(
                f"CREATE ROLE {name} {attributes} NOSUPERUSER NOREPLICATION NOBYPASSRLS PASSWORD {secret}"
            )
        log.info("created the application role %s", role.username)
    # Roles are cluster-wide: another database's migrate made it first. Committed before this CREATE, it is
    # a duplicate object; committed while this CREATE waited on its row, a unique violation of pg_authid.
    except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
        await conn.execute(f"ALTER ROLE {name} {attributes} PASSWORD {secret}")


async def _check_role(conn: asyncpg.Connection, role: AppRole) -> None:
    row = await conn.fetchrow(
        "SELECT r.rolsuper, r.rolreplication, r.rolbypassrls,"
        " array(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid ORDER BY 1)"
        " FROM pg_roles r WHERE r.rolname = $1",
        role.username,
    )
    powers = [p for p, on in zip(("SUPERUSER", "REPLICATION", "BYPASSRLS"), row[:3], strict=True) if on]
    if powers:
        raise AppRoleError(f"application role {role.username} has {', '.join(powers)}; remove it (ALTER ROLE)")
    if row[3]:
        # NOINHERIT stops inherited privileges, not SET ROLE to a role it belongs to.
        raise AppRoleError(f"application role {role.username} is a member of {', '.join(row[3])}; revoke that")


async def _grant(conn: asyncpg.Connection, role: AppRole) -> None:
    name = quote_ident(role.username)
    database = quote_ident(await conn.fetchval("SELECT current_database()"))
    # Object names come from the catalog as regclass/regprocedure text: already quoted where needed.
    missing = await conn.fetchval(
        "SELECT array(SELECT t FROM unnest($1::text[]) t WHERE to_regclass('public.' || quote_ident(t)) IS NULL)",
        list(TABLE_PRIVILEGES),
    )
    if missing:
        raise AppRoleError(f"tables {missing} to grant to the application role do not exist; update app_role.py")
    sequences = await conn.fetch(
        "SELECT DISTINCT d.objid::regclass::text FROM pg_depend d JOIN pg_class s ON s.oid = d.objid"
        " WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i')"
        " AND d.refobjid = ANY(array(SELECT to_regclass('public.' || quote_ident(t)) FROM unnest($1::text[]) t))",
        list(TABLE_PRIVILEGES),
    )
    functions = await conn.fetch(
        "SELECT p.oid::regprocedure::text, p.proname::text FROM pg_proc p"
        " WHERE p.pronamespace = 'public'::regnamespace"
        " AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
    )
    absent = sorted(set(FUNCTIONS) - {f[1] for f in functions})
    if absent:
        raise AppRoleError(f"functions {absent} to grant to the application role do not exist; update app_role.py")
    statements = [
        # Nobody creates objects in public but the migrating owner (PostgreSQL 15 made this the default).
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        # No temporary tables for anyone but the owner: a role without DDL creates no relation at all.
        f"REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC",
        f"REVOKE ALL ON DATABASE {database} FROM {name}",
        f"GRANT CONNECT ON DATABASE {database} TO {name}",
        f"REVOKE ALL ON SCHEMA public FROM {name}",
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {name}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {name}",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {name}",
        *(f"GRANT {', '.join(p)} ON TABLE public.{quote_ident(t)} TO {name}" for t, p in TABLE_PRIVILEGES.items()),
        # USAGE is what nextval() (the bigserial defaults) needs; no SELECT (currval) or UPDATE (setval).
        *(f"GRANT USAGE ON SEQUENCE {s[0]} TO {name}" for s in sequences),
        # Functions are executable by PUBLIC by default; the service's ones by the service alone.
        *(f"REVOKE EXECUTE ON FUNCTION {f[0]} FROM PUBLIC" for f in functions),
        *(f"GRANT EXECUTE ON FUNCTION {f[0]} TO {name}" for f in functions if f[1] in FUNCTIONS),
    ]
    for statement in statements:
        await conn.execute(statement)


async def ensure_app_role(conn: asyncpg.Connection, role: AppRole) -> None:
    """Create or update `role` and set its grants to exactly the ones above. The caller holds the migration
    lock, so tasks migrating at once do this one after another."""
    current = await conn.fetchval("SELECT current_user")
    if role.username == current:
        raise AppRoleError(f"the application role must not be the migrating user {current}")
    async with conn.transaction():
        await _upsert_role(conn, role)
        await _check_role(conn, role)
        await _grant(conn, role)
    log.info("application role %s: password and grants applied", role.username)
