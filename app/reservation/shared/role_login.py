"""What a database login name and password must look like; shared by the settings (which check the
application role's variables) and migrate (which creates the role)."""

from __future__ import annotations

import re

# An unquoted-style PostgreSQL identifier (at most NAMEDATALEN-1 = 63 bytes), so the name in the secret, in
# the IAM policy (rds-db:connect .../dbuser:<id>/<name>) and in pg_roles is spelled the same.
_USERNAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Role names PostgreSQL reserves or gives a meaning to in GRANT/REVOKE role specifications.
_RESERVED = frozenset({"public", "none", "current_user", "session_user", "current_role", "all"})


def username_problem(name: str) -> str | None:
    """Why `name` cannot be the application role, or None."""
    if not _USERNAME.fullmatch(name):
        return f"{name!r} is not allowed; use 1-63 lowercase letters, digits or _, not starting with a digit"
    if name.startswith("pg_") or name in _RESERVED:
        return f"{name!r} is a name PostgreSQL reserves; choose another"
    return None


def password_problem(password: str) -> str | None:
    """Why `password` cannot be the role's password, or None. Printable ASCII: the SCRAM secret below is
    computed without SASLprep, which leaves such text unchanged (RFC 4013), so every client agrees on it."""
    if not password:
        return "must not be empty"
    if not all(" " <= c <= "~" for c in password):
        return "must be printable ASCII (letters, digits, punctuation, space)"
    return None
