"""A real PostgreSQL for tests and benchmarks: Debian's server (`postgresql`, installed by
`scripts/setup --test`), initialised into a temporary folder and run on a free loopback port
by the test itself.

PostgreSQL refuses to run as root, and the tests run as root: the folder is handed to an
unprivileged user (`postgres` when the package made one, else `nobody`) and every server
program runs as that user. Unix sockets live in the folder too; clients connect over TCP to
127.0.0.1 with `trust` authentication (nothing leaves the machine).

`Cluster.start()` / `.stop()`; `.create_database(name)` gives a DSN; `.replica(...)` makes a
streaming standby with `pg_basebackup` (synchronous when asked) for the failover tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Cluster", "available", "bindir", "free_port"]


def bindir() -> Path | None:
    """The newest installed server's bin folder (Debian keeps each major version apart)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def available() -> bool:
    return bindir() is not None


def _user() -> str | None:
    """Who runs the server: None when we are not root (then we run it ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One PostgreSQL server in its own folder."""

    def __init__(self, folder: Path | None = None, *, port: int | None = None, fsync: bool = False):
        self.root = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="pager-pg-"))
        self.data = self.root / "data"
        self.port = port or free_port()
        self.fsync = fsync
        self.user = _user()
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self._owned: list[Path] = [self.root]

    # ------------------------------------------------------------------ running programs

    def _run(self, *argv: str, check: bool = True, timeout: float = 120) -> str:
        assert self.bin is not None
        proc = subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{argv[0]} failed ({proc.returncode}): {proc.stderr or proc.stdout}"
            )
        return proc.stdout

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # ------------------------------------------------------------------ life cycle

    def init(self, *settings: str) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # noqa: S103 - the server runs as another user
        self._chown(self.root)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        self._configure(*settings)
        return self

    def _configure(self, *settings: str) -> None:
        lines = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.root}'",
            f"fsync = {'on' if self.fsync else 'off'}",
            "max_connections = 200",
            "shared_buffers = 64MB",
            "wal_level = replica",
            "max_wal_senders = 5",
            "logging_collector = off",
            *settings,
        ]
        with open(self.data / "postgresql.auto.conf", "a") as f:
            f.write("\n".join(lines) + "\n")

    def start(self) -> Cluster:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "start")  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """SIGKILL the postmaster and every server process of this cluster: a crash."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
        for p in [pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def remove(self) -> None:
        self.stop("immediate")
        for path in self._owned:
            shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------ clients

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Run one statement; its first column, one line a row."""
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(statement)  # type: ignore[arg-type]
            rows = cur.fetchall() if cur.description else []
        return "\n".join(str(r[0]) for r in rows)

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.dsn(name)

    def replica(self, name: str = "standby1", *, synchronous: bool = True) -> Cluster:
        """A streaming standby of this cluster, made with pg_basebackup, started. With
        `synchronous`, this primary waits for it on every commit."""
        other = Cluster(fsync=self.fsync)
        other.root.mkdir(parents=True, exist_ok=True)
        os.chmod(other.root, 0o755)  # noqa: S103 - the server runs as another user
        other._chown(other.root)
        other._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-D", str(other.data), "-X", "stream", "-R", "--no-sync", "-c", "fast",
            "-d", f"host=127.0.0.1 port={self.port} user=postgres application_name={name}",
        )  # fmt: skip
        # the copy carries the primary's port and socket folder: give it its own
        other._configure()
        other.start()
        if synchronous:
            self.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{name}'")
            self.sql("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 30
            while (
                self.sql(
                    f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'"  # noqa: S608
                )
                != "sync"
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the standby did not become synchronous")
                time.sleep(0.1)
        return other
