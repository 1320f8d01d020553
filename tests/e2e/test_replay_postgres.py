"""`pager replay --config FILE` on a PostgreSQL store, against a real server (tests/postgres.py).

The replay fixture's records (tests/fixtures/replay) are written into the database by a real
`PostgresLog` holding the lease, with the fixture's two snapshots; the tool reads them while
that writer still runs and must print what the folder tool prints over the folder (the golden
outputs). Damage is made by SQL. The export round trip starts from a real pager on the
database and ends in a pager on a JSON-lines folder made of nothing but the export."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import trio

from pager.cli import main
from pager.store import pg_reader
from pager.store.base import Draft
from pager.store.lease import Lease
from pager.store.postgres import PostgresLog
from pager.store.segments import iter_records, list_history
from pager.store.snapshots import list_snapshots, read_snapshot

from ..fixtures.replay.golden import AT, INCIDENTS
from ..fixtures.replay.make import DATA, GOLDEN
from ..harness import auth, config_text, make_config, running_pager, until


def sql(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def pg_config(tmp_path: Path, dsn: str) -> Path:
    cfg = tmp_path / "pager-pg.yaml"
    cfg.write_text(
        config_text(tmp_path / "unused-data", fsync=False)
        + f'store: {{type: postgres, dsn: "{dsn}", lease_ttl: 5s}}\n'
    )
    return cfg


def pager_replay(*argv: str) -> tuple[int, str, str]:
    """`pager replay ARGV` in-process: exit code, standard output, standard error."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["replay", "--quiet", *argv])
        except SystemExit as e:
            code, _ = 2, err.write(str(e.code))
    return code, out.getvalue(), err.getvalue()


@dataclass
class Written:
    dsn: str
    config: Path
    writer: PostgresLog
    epoch: int


@contextlib.asynccontextmanager
async def fixture_in_postgres(tmp_path: Path, dsn: str) -> AsyncIterator[Written]:
    """The fixture's 57 records appended by a real PostgresLog (a batch per segment) and
    its snapshots stored by it; the writer keeps the lease and runs while the test reads."""
    writer = PostgresLog.open(dsn, node="writer", poll=0.2)
    lease = Lease(dsn, "writer", timedelta(seconds=60))
    epoch = lease.acquire()
    lease.close()
    assert epoch is not None
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await writer.activate(epoch)
        batch: list[Draft] = []
        segments = list_history(DATA)
        starts = {s.first_seq for s in segments}
        for rec in iter_records(segments, 1):
            if rec.seq in starts and batch:
                await writer.append(batch)
                batch = []
            batch.append(Draft(rec.type, rec.subject, rec.ts, rec.data, rec.v))
        await writer.append(batch)
        for snap in sorted(list_snapshots(DATA / "snapshots"), key=lambda s: s.seq):
            stored = read_snapshot(snap.path)
            await writer.save_snapshot(stored.seq, stored.ts, stored.state)
        try:
            yield Written(dsn, pg_config(tmp_path, dsn), writer, epoch)
        finally:
            await writer.close()


def split_timeline(text: str) -> list[tuple[str, str, str, Any]]:
    """`--incident` lines as (seq, ts, type, detail as JSON): jsonb keeps no key order, so
    the detail's keys come in the database's order."""
    out = []
    for line in text.splitlines():
        seq, ts, typ, detail = line.split(maxsplit=3)
        out.append((seq, ts, typ, orjson.loads(detail)))
    return out


async def test_verify_at_and_incident_read_the_database_as_the_folder_is_read(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_reader, "PAGE", 10)  # the 57 records in six fetches
    with trio.fail_after(60):
        async with fixture_in_postgres(tmp_path, pg_dsn) as w:
            lease_before = sql(pg_dsn, "SELECT epoch, holder, acquired_at FROM pager_leader")
            nodes_before = sql(pg_dsn, "SELECT node, role FROM pager_nodes ORDER BY node")
            cfg = str(w.config)

            code, out, err = pager_replay("--config", cfg, "--verify")
            assert code == 0, out + err
            port, db = pg_dsn.split("port=")[1].split()[0], pg_dsn.split("dbname=")[1]
            folder_verify = (GOLDEN / "verify.txt").read_text()
            assert out == folder_verify.replace(
                "in 3 segment(s) (first 000000000001.jsonl)",
                f"in pager_events in 127.0.0.1:{port}/{db}",
            ), out

            for at in AT:  # the state at each instant: byte for byte the folder's
                code, out, err = pager_replay("--config", cfg, "--at", at)
                golden = (GOLDEN / f"at-{at.replace(':', '')}.json").read_text()
                assert code == 0 and out == golden, (at, err)

            for iid in INCIDENTS:
                code, out, _ = pager_replay("--config", cfg, "--incident", iid)
                golden = (GOLDEN / f"incident-{iid.replace(':', '-')}.txt").read_text()
                assert code == 0 and split_timeline(out) == split_timeline(golden), iid
                assert len(out.splitlines()) == len(golden.splitlines())
            code, out, _ = pager_replay("--config", cfg, "--incident", "inc-99")
            assert code == 1 and out == "no records for inc-99\n"

            # read while the writer holds the lease: no lease taken, no node reported, and the
            # writer goes on appending
            assert (
                sql(pg_dsn, "SELECT epoch, holder, acquired_at FROM pager_leader") == lease_before
            )
            assert sql(pg_dsn, "SELECT node, role FROM pager_nodes ORDER BY node") == nodes_before
            at = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
            more = await w.writer.append([Draft("test.event", "inc-9", at, {"i": 1}, 1)])
            assert more[0].seq == 58


async def test_pager_config_in_the_environment_names_the_database(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(60):
        async with fixture_in_postgres(tmp_path, pg_dsn) as w:
            monkeypatch.setenv("PAGER_CONFIG", str(w.config))
            code, out, _ = pager_replay("--verify")
            assert code == 0 and out.endswith("clean\n") and "57 records in pager_events" in out
            # --data-dir still reads a folder
            code, out, _ = pager_replay("--data-dir", str(DATA), "--verify")
            assert code == 0 and out == (GOLDEN / "verify.txt").read_text()


async def test_verify_finds_a_gap_an_undecodable_row_and_a_newer_pagers_row(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_reader, "PAGE", 29)  # the gap at record 30 falls between two fetches
    with trio.fail_after(60):
        async with fixture_in_postgres(tmp_path, pg_dsn) as w:
            cfg = str(w.config)
            where = f"pager_events in 127.0.0.1:{pg_dsn.split('port=')[1].split()[0]}/"

            sql(pg_dsn, "CREATE TABLE kept AS SELECT * FROM pager_events WHERE seq IN (30, 40)")
            restore_40 = "UPDATE pager_events SET v = 1, data = (SELECT data FROM kept WHERE seq = 40) WHERE seq = 40"

            # a gap: record 30 gone
            sql(pg_dsn, "DELETE FROM pager_events WHERE seq = 30")
            code, out, _ = pager_replay("--config", cfg, "--verify")
            assert code == 1, out
            assert f"problem: {where}" in out
            assert "record 30: missing (sequence gap: the next is 31)" in out
            assert out.startswith("29 records in ") and out.endswith("2 problem(s)\n")
            # the snapshot at 38 lies past where reading stopped: said too
            assert "snapshot at 38 is past the log's end (29)" in out
            sql(pg_dsn, "INSERT INTO pager_events SELECT * FROM kept WHERE seq = 30")
            assert pager_replay("--config", cfg, "--verify")[0] == 0

            # a row whose data is not an object
            sql(pg_dsn, "UPDATE pager_events SET data = '[1, 2]' WHERE seq = 40")
            code, out, _ = pager_replay("--config", cfg, "--verify")
            assert code == 1 and "record 40: data is a JSON array, not an object" in out, out
            assert out.startswith("39 records in "), out

            # an object that is not the event its type says
            sql(pg_dsn, "UPDATE pager_events SET data = '{}' WHERE seq = 40")
            code, out, _ = pager_replay("--config", cfg, "--verify")
            assert code == 1, out
            assert "problem: record 40 (notification.requested) does not apply" in out, out

            # a row of a schema version newer than this pager
            sql(pg_dsn, restore_40.replace("v = 1", "v = 99"))
            code, out, _ = pager_replay("--config", cfg, "--verify")
            assert code == 1 and "record 40: schema version 99 is newer" in out, out
            assert "a newer pager wrote it" in out
            sql(pg_dsn, restore_40)
            assert pager_replay("--config", cfg, "--verify")[0] == 0

            # a row inserted after the end whose data is a JSON string
            sql(
                pg_dsn,
                "INSERT INTO pager_events (seq, v, ts, type, subject, data, epoch) VALUES "
                "(58, 1, now(), 'incident.opened', 'inc-9', '\"garbage\"', 1)",
            )
            code, out, _ = pager_replay("--config", cfg, "--verify")
            assert code == 1 and "record 58: data is a JSON string, not an object" in out, out
            assert out.startswith("57 records in "), out
            code, _, err = pager_replay("--config", cfg, "--export")  # one line, no traceback
            assert code == 1 and "record 58: data is a JSON string" in err, err
            sql(pg_dsn, "DELETE FROM pager_events WHERE seq = 58")

            # a snapshot whose body does not match its checksum
            sql(pg_dsn, "UPDATE pager_snapshots SET body = body || '\\x20'::bytea WHERE seq = 19")
            code, out, _ = pager_replay("--config", cfg, "--verify")
            assert code == 1 and "snapshot 19: body does not match its checksum" in out, out


async def test_repair_is_refused_on_the_database(tmp_path: Path, pg_dsn: str) -> None:
    with trio.fail_after(60):
        async with fixture_in_postgres(tmp_path, pg_dsn) as w:
            sql(pg_dsn, "DELETE FROM pager_events WHERE seq = 57")
            before = sql(pg_dsn, "SELECT seq, data FROM pager_events ORDER BY seq")
            code, out, err = pager_replay("--config", str(w.config), "--repair")
            assert code == 2 and out == ""
            assert err.startswith("pager replay: --repair cuts a damaged JSON-lines folder;")
            assert "Nothing was changed" in err and "\n" not in err.strip()
            assert sql(pg_dsn, "SELECT seq, data FROM pager_events ORDER BY seq") == before


async def test_export_of_the_database_is_a_folder_a_jsonl_pager_starts_from(
    tmp_path: Path, pg_dsn: str
) -> None:
    """A pager on PostgreSQL takes alerts and actions; its log exported into a folder's
    events/ is a log that a pager with `store: jsonl` starts from, with the same incidents."""
    store = f'store: {{type: postgres, dsn: "{pg_dsn}", lease_ttl: 2s}}\n'
    pg_cfg = make_config(tmp_path / "pg-node", fsync=False, extra=store)
    paths = ["/api/v1/incidents?limit=1000", "/api/v1/incidents/inc-1", "/api/v1/incidents/inc-2",
             "/api/v1/incidents/inc-3", "/api/v1/notifications?incident=inc-2"]  # fmt: skip
    with trio.fail_after(90):
        async with (
            running_pager(pg_cfg) as run,
            httpx.AsyncClient(base_url=run.urls[0], headers=auth()) as c,
        ):
            while (await c.get("/readyz")).status_code != 200:
                await trio.sleep(0.05)
            # details whose keys jsonb reorders: the incidents must come back the same
            details = {"zeta": 1, "alpha": [1.5, "x"], "mid": {"b": 2, "a": 1}}
            for i in range(4):
                alert = {"title": f"Disk {i}", "dedup_key": f"d{i}", "details": details}
                r = await c.post("/integrations/generic/gen-checkout", json=alert)
                assert r.status_code == 202, r.text
            assert (
                await c.post("/api/v1/incidents/inc-1/acknowledge", json={"by": "alice"})
            ).is_success
            assert (
                await c.post("/api/v1/incidents/inc-2/notes", json={"text": "looking"})
            ).is_success
            assert (await c.post("/api/v1/incidents/inc-3/resolve", json={"by": "bob"})).is_success
            # inc-3's page, held back by the bundling window, is cancelled (journaled) now
            await until(
                run, lambda st: not any(n.open for n in st.notifications.for_incident("inc-3"))
            )
            before = [(await c.get(p)).json() for p in paths]
        last = sql(pg_dsn, "SELECT max(seq) FROM pager_events")[0][0]
        assert last > 10

        cfg = pg_config(tmp_path, pg_dsn)
        code, exported, err = pager_replay("--config", str(cfg), "--export")
        assert code == 0, err
        lines = [orjson.loads(x) for x in exported.splitlines()]
        assert [x["seq"] for x in lines] == list(range(1, last + 1))
        rows = sql(pg_dsn, "SELECT seq, v, ts, type, subject, data FROM pager_events ORDER BY seq")
        assert [
            (x["seq"], x["v"], datetime.fromisoformat(x["ts"]), x["type"], x["subject"], x["data"])
            for x in lines
        ] == [tuple(r) for r in rows]
        code, tail, _ = pager_replay("--config", str(cfg), "--export", "--from", "10")
        assert code == 0 and tail.splitlines() == exported.splitlines()[9:]

        copy = tmp_path / "copy"
        (copy / "events").mkdir(parents=True)
        (copy / "events" / "000000000001.jsonl").write_text(exported)
        code, out, _ = pager_replay("--data-dir", str(copy), "--verify")
        assert code == 0 and f"{last} records in 1 segment(s)" in out, out

        async with (
            running_pager(make_config(copy, fsync=False)) as run,
            httpx.AsyncClient(base_url=run.urls[0], headers=auth()) as c,
        ):
            after = [(await c.get(p)).json() for p in paths]
        assert after == before


async def test_reading_needs_only_select_and_creates_no_tables(
    tmp_path: Path, pg_dsn: str, pg_cluster: Any
) -> None:
    with trio.fail_after(60):
        empty = pg_cluster.create_database("pager_replay_empty")
        cfg = pg_config(tmp_path, empty)
        code, out, err = pager_replay("--config", str(cfg), "--verify")
        assert code == 2 and "has no pager tables (no pager ever ran on it)" in err, err
        assert sql(empty, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]

        async with fixture_in_postgres(tmp_path, pg_dsn):
            role = f"reader_{pg_dsn.split('dbname=')[1]}"  # roles are the whole server's
            sql(pg_dsn, f"CREATE ROLE {role} LOGIN")
            sql(pg_dsn, f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
            reader = pg_config(tmp_path, pg_dsn.replace("user=postgres", f"user={role}"))
            code, out, err = pager_replay("--config", str(reader), "--verify")
            assert code == 0 and out.endswith("clean\n"), out + err
            code, out, _ = pager_replay("--config", str(reader), "--incident", "inc-2")
            assert code == 0 and out.count("\n") > 3
