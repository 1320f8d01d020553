"""The REST client in the `pager` command (`incidents`, `show`, `ack`, `resolve`, `snooze`,
`note`, `oncall`) against a real running pager: tables for people, the API's JSON with
`--json`, $PAGER_URL/$PAGER_TOKEN or --url/--token, and one clear line naming the URL for
every refusal (401, 403, 404, 409, 400) and for a server that cannot be reached."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import trio

from pager.cli import main

from .service import PagerProcess

CONFIG = """
server: {listen: "127.0.0.1:0"}
data_dir: DATA
auth:
  api_tokens:
    - {name: ops, token: 0f3c9a77e1d24b6a8c5e2f1d0b9a8c7e, role: admin}
    - {name: wall, token: 9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a, role: viewer}
users:
  - {id: alice, name: Alice Example, notification_rules: [{after: 0m, via: console}]}
  - {id: bob, name: Bob Example, notification_rules: [{after: 0m, via: console}]}
schedules:
  - id: primary
    timezone: Europe/Berlin
    layers:
      - {name: weekly, users: [alice, bob], rotation: {every: 1w, handoff: "monday 09:00", start: 2026-01-05}}
escalation_policies:
  - {id: default, levels: [{targets: [{schedule: primary}], escalate_after: 5m}]}
services:
  - id: checkout
    escalation_policy: default
    integrations: [{type: generic, key: gen-checkout}]
channels: {console: {}}
"""
ADMIN = "0f3c9a77e1d24b6a8c5e2f1d0b9a8c7e"
VIEWER = "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a"


@pytest.fixture
async def pager(tmp_path: Path) -> AsyncIterator[PagerProcess]:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(CONFIG.replace("DATA", str(tmp_path / "data")))
    p = PagerProcess(cfg, tmp_path / "pager.log")
    with trio.fail_after(30):
        await p.start()
    try:
        yield p
    finally:
        with trio.fail_after(30):
            await p.stop()


async def cli(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """`pager ARGV` in this process (over real HTTP), in a thread: the client is sync."""
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        with trio.fail_after(30):
            code = await trio.to_thread.run_sync(main, list(argv))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out = capsys.readouterr()
    return code, out.out, out.err


async def alert(url: str, title: str) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(f"{url}/integrations/generic/gen-checkout", json={"title": title})
        assert r.status_code == 202


async def test_the_client_lists_shows_and_acts_on_incidents(
    pager: PagerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"PAGER_URL": pager.url, "PAGER_TOKEN": ADMIN}
    await alert(pager.url, "Disk full on db-1")
    await alert(pager.url, "Checkout latency high")

    code, out, _ = await cli(capsys, "incidents", "--status", "open", env=env)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CODE", "STATUS", "SEVERITY", "SERVICE", "OPENED", "TITLE"]
    assert lines[1].startswith("inc-2 ") and lines[1].endswith("Checkout latency high")
    assert lines[2].startswith("inc-1 ") and "triggered" in lines[2]

    code, out, _ = await cli(capsys, "incidents", "--json", "--service", "checkout", env=env)
    listed = orjson.loads(out)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN}"}) as c:
        api = (await c.get(f"{pager.url}/api/v1/incidents?service=checkout")).json()
    assert listed == api and [i["id"] for i in listed["incidents"]] == ["inc-2", "inc-1"]

    # --url/--token win over the environment
    code, out, _ = await cli(
        capsys, "ack", "inc-1", "--url", pager.url, "--token", ADMIN,
        env={"PAGER_URL": "http://127.0.0.1:9", "PAGER_TOKEN": "wrong"},
    )  # fmt: skip
    assert (code, out) == (0, "inc-1 acknowledged: Disk full on db-1 (now acknowledged)\n")

    code, out, _ = await cli(capsys, "note", "inc-1", "cleaning", "/var/log", env=env)
    assert code == 0
    code, out, _ = await cli(capsys, "snooze", "inc-2", "1h", "--by", "bob", "--json", env=env)
    snoozed = orjson.loads(out)
    assert snoozed["status"] == "acknowledged" and snoozed["snoozed_until"]
    assert snoozed["timeline"][-1]["by"] == "bob"

    code, out, _ = await cli(capsys, "show", "inc-1", env=env)
    assert code == 0
    assert out.startswith("inc-1 (") and "status      acknowledged by" in out
    assert "cleaning /var/log" in out and "Acknowledged by" in out
    assert "ALERT" in out and "NOTIFICATION" in out

    code, out, _ = await cli(capsys, "resolve", "inc-1", "--json", env=env)
    assert orjson.loads(out)["status"] == "resolved"
    code, out, _ = await cli(capsys, "incidents", "--status", "resolved", "--json", env=env)
    assert [i["id"] for i in orjson.loads(out)["incidents"]] == ["inc-1"]
    # the dashboard's filter words are the API's: `all` is every status
    code, out, _ = await cli(capsys, "incidents", "--status", "all", "--json", env=env)
    assert code == 0 and [i["id"] for i in orjson.loads(out)["incidents"]] == ["inc-2", "inc-1"]


async def test_refusals_are_one_line_naming_the_url(
    pager: PagerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"PAGER_URL": pager.url, "PAGER_TOKEN": ADMIN}
    await alert(pager.url, "Disk full on db-1")
    assert (await cli(capsys, "resolve", "inc-1", env=env))[0] == 0

    cases = [
        (("ack", "inc-1"), {}, f"POST {pager.url}/api/v1/incidents/inc-1/acknowledge: 409 incident inc-1 is resolved: cannot acknowledge"),
        (("show", "inc-404"), {}, f"GET {pager.url}/api/v1/incidents/inc-404: 404 no incident inc-404"),
        (("ack", "inc-1"), {"PAGER_TOKEN": VIEWER}, "403 this needs the responder role; wall is a viewer"),
        (("incidents",), {"PAGER_TOKEN": "not-a-token-of-this-pager"}, "403 this token is not allowed (check --token or $PAGER_TOKEN"),
        (("incidents", "--status", "bogus"), {}, "400 status: 'bogus' is not one of open, triggered, acknowledged, resolved, all"),
        (("snooze", "inc-1", "soon"), {}, "400 for:"),
    ]  # fmt: skip
    for argv, extra, expected in cases:
        code, out, err = await cli(capsys, *argv, env={**env, **extra})
        assert code == 1 and out == "", argv
        assert err.count("\n") == 1 and err.startswith(f"pager {argv[0]}: "), err
        assert expected in err, err
        assert "Traceback" not in err

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, _, err = await cli(capsys, "incidents", env={**env, "PAGER_URL": closed})
    assert code == 1
    assert err == (
        f"pager incidents: cannot reach pager at {closed} (connection refused); is it running?"
        " (--url or $PAGER_URL)\n"
    )

    os.environ.pop("PAGER_TOKEN", None)
    with pytest.raises(SystemExit, match=r"^pager oncall: an API token is needed"):
        main(["oncall", "--url", pager.url])


async def test_oncall_table_and_a_real_process_reading_the_environment(
    pager: PagerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"PAGER_URL": pager.url, "PAGER_TOKEN": VIEWER}
    # 2026-01-05 09:00 Berlin starts alice's week; bob's starts a week later
    code, out, _ = await cli(capsys, "oncall", "--at", "2026-01-06T12:00:00Z", env=env)
    assert code == 0
    assert out.splitlines() == [
        "SCHEDULE  ON CALL                UNTIL",
        "primary   Alice Example (alice)  2026-01-12T09:00:00+01:00",
    ]
    code, out, _ = await cli(capsys, "oncall", "--at", "2026-01-13T12:00:00Z", "--json", env=env)
    assert orjson.loads(out)["oncall"][0]["user"] == "bob"

    done = await trio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-m", "pager", "oncall", "--schedule", "primary"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("SCHEDULE  ON CALL") and "primary" in done.stdout
