"""`pager db migrate` and `pager status` as a person runs them, against a real PostgreSQL
(tests/postgres.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pager.store.lease import Lease
from pager.store.pg_schema import LATEST

from ..harness import config_text


def pager(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pager", *argv], capture_output=True, text=True, timeout=60
    )


def test_db_migrate_and_status_print_the_cluster(tmp_path: Path, pg_dsn: str) -> None:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(
        config_text(tmp_path / "data")
        + f'store: {{type: postgres, dsn: "{pg_dsn} password=hunter2", lease_ttl: 5s}}\n'
    )
    first = pager("db", "migrate", "--config", str(cfg))
    assert first.returncode == 0, first.stderr
    assert f"schema migrated from version 0 to {LATEST}" in first.stdout
    again = pager("db", "migrate", "--config", str(cfg))
    assert f"schema is at version {LATEST}, nothing to do" in again.stdout
    assert "hunter2" not in first.stdout + first.stderr + again.stdout + again.stderr

    out = pager("status", "--config", str(cfg)).stdout
    assert "lease      never taken (epoch 0)" in out
    assert "log        0 records" in out and "(none has reported)" in out

    lease = Lease(pg_dsn, "node-a", timedelta(seconds=5))
    assert lease.acquire() == 1
    lease.report("active", 1, 0, "http://pager-a", datetime.now(UTC))
    other = Lease(pg_dsn, "node-b", timedelta(seconds=5))
    other.report("standby", None, 0, "http://pager-b", datetime.now(UTC))
    other.close()
    lease.close()
    out = pager("status", "--config", str(cfg)).stdout
    assert "lease      epoch 1, held by node-a" in out, out
    assert "expires in" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  node-")}
    assert "active" in lines["node-a"] and "http://pager-a" in lines["node-a"]
    assert "standby" in lines["node-b"]
    assert "none streaming from this server" in out
    assert "hunter2" not in out


def test_db_commands_say_what_is_missing(tmp_path: Path) -> None:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    r = pager("status", "--config", str(cfg))
    assert r.returncode != 0 and "not postgres" in r.stderr
