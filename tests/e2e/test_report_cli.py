"""`pager report` over the golden data folder (tests/fixtures/replay, written before
analytics existed: its snapshots hold no ledger, so the log is folded from its start): the
numbers worked out from its records, as a table and as JSON; and bad input as one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from pager.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "replay" / "data"
RANGE = ("--from", "2026-03-01T00:00:00Z", "--to", "2026-03-08T00:00:00Z")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "data")
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_report_of_the_golden_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(
        (p.relative_to(folder), p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    )
    code, out, _ = run(capsys, "report", "--data-dir", str(folder), "--json", *RANGE)
    assert code == 0
    r = orjson.loads(out)
    # inc-1 acknowledged at 03:01:30 (90 s) and resolved at 03:20 (1200 s) by alice; inc-2
    # snoozed at 03:02:30 (120 s) and resolved by Alertmanager at 03:25 (1470 s); inc-3 open,
    # escalated by hand to bob; inc-2's second walk escalated to bob on timeout
    assert r["incidents"]["opened"] == 3
    assert (r["incidents"]["acknowledged"], r["incidents"]["resolved"]) == (2, 2)
    assert r["incidents"]["auto_resolved"] == 1 and r["incidents"]["retriggered"] == 1
    assert r["mtta_seconds"] == {"count": 2, "mean": 105.0, "p50": 105.0, "p90": 117.0}
    assert r["mttr_seconds"] == {"count": 2, "mean": 1335.0, "p50": 1335.0, "p90": 1443.0}
    assert r["escalations"] == {"total": 2, "timeout": 1, "manual": 1, "reached_last_level": 2}
    assert r["delivery"]["acknowledged_via"] == {"api": 2}
    sms = next(m for m in r["delivery"]["methods"] if m["method"] == "sms")
    assert (sms["requested"], sms["sent"], sms["failed"]) == (4, 3, 1)  # Twilio's 21211
    alice = next(p for p in r["people"] if p["user"] == "alice")
    assert alice["pages"]["total"] == 4 and alice["interruptions"]["total"] == 6

    code, out, _ = run(capsys, "report", "--data-dir", str(folder), *RANGE)
    assert code == 0
    assert out.startswith("pager on-call report: 2026-03-01 00:00 UTC to 2026-03-08 00:00 UTC")
    assert "Incidents: 3 opened, 2 acknowledged, 2 resolved (1 by themselves)" in out
    assert "Time to acknowledge: mean 1m 45s, median 1m 45s, p90 1m 57s" in out
    assert "Woken at night: alice (6)" in out
    code, out, _ = run(capsys, "report", "--data-dir", str(folder), "--service", "nope", *RANGE)
    assert "Incidents: 0 opened" in out
    after = sorted(
        (p.relative_to(folder), p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    )
    assert after == before  # reading changed nothing


def test_report_refuses_bad_input_in_one_line(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["report", "--data-dir", str(folder), "--from", "last week"])
    assert str(e.value).startswith("pager report: --from: 'last week' is not an ISO 8601")
    with pytest.raises(SystemExit) as e:
        main(["report", "--data-dir", str(folder), "--from", "2026-03-08T00:00:00Z",
              "--to", "2026-03-01T00:00:00Z"])  # fmt: skip
    assert str(e.value) == "pager report: to: must be after from"
    with pytest.raises(SystemExit) as e:
        main(["report", "--data-dir", str(tmp_path / "nothing")])
    assert "is not a pager data folder" in str(e.value)


def test_without_config_the_report_says_its_times_are_utc(
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """People's time zones are in the configuration, not in the log: a data folder's report
    without one says on stderr that it reads everyone's day in UTC (the table and the JSON on
    stdout are as before); with --config it knows their zones and says nothing."""
    from tests.fixtures.replay.make import CONFIG

    monkeypatch.delenv("PAGER_CONFIG", raising=False)
    for extra in ((), ("--json",)):
        code, out, err = run(capsys, "report", "--data-dir", str(folder), *extra, *RANGE)
        assert code == 0 and out
        assert err.startswith("pager report: note: no --config, so everyone's times are in UTC")
        assert "--config" in err and err.count("\n") == 1, err
    orjson.loads(out)  # --json's stdout is still the JSON alone
    config = tmp_path / "pager.yaml"
    config.write_text(CONFIG.replace("data_dir: unused", f"data_dir: {folder}"))
    code, out, err = run(capsys, "report", "--config", str(config), *RANGE)
    assert code == 0 and out.startswith("pager on-call report:") and err == ""
