"""`pager backup --to DIR` against a running pager: taken while alerts keep arriving (and
snapshots and segment rolls happen), the copy's state equals the original's state at the
copy's last record; taken at rest, a pager served from the copy answers the REST API as the
original did; refusals are one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trio

from pager.cli import main
from pager.core.state import SystemState
from pager.replay.load import load_state
from pager.store.jsonl import JsonlLog
from pager.store.snapshots import json_default
from tests.harness import auth, make_config, running_pager, until

_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def config(data: Path) -> Any:
    cfg = make_config(data, fsync=False)
    journal = cfg.journal.model_copy(update={"segment_size": 8192, "snapshot_every": 25})
    return cfg.model_copy(update={"journal": journal})


def plain(state: SystemState) -> Any:
    return orjson.loads(orjson.dumps(state.to_snapshot(), option=_OPTS, default=json_default))


def state_up_to(data: Path, last: int) -> SystemState:
    state = SystemState()
    log = JsonlLog.open(data)
    try:
        for rec in log.read_from(1):
            if rec.seq > last:
                break
            state.apply(rec)
    finally:
        log.release()
    return state


def backup_cli(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["backup", *argv])
    return code, out.getvalue()


async def some_history(c: httpx.AsyncClient) -> None:
    for i in range(8):
        r = await c.post(
            "/integrations/generic/gen-checkout", json={"title": f"Disk {i}", "dedup_key": f"d{i}"}
        )
        assert r.status_code == 202
    assert (await c.post("/api/v1/incidents/inc-1/acknowledge", json={"by": "alice"})).is_success
    assert (await c.post("/api/v1/incidents/inc-2/notes", json={"text": "looking"})).is_success
    assert (await c.post("/api/v1/incidents/inc-3/resolve", json={"by": "bob"})).is_success
    assert (await c.post("/api/v1/incidents/inc-4/snooze", json={"for": "1h"})).is_success


async def test_a_backup_taken_under_load_holds_the_state_at_its_last_record(
    tmp_path: Path,
) -> None:
    data, copy = tmp_path / "data", tmp_path / "copy"
    with trio.fail_after(90):
        async with running_pager(config(data)) as run:
            async with httpx.AsyncClient(base_url=run.urls[0], headers=auth()) as c:
                await some_history(c)
                done = trio.Event()

                async def keep_sending() -> None:  # bounded: 300 alerts at most
                    for i in range(300):
                        if done.is_set():
                            return
                        r = await c.post(
                            "/integrations/generic/gen-checkout",
                            json={"title": f"Load {i}", "dedup_key": f"load-{i % 40}"},
                        )
                        assert r.status_code == 202

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(keep_sending)
                    await until(run, lambda s: s.last_seq >= 150)  # snapshots, rolls under way
                    code, out = await trio.to_thread.run_sync(
                        backup_cli, "--data-dir", str(data), "--to", str(copy)
                    )
                    done.set()
                assert code == 0, out
            final = run.system.state.last_seq

    snaps = sorted((copy / "snapshots").iterdir())
    assert len(snaps) == 1 and len(list((data / "events").iterdir())) > 2
    copied = JsonlLog.open(copy)
    try:
        restored, report = load_state(copied)
    finally:
        copied.release()
    last = restored.last_seq
    # the copy ends where the backup read the log: at or before the last record written (on a
    # loaded machine the sender may have written nothing after it)
    assert report.snapshot_seq == int(snaps[0].stem) and 150 <= last <= final
    assert f"records 1..{last}," in out
    assert plain(restored) == plain(state_up_to(data, last))
    # private like the original, and every copied record byte-identical to the original's
    for p in copy.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
    original = b"".join(p.read_bytes() for p in sorted((data / "events").iterdir()))
    backed = b"".join(p.read_bytes() for p in sorted((copy / "events").iterdir()))
    assert original.startswith(backed) and backed.endswith(b"\n")


async def test_a_pager_served_from_the_copy_answers_as_the_original(tmp_path: Path) -> None:
    data, copy, small = tmp_path / "data", tmp_path / "copy", tmp_path / "small"
    paths = ["/api/v1/incidents?limit=1000", "/api/v1/incidents/inc-1", "/api/v1/incidents/inc-2",
             "/api/v1/notifications?incident=inc-4"]  # fmt: skip
    with trio.fail_after(90):
        async with running_pager(config(data)) as run:
            c = httpx.AsyncClient(base_url=run.urls[0], headers=auth())
            async with c:
                await some_history(c)
                before = [(await c.get(p)).json() for p in paths]
                code, _ = await trio.to_thread.run_sync(
                    backup_cli, "--data-dir", str(data), "--to", str(copy)
                )
                assert code == 0
                code, out = await trio.to_thread.run_sync(
                    backup_cli, "--data-dir", str(data), "--to", str(small), "--minimal"
                )
                assert code == 0
        async with running_pager(config(copy)) as run:
            c = httpx.AsyncClient(base_url=run.urls[0], headers=auth())
            async with c:
                after = [(await c.get(p)).json() for p in paths]
                assert after == before
                # and it goes on: the copy is a working data folder
                r = await c.post("/api/v1/incidents/inc-2/resolve", json={"by": "alice"})
                assert r.status_code == 200
        assert "records " in out and (small / "snapshots").is_dir()


def test_refusals_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "data" / "events").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"^pager backup: .*full exists and is not an empty folder$"):  # fmt: skip
        main(["backup", "--data-dir", "data", "--to", "full"])
    with pytest.raises(SystemExit, match=r"^pager backup: nowhere is not a pager data folder"):
        main(["backup", "--data-dir", "nowhere", "--to", "new"])
    with pytest.raises(SystemExit, match=r"^pager backup: .* is inside the data folder"):
        main(["backup", "--data-dir", "data", "--to", "data/copy"])
    # the default folder is ./pager-data, as serve uses
    with pytest.raises(SystemExit, match=r"^pager backup: pager-data is not a pager data folder"):
        main(["backup", "--to", "new"])
    assert not os.path.exists("new") or not any(os.scandir("new"))


def test_a_folder_with_records_of_a_newer_pager_is_refused(tmp_path: Path) -> None:
    """As `pager serve` and `pager replay` do, backup reads no record whose schema version is
    newer than this pager's: it says so in one line, names the file and line, and does not
    offer to cut the log there (`replay --repair` would lose the newer pager's records)."""
    from pager.core.events import SCHEMA_VERSION

    events = tmp_path / "data" / "events"
    events.mkdir(parents=True)
    lines = [
        {"v": v, "seq": seq, "ts": "2026-03-02T03:00:00Z", "type": "service.change",
         "subject": "service:checkout", "data": {"service_id": "checkout", "summary": "deploy"}}
        for seq, v in ((1, SCHEMA_VERSION), (2, SCHEMA_VERSION + 1))
    ]  # fmt: skip
    (events / "000000000001.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    with pytest.raises(SystemExit) as refused:
        main(["backup", "--data-dir", str(tmp_path / "data"), "--to", str(tmp_path / "copy")])
    message = str(refused.value)
    assert "\n" not in message and message.startswith("pager backup: "), message
    newer = f"000000000001.jsonl:2: schema version {SCHEMA_VERSION + 1} is newer than this pager"
    assert newer in message, message
    assert "--repair" not in message, message


def test_config_gives_the_folder_without_the_secrets_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As deploy.md runs it from cron: `--config` with none of the file's `${VAR}` secrets
    in the environment (systemd reads them, the shell does not). Only `data_dir` is read, its
    own `${VAR}` filled; the restore line names the configuration too."""
    for name in ("PAGER_API_TOKEN", "CHECKOUT_KEY", "PAGER_DATA"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "data" / "events").mkdir(parents=True)
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        'auth: {api_tokens: [{name: ops, token: "${PAGER_API_TOKEN}", role: admin}]}\n'
        "services: [{id: s, escalation_policy: p, integrations: "
        '[{type: pagerduty, key: "${CHECKOUT_KEY}"}]}]\n'
    )
    code, out = backup_cli("--config", str(cfg), "--to", str(tmp_path / "copy"))
    assert code == 0
    assert f"restore with: pager serve --config {cfg} --data-dir {tmp_path / 'copy'}" in out
    # data_dir's own variable must be set, and says so as check-config would
    cfg.write_text('data_dir: "${PAGER_DATA}"\n')
    assert main(["backup", "--config", str(cfg), "--to", str(tmp_path / "c2")]) == 1
    err = capsys.readouterr().err
    assert "data_dir: environment variable 'PAGER_DATA' is not set" in err, err
    monkeypatch.setenv("PAGER_DATA", str(tmp_path / "data"))
    code, out = backup_cli("--config", str(cfg), "--to", str(tmp_path / "c3"))
    assert code == 0 and out.startswith(f"backed up {tmp_path / 'data'} to "), out
    # a file that is not YAML is refused with where
    cfg.write_text("data_dir: [\n")
    assert main(["backup", "--config", str(cfg), "--to", str(tmp_path / "c4")]) == 1
    assert "invalid YAML at line 2" in capsys.readouterr().err
    # a key that is no setting is refused as serve refuses it, not taken for the default
    # folder (./pager-data) with the key left unread
    cfg.write_text(f"data-dir: {tmp_path / 'data'}\n")
    assert main(["backup", "--config", str(cfg), "--to", str(tmp_path / "c5")]) == 1
    err = capsys.readouterr().err
    assert "unknown key 'data-dir' (did you mean 'data_dir'?)" in err, err
    assert not (tmp_path / "c5").exists()


def test_a_configuration_on_postgresql_is_told_how_to_back_up(tmp_path: Path) -> None:
    """Its log is in the database, not in `data_dir`: the refusal says that and what to do,
    rather than that `data_dir` is not a pager data folder."""
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        'store: {type: postgres, dsn: "host=127.0.0.1 port=1 user=pager dbname=pager"}\n'
    )
    with pytest.raises(SystemExit) as refused:
        main(["backup", "--config", str(cfg), "--to", str(tmp_path / "copy")])
    message = str(refused.value)
    assert message.startswith(f"pager backup: {cfg} keeps the event log in PostgreSQL;"), message
    assert "pg_dump" in message and not (tmp_path / "copy").exists()
