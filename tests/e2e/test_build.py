"""`scripts/build` makes dist/pager, one executable that runs pager with no virtual
environment: built once per test session (about a minute on an idle machine, marked
`build`; `-m "not build"` leaves it out), then run from a folder of its own with PATH
holding only /usr/bin and /bin: --version, the demo (/healthz, an alert in, the REST
client, the dashboard's static files, a clean stop), replay, check-config with time zones
from the bundled tzdata."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
import trio

from .service import PagerProcess

ROOT = Path(__file__).resolve().parents[2]
TZ_CONFIG = """
users: [{id: alice, timezone: Pacific/Chatham, notification_rules: [{after: 0m, via: console}]}]
schedules:
  - id: primary
    timezone: Pacific/Chatham
    layers: [{name: w, users: [alice], rotation: {every: 1w, handoff: "monday 09:00", start: 2026-01-05}}]
escalation_policies: [{id: p, levels: [{targets: [{schedule: primary}], escalate_after: 5m}]}]
services: [{id: s, escalation_policy: p, integrations: [{type: generic, key: gen-s}]}]
channels: {console: {}}
"""
pytestmark = pytest.mark.build


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    done = subprocess.run(
        [str(ROOT / "scripts" / "build")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"pager {version('pager')}\n"), done.stdout
    where = tmp_path_factory.mktemp("bin") / "pager"
    shutil.copy2(ROOT / "dist" / "pager", where)
    return where


def bare_env(home: Path) -> dict[str, str]:
    """No virtual environment, no Python of ours on PATH."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8"}


def run(binary: Path, *argv: str, cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *argv],
        cwd=cwd,
        env={**bare_env(cwd), **kw.pop("env", {})},  # type: ignore[dict-item]
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,  # type: ignore[call-overload]
    )


def test_the_file_is_one_executable_without_a_venv(binary: Path, tmp_path: Path) -> None:
    assert binary.is_file() and os.access(binary, os.X_OK)
    env = bare_env(tmp_path)
    assert ".venv" not in env["PATH"] and "VIRTUAL_ENV" not in env
    done = run(binary, "--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"pager {version('pager')}\n"), done.stderr
    demo = run(binary, "demo-config", cwd=tmp_path)
    (tmp_path / "pager.yaml").write_text(demo.stdout)
    checked = run(binary, "check-config", "pager.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # time zones from the bundled tzdata: none from the system (PYTHONTZPATH leads nowhere)
    (tmp_path / "tz.yaml").write_text(TZ_CONFIG)
    tz = run(binary, "check-config", "tz.yaml", cwd=tmp_path, env={"PYTHONTZPATH": "/nowhere"})
    assert (tz.returncode, tz.stdout) == (0, "tz.yaml: valid\n"), tz.stdout + tz.stderr
    (tmp_path / "tz.yaml").write_text(TZ_CONFIG.replace("Pacific/Chatham", "Pacific/Chathm"))
    tz = run(binary, "check-config", "tz.yaml", cwd=tmp_path, env={"PYTHONTZPATH": "/nowhere"})
    assert "unknown time zone 'Pacific/Chathm' (did you mean 'Pacific/Chatham'?)" in tz.stdout
    hashed = run(binary, "hash-password", cwd=tmp_path, input="correct horse battery\n")
    assert hashed.stdout.startswith("$argon2id$"), hashed.stderr  # argon2's cffi binding inside


async def test_the_demo_runs_from_the_file(binary: Path, tmp_path: Path) -> None:
    pager = PagerProcess(
        None,
        tmp_path / "pager.log",
        extra=("--listen", "127.0.0.1:0"),
        cwd=tmp_path,
        program=[str(binary)],
        env=bare_env(tmp_path),
    )
    with trio.fail_after(120):
        await pager.start()
        try:
            async with httpx.AsyncClient(base_url=pager.url) as c:
                assert (await c.get("/healthz")).status_code == 200
                r = await c.post(
                    "/integrations/generic/demo-generic",
                    json={"title": "Disk full on db-1", "severity": "critical"},
                )
                assert r.status_code == 202
                for path in ("/login", "/static/pager.css", "/static/pager.js"):
                    assert (await c.get(path)).status_code == 200, path
            listed = await trio.to_thread.run_sync(
                lambda: run(
                    binary,
                    "incidents",
                    cwd=tmp_path,
                    env={"PAGER_URL": pager.url, "PAGER_TOKEN": "demo-token"},
                )
            )
            assert listed.returncode == 0, listed.stderr
            assert "Disk full on db-1" in listed.stdout and "triggered" in listed.stdout
        finally:
            code = await pager.stop(signal.SIGINT)
    assert code == 0, (tmp_path / "pager.log").read_text()
    verified = run(binary, "replay", "--verify", cwd=tmp_path)
    assert verified.returncode == 0 and verified.stdout.strip().endswith("clean"), verified.stdout
