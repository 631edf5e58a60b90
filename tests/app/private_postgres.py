"""A private PostgreSQL cluster that a test may stop and start: the shared server on :5432 never is.

initdb runs as the postgres user (PostgreSQL refuses to run as root) into a fresh directory; the server
listens on a free loopback port with fsync off (throwaway data).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from devservers.redis_servers import free_ports


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"{name} is not installed: a private PostgreSQL cluster needs the server binaries")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run `cmd` as the postgres user then. runuser lives in sbin,
    which a non-login PATH (CI's, say) may lack."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        raise RuntimeError("runuser is not installed: a private PostgreSQL cluster run as root needs it (util-linux)")
    return [runuser, "-u", "postgres", "--", *cmd]


@dataclass(frozen=True)
class PrivatePostgres:
    directory: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        cmd = _as_postgres([_bin("pg_ctl"), "-D", self.directory, *args])
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", os.path.join(self.directory, "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    directory = tempfile.mkdtemp(prefix="flashsale-pg-")
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(directory, user.pw_uid, user.pw_gid)
        initdb = [_bin("initdb"), "-D", directory, "-A", "trust", "-U", "postgres", "--no-sync"]
        subprocess.run(_as_postgres(initdb), check=True, capture_output=True, timeout=120)
        server = PrivatePostgres(directory, free_ports(1)[0])
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
