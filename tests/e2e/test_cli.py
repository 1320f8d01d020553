"""The command line: `pager replay` in each mode on a real data folder, `check-config` and
`serve` refusing bad input with one clear line."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
import trio

from pager.cli import main
from pager.store.segments import list_segments

from ..harness import auth, config_text, make_config, running_pager


async def make_history(data: Path) -> None:
    async with running_pager(make_config(data)) as run, httpx.AsyncClient() as client:
        base = run.urls[0]
        for key in ("a", "b"):
            r = await client.post(
                f"{base}/integrations/generic/gen-checkout", json={"title": key, "dedup_key": key}
            )
            assert r.status_code == 202
        r = await client.post(
            f"{base}/api/v1/incidents/inc-1/resolve", headers=auth(), json={"by": "alice"}
        )
        assert r.status_code == 200


@pytest.fixture
def history(tmp_path: Path) -> Path:
    async def build() -> None:
        with trio.fail_after(30):
            await make_history(tmp_path / "data")

    trio.run(build)
    return tmp_path / "data"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_replay_verify_export_incident_and_at(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--verify")
    assert code == 0 and out.strip().endswith("clean")
    assert "2 incidents (1 open)" in out and "1 snapshot(s) checked" in out

    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--export")
    lines = [orjson.loads(x) for x in out.splitlines()]
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    assert {"v", "seq", "ts", "type", "subject", "data"} <= set(lines[0])

    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--incident", "inc-1")
    kinds = [line.split()[2] for line in out.splitlines()]
    assert kinds[0] == "incident.opened" and kinds[-1] == "incident.resolved"

    resolved_at = next(x["ts"] for x in lines if x["type"] == "incident.resolved")
    opened_b = next(
        x["ts"] for x in lines if x["type"] == "incident.opened" and x["subject"] == "inc-2"
    )
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--at", opened_b)
    state = orjson.loads(out)
    assert sorted(i["id"] for i in state["open_incidents"]) == ["inc-1", "inc-2"]
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--at", resolved_at)
    assert [i["id"] for i in orjson.loads(out)["open_incidents"]] == ["inc-2"]


def test_replay_reads_the_data_dir_of_config_and_data_dir_wins(
    history: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(history))
    code, out, _ = run_cli(capsys, "replay", "--config", str(cfg), "--verify")
    assert code == 0 and out.endswith("clean\n") and "2 incidents (1 open)" in out
    monkeypatch.setenv("PAGER_CONFIG", str(cfg))
    monkeypatch.chdir(tmp_path)  # no ./pager-data here: the config's data_dir is read
    assert run_cli(capsys, "replay", "--verify")[1] == out
    with pytest.raises(SystemExit, match="elsewhere is not a pager data folder"):
        main(["replay", "--data-dir", str(tmp_path / "elsewhere"), "--verify"])
    # an operator's shell lacks the secrets systemd reads from pager.env: replay reads only
    # data_dir and store, so the file's other ${VAR}s need not be set
    monkeypatch.delenv("PAGER_TEST_UNSET_TOKEN", raising=False)
    cfg.write_text(config_text(history).replace('token: "', 'token: "${PAGER_TEST_UNSET_TOKEN}', 1))
    assert "${PAGER_TEST_UNSET_TOKEN}" in cfg.read_text()
    assert run_cli(capsys, "replay", "--config", str(cfg), "--verify")[1] == out
    # the store's own variables must be set, and are named
    cfg.write_text('store: {type: postgres, dsn: "${PAGER_TEST_UNSET_TOKEN}"}\n')
    code, _, err = run_cli(capsys, "replay", "--config", str(cfg), "--verify")
    assert (
        code == 1 and "store.dsn: environment variable 'PAGER_TEST_UNSET_TOKEN' is not set" in err
    )


def test_replay_finds_damage_and_repair_cuts_it_keeping_the_rest(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = list_segments(history / "events")[0].path
    lines = seg.read_bytes().splitlines(keepends=True)
    n = len(lines)
    lines[3] = b"garbage\n"
    seg.write_bytes(b"".join(lines))
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--verify")
    assert code == 1
    assert f"{seg}:4: not valid JSON" in out and "--repair" in out
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--repair")
    assert code == 0 and "cut" in out
    kept = list((history / "events").glob("damaged-*/*.jsonl"))
    assert len(kept) == 1 and len(kept[0].read_bytes().splitlines()) == n - 3
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(history), "--verify")
    assert code == 0, out
    assert "3 records" in out


def test_records_of_a_newer_pager_are_refused_and_never_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record of a newer schema is not damage: --verify names it and says a newer pager
    wrote it, without offering --repair, and --repair refuses to cut it."""
    from pager.core.events import SCHEMA_VERSION

    events = tmp_path / "data" / "events"
    events.mkdir(parents=True)
    seg = events / "000000000001.jsonl"
    lines = [
        {"v": v, "seq": seq, "ts": "2026-03-02T03:00:00Z", "type": "service.change",
         "subject": "service:checkout", "data": {"service_id": "checkout", "summary": "deploy"}}
        for seq, v in ((1, SCHEMA_VERSION), (2, SCHEMA_VERSION + 1))
    ]  # fmt: skip
    raw = b"".join(orjson.dumps(x) + b"\n" for x in lines)
    seg.write_bytes(raw)
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(tmp_path / "data"), "--verify")
    assert code == 1
    assert f"{seg}:2: schema version {SCHEMA_VERSION + 1} is newer" in out, out
    assert "a newer pager wrote it" in out and "--repair" not in out, out
    with pytest.raises(
        SystemExit, match=r"^pager replay: .*a newer pager wrote it.*Nothing was cut"
    ):
        main(["replay", "--data-dir", str(tmp_path / "data"), "--repair"])
    assert seg.read_bytes() == raw and sorted(p.name for p in events.iterdir()) == [seg.name]


def test_check_config_and_serve_report_problems_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "services:\n  - id: x\n    escalation_policy: primay\nescalation_policies:\n"
        "  - id: primary\n    levels: [{targets: [{user: nobody}], escalate_after: 5m}]\n"
    )
    code, out, _ = run_cli(capsys, "check-config", str(bad))
    assert code == 1
    assert "unknown escalation policy 'primay' (did you mean 'primary'?)" in out
    assert "escalation_policies[0].levels[0].targets[0]" in out
    code, _, err = run_cli(capsys, "serve", "--config", str(bad))
    assert code == 1 and "Traceback" not in err and "primay" in err
    code, _, err = run_cli(capsys, "serve", "--config", str(tmp_path / "missing.yaml"))
    assert code == 1 and "missing.yaml" in err and "Traceback" not in err


def test_route_test_prints_the_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ..harness import config_text, pd_trigger

    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    payload = tmp_path / "alert.json"
    payload.write_bytes(orjson.dumps(pd_trigger("db-1/cpu")))
    code, out, _ = run_cli(
        capsys, "route-test", "--config", str(cfg), str(payload), "--at", "2026-03-02T03:00:00Z"
    )
    assert code == 0
    assert "service: checkout" in out and "escalation policy: default" in out
    assert "+0m00s  2026-03-02T03:00:00+00:00  notify bob by console" in out
    assert "+5m00s  2026-03-02T03:05:00+00:00  level 2: carol" in out
    code, out, _ = run_cli(capsys, "route-test", "--config", str(cfg), str(payload), "--json")
    assert orjson.loads(out)["dedup_key"] == "db-1/cpu"
    assert not (tmp_path / "data").exists()  # a dry run touches no data folder


async def test_sighup_reloads_the_configuration(tmp_path: Path) -> None:
    import signal

    from ..harness import config_text
    from .service import PagerProcess

    cfg = tmp_path / "pager.yaml"
    text = config_text(tmp_path / "data")
    cfg.write_text(text)
    pager = PagerProcess(cfg, tmp_path / "pager.log")
    with trio.fail_after(60):
        await pager.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                url = f"{pager.url}/integrations/generic/gen-new"
                assert (await client.post(url, json={"title": "x"})).status_code == 404
                cfg.write_text(text.replace("key: gen-payments", "key: gen-new"))
                assert pager.proc is not None
                pager.proc.send_signal(signal.SIGHUP)
                while (await client.post(url, json={"title": "x"})).status_code != 202:
                    await trio.sleep(0.05)
                cfg.write_text("not: [valid")
                pager.proc.send_signal(signal.SIGHUP)
                while "keeping the old one" not in (tmp_path / "pager.log").read_text():
                    await trio.sleep(0.05)
                assert (await client.post(url, json={"title": "y"})).status_code == 202
        finally:
            assert await pager.stop() == 0


def test_repair_of_a_gap_between_segments_keeps_every_whole_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pager.store.base import Draft
    from pager.store.jsonl import JsonlLog

    from ..store.conftest import T0

    async def write() -> None:
        lg = JsonlLog.open(tmp_path / "data", segment_size=400)
        async with trio.open_nursery() as n:
            await n.start(lg.run)
            for i in range(1, 13):
                await lg.append(
                    [Draft("config.applied", "config", T0, {"digest": f"d{i}", "source": "t"}, 1)]
                )
            await lg.close()

    trio.run(write)
    segs = list_segments(tmp_path / "data" / "events")
    assert len(segs) >= 3
    second = segs[1].path
    lines = second.read_bytes().splitlines(keepends=True)
    second.write_bytes(b"".join(lines[1:]))  # its first record is lost...
    second.rename(second.with_name(f"{segs[1].first_seq + 1:012d}.jsonl"))  # ...as in a bad copy
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(tmp_path / "data"), "--verify")
    assert code == 1 and "starts at" in out
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(tmp_path / "data"), "--repair")
    assert code == 0
    code, out, _ = run_cli(capsys, "replay", "--data-dir", str(tmp_path / "data"), "--verify")
    assert code == 0, out
    assert f"{segs[1].first_seq - 1} records" in out  # everything before the gap, all of it
