"""The dashboard's session file (data_dir/web-sessions.json): sessions expire and end,
survive a new store on the same folder, and a file that is damaged, of another shape or
readable by others costs a sign-in at most — never pager's start."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import trio

from pager.web.sessions import FILE, SessionStore

from ..harness import running_pager
from .dashboard_helpers import dashboard_config, sign_in

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


async def test_sessions_expire_and_end(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = await store.create("alice", NOW, timedelta(hours=12), key="k")
    assert store.get(sid, NOW + timedelta(hours=11, minutes=59)).user == "alice"  # type: ignore[union-attr]
    assert store.get(sid, NOW + timedelta(hours=12)) is None
    assert store.get("another", NOW) is None
    # persisted: a new store on the same folder knows it (and its key), until it ends
    again = SessionStore(tmp_path)
    assert again.get(sid, NOW).key == "k"  # type: ignore[union-attr]
    await again.end(sid, NOW)
    assert SessionStore(tmp_path).get(sid, NOW) is None
    assert stat.S_IMODE(os.stat(tmp_path / FILE).st_mode) == 0o600


async def test_known_browsers_are_kept_and_bounded(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    first = await store.remember_device("alice", NOW, timedelta(days=30), "k")
    assert store.device(first, NOW)[1].user == "alice"  # type: ignore[index]
    again = await store.remember_device("alice", NOW, timedelta(days=30), "k", old=first)
    assert store.device(first, NOW) is None and store.device(again, NOW) is not None
    ids = [await store.remember_device("alice", NOW, timedelta(days=30), "k") for _ in range(30)]
    assert sum(store.device(d, NOW) is not None for d in ids) == 20  # the newest 20
    assert SessionStore(tmp_path).device(ids[-1], NOW + timedelta(days=29)) is not None
    assert SessionStore(tmp_path).device(ids[-1], NOW + timedelta(days=30)) is None


DAMAGED = [b"{not json", b"[]", b'"text"', b'{"sessions": []}', b"\xff\xfe"]
BAD_ENTRIES = [
    b'{"sessions": {"x": "y"}}',
    b'{"sessions": {"x": {"user": "a", "expires": "2026-03-02T03:00:00", "csrf": "c"}}}',
]


@pytest.mark.parametrize("content", DAMAGED + BAD_ENTRIES)
def test_a_damaged_file_costs_a_sign_in_not_the_start(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE).write_bytes(content)
    store = SessionStore(tmp_path)
    assert len(store) == 0
    if content in DAMAGED:  # set aside, with a warning that says what it costs
        assert "everyone signs in to the dashboard again" in caplog.text
        assert (tmp_path / (FILE + ".unreadable")).read_bytes() == content
    else:  # the right shape: only the entries that are not sessions are skipped
        assert (tmp_path / FILE).read_bytes() == content


def test_a_file_readable_by_others_is_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / FILE
    path.write_text(json.dumps({"v": 1, "sessions": {}}))
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        SessionStore(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "readable by others" in caplog.text


async def test_pager_starts_on_a_damaged_file_and_sessions_work_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / FILE).write_text("[]")
    with trio.fail_after(60):
        async with running_pager(dashboard_config(data)) as run, httpx.AsyncClient() as client:
            await sign_in(client, run.urls[0], "alice")
    assert (data / (FILE + ".unreadable")).read_text() == "[]"  # kept for a look
    assert "sessions" in json.loads((data / FILE).read_text())


def test_a_password_hash_stays_out_of_reprs(tmp_path: Path) -> None:
    """A configuration or a user printed into a log must not carry a hash to crack."""
    from .dashboard_helpers import HASHES

    config = dashboard_config(tmp_path)
    alice = config.user("alice")
    assert alice is not None and alice.password_hash == HASHES["alice"]
    assert HASHES["alice"] not in repr(alice) and HASHES["alice"] not in repr(config)
