"""Fixtures shared across the test packages."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from .postgres import Cluster, available
from .standins.smtp import self_signed


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made once), and its key: for the SMTP
    server's STARTTLS."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A real PostgreSQL server (Debian's package) in a temporary folder on a free loopback
    port, for the whole session; each test takes a fresh database with `pg_dsn`."""
    if not available():
        pytest.skip("PostgreSQL is not installed (scripts/setup --test installs it)")
    cluster = Cluster().init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


_databases = itertools.count(1)


@pytest.fixture
def pg_dsn(pg_cluster: Cluster) -> str:
    """The DSN of a new, empty database of the session's PostgreSQL."""
    return pg_cluster.create_database(f"pager_test_{next(_databases)}")
