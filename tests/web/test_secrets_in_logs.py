"""Credentials in a request's path stay out of the log also when the request fails in a way
nobody planned: the token of an action link (`/a/TOKEN`) or a calendar feed
(`/ical/.../TOKEN.ics`) and the integration key of `/integrations/generic/KEY` are cut from
the line that reports the failure, as `pager.web.raw.path_for_logs` cuts them elsewhere."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import trio

from pager.core import calendars
from pager.web import ingest, links

from ..harness import make_config, running_pager


class Unplanned(Exception):
    pass


def fail(*args: object, **kwargs: object) -> object:
    raise Unplanned("an unplanned failure")


async def test_an_unexpected_failure_logs_the_path_without_its_credential(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calendars, "token_matches", fail)
    monkeypatch.setattr(links, "verify_link", fail)
    monkeypatch.setattr(ingest.IngestEndpoints, "_route", fail)
    caplog.set_level(logging.INFO)
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data", fsync=False)) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            asked = [
                ("GET", "/ical/users/alice/CALENDAR-T0KEN-1.ics", "/ical/users/alice/…"),
                ("GET", "/a/L1NK-T0KEN-2.abc", "/a/…"),
                ("POST", "/a/L1NK-T0KEN-2.abc", "/a/…"),
                ("POST", "/integrations/generic/gen-checkout", "/integrations/generic/…"),
            ]
            for method, path, shown in asked:
                caplog.clear()
                body = {"title": "x", "status": "firing"} if method == "POST" else None
                r = await client.request(method, base + path, json=body)
                assert r.status_code == 500, (path, r.status_code, r.text)
                # pager's log, with tracebacks (not the test's own HTTP client's)
                ours = [rec for rec in caplog.records if not rec.name.startswith("httpx")]
                lines = "\n".join(logging.Formatter().format(rec) for rec in ours)
                assert shown in lines, lines
                for secret in ("CALENDAR-T0KEN-1", "L1NK-T0KEN-2", "gen-checkout"):
                    assert secret not in lines, lines
