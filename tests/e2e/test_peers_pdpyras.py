"""The real `pdpyras` client (PagerDuty's Python client, 5.4) pointed at pager instead of
events.pagerduty.com, on the main port and on the lean ingest listener alike.

pdpyras posts to `{session.url}/v2/enqueue` and raises unless the 2xx answer carries
`dedup_key`; it is synchronous (requests), so each call runs in a worker thread while pager's
trio loop keeps serving.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from ..harness import make_config, running_pager
from .peers import PagerAPI, journaled_since

with warnings.catch_warnings():
    # 5.4 warns on import that it is deprecated in favour of `pagerduty`; it is still what
    # many senders run, and the one this test speaks for
    warnings.filterwarnings("ignore", message='The package "pdpyras" is deprecated')
    import pdpyras

pytestmark = pytest.mark.peers

ROUTING_KEY = "R0UT1NGKEYCHECKOUT00000000000000"


async def call(fn: Callable[..., str], *args: Any, **kwargs: Any) -> str:
    return await trio.to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=True)


@pytest.mark.parametrize("listener", ["main", "lean"])
async def test_pdpyras_trigger_duplicate_acknowledge_resolve_and_retrigger(
    tmp_path: Path, listener: str
) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(make_config(tmp_path / "data", fsync=False)) as run,
            httpx.AsyncClient(timeout=5) as client,
        ):
            api = PagerAPI(client, run.urls[0])
            session = pdpyras.EventsAPISession(ROUTING_KEY)
            session.url = run.urls[0] if listener == "main" else run.ingest_url
            session.timeout = 5
            try:
                # trigger: a new incident, the answer carries the dedup key
                key = await call(
                    session.trigger,
                    "Payment API 5xx rate high",
                    "api-1.example",
                    dedup_key="pay-5xx",
                    severity="critical",
                    custom_details={"error_rate": 0.37},
                    links=[{"href": "https://runbooks.example/pay", "text": "runbook"}],
                )
                assert key == "pay-5xx"
                [inc] = await api.incidents()
                assert inc["id"] == "inc-1" and inc["status"] == "triggered"
                assert inc["dedup_key"] == "pay-5xx" and inc["integration"] == "pagerduty"
                assert inc["title"] == "Payment API 5xx rate high"

                # the same dedup key again: the same incident, its alert counted twice
                assert (
                    await call(
                        session.trigger,
                        "Payment API 5xx rate high",
                        "api-1.example",
                        dedup_key="pay-5xx",
                        custom_details={"error_rate": 0.41},
                    )
                    == "pay-5xx"
                )
                inc = await api.incident("inc-1")
                assert len(await api.incidents()) == 1
                [alert] = inc["alerts"]
                assert alert["key"] == "pay-5xx" and alert["count"] == 2
                assert alert["source"] == "api-1.example"
                assert alert["details"]["custom_details"] == {"error_rate": 0.41}

                # acknowledge
                assert await call(session.acknowledge, "pay-5xx") == "pay-5xx"
                inc = await api.incident("inc-1")
                assert inc["status"] == "acknowledged"
                assert inc["timeline"][-1]["via"] == "pagerduty"

                # resolve
                assert await call(session.resolve, "pay-5xx") == "pay-5xx"
                inc = await api.incident("inc-1")
                assert inc["status"] == "resolved"
                assert [a["status"] for a in inc["alerts"]] == ["resolved"]

                # a trigger without a dedup key: pager makes one and answers with it
                generated = await call(
                    session.trigger, "No dedup key given", "api-2.example", severity="warning"
                )
                assert generated and generated != "pay-5xx"
                [inc2] = await api.incidents(status="open")
                assert inc2["id"] == "inc-2" and inc2["dedup_key"] == generated
                assert inc2["severity"] == "warning"
                # ... and that key reaches the incident it opened
                assert await call(session.resolve, generated) == generated
                assert (await api.incident("inc-2"))["status"] == "resolved"

                # the first key again, after its incident was resolved: a NEW incident
                assert (
                    await call(
                        session.trigger,
                        "Payment API 5xx again",
                        "api-1.example",
                        dedup_key="pay-5xx",
                    )
                    == "pay-5xx"
                )
                found = await api.incidents()
                assert [(i["id"], i["status"]) for i in found] == [
                    ("inc-1", "resolved"),
                    ("inc-2", "resolved"),
                    ("inc-3", "triggered"),
                ]
                assert found[2]["dedup_key"] == "pay-5xx"
                assert [a["count"] for a in (await api.incident("inc-3"))["alerts"]] == [1]

                # acknowledge and resolve of a key with nothing open: accepted, no change
                seq = run.system.log.last_seq
                assert await call(session.acknowledge, "never-seen") == "never-seen"
                assert await call(session.resolve, "never-seen") == "never-seen"
                assert journaled_since(run.system.log, seq) == []
                assert len(await api.incidents()) == 3
            finally:
                session.close()
