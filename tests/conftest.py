"""Fixtures shared across the test packages, and one fix to a test client."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket._impl as _ws
from wsproto.connection import ConnectionState

from .postgres import Cluster, available
from .standins.smtp import self_signed


@pytest.fixture(autouse=True)
def no_worker_thread_on_the_autojump_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that reaches a worker thread (`trio.to_thread.run_sync`, or
    `trio.lowlevel.start_thread_soon` as the event log calls it) while it runs on
    a MockClock that autojumps: while a thread works, every task is blocked, so the clock
    jumps virtual time to the next deadline; on a loaded machine a deadline fires before its
    time or virtual time runs past the test's end (a weekly report was lost that way). Such
    a test makes the threaded part inline (e.g. `pager.actors.reports.in_worker_thread`) or
    runs on the real clock. The thread still runs: this only records it, and the test fails
    at teardown, so that product code that catches errors cannot hide it."""
    reached: list[str] = []
    run_sync = trio.to_thread.run_sync

    async def recorded(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        clock = trio.lowlevel.current_clock()
        if isinstance(clock, trio.testing.MockClock) and clock.autojump_threshold < math.inf:
            reached.append(getattr(fn, "__qualname__", repr(fn)))
        return await run_sync(fn, *args, **kwargs)

    monkeypatch.setattr(trio.to_thread, "run_sync", recorded)
    # the event log hands its writes to trio's worker threads directly (pager.store.jsonl)
    start_soon = trio.lowlevel.start_thread_soon

    def recorded_start(fn: Callable[[], Any], deliver: Callable[[Any], object], **kw: Any) -> None:
        try:
            clock = trio.lowlevel.current_clock()
        except RuntimeError:  # called from outside trio (a thread of the test's)
            clock = None
        if isinstance(clock, trio.testing.MockClock) and clock.autojump_threshold < math.inf:
            reached.append(getattr(fn, "__qualname__", repr(fn)))
        start_soon(fn, deliver, **kw)

    monkeypatch.setattr(trio.lowlevel, "start_thread_soon", recorded_start)
    yield
    assert not reached, (
        f"worker threads on an autojumping MockClock ({', '.join(reached)}): virtual time "
        "jumps ahead while a thread works; make the threaded part inline in this test"
    )


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


# trio-websocket 0.12.2 answers a ping that arrives while the client is closing with a
# Pong that wsproto refuses (LOCAL_CLOSING); its reader task dies and a `Cancelled` leaks
# out of `open_websocket_url`, which `running_pager`'s nursery then swallows: the rest of
# the test was skipped without a word. hypercorn pings every stream as soon as it opens,
# so a test that reads a message and closes hit it now and then. The fix proposed upstream
# (python-trio/trio-websocket#184, pull request #198): no Pong unless the connection is
# open. Drop this once a release carries it.
_answer_ping = _ws.WebSocketConnection._handle_ping_event


async def _answer_ping_while_open(self: Any, event: Any) -> None:
    if self._wsproto.state is ConnectionState.OPEN:
        await _answer_ping(self, event)


_ws.WebSocketConnection._handle_ping_event = _answer_ping_while_open  # type: ignore[method-assign]
