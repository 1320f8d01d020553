"""The replay regression fixture (tests/fixtures/replay, made by its make.py from a real run
of pager): a data folder written by the code of before issue 10's redesign. Whatever the
core becomes, it must read this folder to the same state and print the same `pager replay`
outputs, byte for byte, with and without the folder's two snapshots."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from pager.core.state import SystemState
from pager.store.jsonl import JsonlLog
from pager.store.snapshots import json_default

from ..fixtures.replay.golden import CASES, Case, replay, started_state, without_snapshots
from ..fixtures.replay.make import DATA, GOLDEN


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """Copies (start-up locks its folder): as committed, and without snapshots/."""
    root = tmp_path_factory.mktemp("fixture")
    whole = root / "whole"
    shutil.copytree(DATA, whole, ignore=shutil.ignore_patterns("LOCK"))
    return {True: whole, False: without_snapshots(whole, root / "bare")}


def test_the_fixture_is_small_and_has_what_it_should() -> None:
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 100_000
    assert len(list((DATA / "events").glob("*.jsonl"))) >= 2
    assert len(list((DATA / "snapshots").glob("*.snap"))) == 2
    log = "".join(p.read_text() for p in sorted((DATA / "events").glob("*.jsonl")))
    for what in (
        '"integration":"pagerduty"',
        '"integration":"alertmanager"',
        '"integration":"generic"',
        '"type":"service.change"',
        '"type":"incident.acknowledged"',
        '"type":"incident.snoozed"',
        '"type":"incident.note_added"',
        '"type":"incident.escalated"',
        '"type":"incident.resolved"',
        '"type":"notification.failed"',
        "answered 500",
        "error 21211",
    ):
        assert what in log, what


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}{'' if c.snapshots else '-bare'}")
def test_replay_prints_the_golden_output(case: Case, folders: dict[bool, Path]) -> None:
    code, text = replay(folders[case.snapshots], case.args)
    assert code == 0, text
    assert text == (GOLDEN / case.name).read_text()


@pytest.mark.parametrize("use_snapshot", [True, False], ids=["snapshot", "no-snapshot"])
def test_start_up_loads_the_golden_state(use_snapshot: bool, folders: dict[bool, Path]) -> None:
    text = started_state(folders[use_snapshot], use_snapshot)
    assert text == (GOLDEN / "state.json").read_text()


def test_a_snapshot_is_not_changed_by_the_records_folded_after_it(
    folders: dict[bool, Path],
) -> None:
    """The snapshotter captures the state on the event loop (`capture()`) and the log
    builds the snapshot from the capture and serializes it in a thread while the state folds
    on, so neither may share anything the fold mutates: a capture and a snapshot after every
    record of the fixture, each built or serialized again once every record is folded, read
    as the snapshot did then."""
    log = JsonlLog.open(folders[False])
    try:
        state = SystemState()
        taken = []
        for rec in log.read_from(1):
            state.apply(rec)
            snap = state.to_snapshot()
            taken.append((rec.seq, snap, state.capture(), _dump(snap)))
    finally:
        log.release()
    assert len(taken) > 50
    for seq, snap, capture, then in taken:
        assert _dump(snap) == then, f"the snapshot at {seq} changed as later records folded"
        assert _dump(capture.to_snapshot()) == then, f"the capture at {seq} changed"


def _dump(snap: object) -> bytes:
    return orjson.dumps(snap, option=orjson.OPT_UTC_Z, default=json_default)
