"""The ingest endpoints on the wire, on the main port and on the lean listener alike.

Every request captured from a real sender (`/work/shared/fixtures/wire/*.json`: Alertmanager
0.25, Prometheus 2.42 through it, pdpyras 5.4, pagerduty 7.2) is replayed as it was sent and
must get the answer the fixture shows. Then a table of bad input: each must get a 4xx whose
JSON names what was wrong, and leave nothing behind (no record journaled, the incident list
as it was). Last, the answers a sender must retry: 429 (and 503 for Alertmanager, which
retries only 5xx) over a key's rate, and 503 while the log cannot be written, after which
nothing accepted before is missing.

Each test runs the real pager (`tests.harness.running_pager`) on 127.0.0.1 port 0 under an
absolute `trio.fail_after`; nothing sleeps.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from pager.store.jsonl import JsonlLog

from ..e2e.peers import journaled_since
from ..harness import auth, make_config, pd_trigger, running_pager

WIRE = Path("/work/shared/fixtures/wire")
FIXTURES = sorted(WIRE.glob("*.json"))
FIXTURE_KEY = "R0UT1NGKEYHARNESS0000000000000000"
FIXTURE_AM_PATH = "/integrations/alertmanager/harness-am-key"
ROUTING_KEY = "R0UT1NGKEYCHECKOUT00000000000000"
PD = "/v2/enqueue"
PD_CHANGE = "/v2/change/enqueue"
AM = "/integrations/alertmanager/am-checkout"
GENERIC = "/integrations/generic/gen-checkout"
JSON = {"content-type": "application/json"}
LISTENERS = ["main", "lean"]
DEADLINE = 20


@dataclass
class Pager:
    """A running pager and a client for the listener under test (`base`) and the API."""

    run: Any
    client: httpx.AsyncClient
    base: str

    @property
    def api(self) -> str:
        return self.run.urls[0]

    async def post(
        self, path: str, body: Any = None, *, content: bytes | None = None, headers: Any = None
    ) -> httpx.Response:
        if content is None:
            content = json.dumps(body).encode()
        return await self.client.post(
            self.base + path, content=content, headers=JSON if headers is None else headers
        )

    async def incidents(self) -> list[dict[str, Any]]:
        r = await self.client.get(f"{self.api}/api/v1/incidents", headers=auth())
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["incidents"]
        return found

    async def incident(self, incident_id: str) -> dict[str, Any]:
        r = await self.client.get(f"{self.api}/api/v1/incidents/{incident_id}", headers=auth())
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    @property
    def last_seq(self) -> int:
        return int(self.run.system.log.last_seq)

    def journaled_since(self, seq: int) -> list[str]:
        """What was journaled after `seq`, leaving out the delivery of earlier pages (which
        lands whenever the channel answers)."""
        return journaled_since(self.run.system.log, seq)


def state(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incidents as a request could change them: without `last_seq` and `updated_at`,
    which the delivery of an earlier page moves on its own."""
    return [{k: v for k, v in i.items() if k not in ("last_seq", "updated_at")} for i in incidents]


@asynccontextmanager
async def pager(tmp_path: Path, listener: str, *, rate: int | None = None) -> AsyncIterator[Pager]:
    """pager on `tmp_path / "data"` (the same folder each time: a restart)."""
    async with (
        running_pager(make_config(tmp_path / "data", rate=rate, fsync=False)) as run,
        httpx.AsyncClient(timeout=10) as client,
    ):
        yield Pager(run, client, run.urls[0] if listener == "main" else run.ingest_url)


# --------------------------------------------------------------------------- captured requests


def load(path: Path) -> dict[str, Any]:
    """A captured request, its keys rewritten onto the harness's."""
    fx: dict[str, Any] = json.loads(path.read_text())
    fx["name"] = path.name
    if fx["path"] == FIXTURE_AM_PATH:
        fx["path"] = AM
    if fx["json"].get("routing_key") == FIXTURE_KEY:
        fx["json"]["routing_key"] = ROUTING_KEY
    return fx


async def replay(p: Pager, fx: dict[str, Any]) -> httpx.Response:
    headers = {
        k: v for k, v in fx["headers"].items() if k.lower() not in ("host", "content-length")
    }
    return await p.client.request(
        fx["method"], p.base + fx["path"], content=json.dumps(fx["json"]).encode(), headers=headers
    )


def check_answer(fx: dict[str, Any], r: httpx.Response) -> None:
    want, name = fx["response"], fx["name"]
    assert r.status_code == want["status"], (name, r.text)
    body = r.json()
    if "dedup_key" in want["json"]:
        sent = fx["json"].get("dedup_key")
        assert body["status"] == "success" and body["message"] == "Event processed", name
        if sent is not None:
            assert body["dedup_key"] == sent, name
        else:
            assert isinstance(body["dedup_key"], str) and body["dedup_key"].strip(), name
    else:
        assert body == want["json"], name


def test_fixtures_are_there() -> None:
    assert len(FIXTURES) >= 17, f"expected the captured requests in {WIRE}"


@pytest.mark.parametrize("listener", LISTENERS)
async def test_captured_requests_replayed_get_their_answers_and_leave_the_right_incidents(
    tmp_path: Path, listener: str
) -> None:
    """Every captured request, in the order it was captured, gets the answer its sender got
    (PagerDuty's 202 with the dedup key, Alertmanager's 200), and together they leave the
    incidents PagerDuty's and Alertmanager's semantics say."""
    fixtures = sorted((load(f) for f in FIXTURES), key=lambda fx: fx["ts"])
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            generated: list[str] = []
            for fx in fixtures:
                r = await replay(p, fx)
                check_answer(fx, r)
                if fx["path"] == PD and "dedup_key" not in fx["json"]:
                    generated.append(r.json()["dedup_key"])
            by_key = {i["dedup_key"]: i for i in await p.incidents()}
            assert len(by_key) == 8

            cpu = await p.incident(by_key['{}:{alertname="HarnessCPUHigh"}']["id"])
            assert cpu["status"] == "triggered" and cpu["alert_counts"] == {"firing": 1, "total": 1}
            assert cpu["severity"] == "critical" and cpu["title"] == "CPU high on web-1"
            # the repeat of the unchanged group (am_api_repeat_duplicate) recorded nothing:
            # the alert came with the incident's opening, and no alert change followed
            assert [t["kind"] for t in cpu["timeline"] if t["kind"].startswith("alert")] == []
            assert cpu["alerts"][0]["count"] == 1

            disk = await p.incident(by_key['{}:{alertname="HarnessDiskFull"}']["id"])
            assert disk["status"] == "triggered"
            assert {a["labels"]["instance"]: a["status"] for a in disk["alerts"]} == {
                "db-1": "resolved",
                "db-2": "firing",
            }

            for client in ("pdpyras", "pagerduty"):
                inc = await p.incident(by_key[f"harness-{client}-20261126232202-22300"]["id"])
                assert inc["status"] == "resolved"
                assert inc["acknowledged_at"] is not None
                [alert] = inc["alerts"]
                assert alert["count"] == 2 and alert["status"] == "resolved"
                assert alert["details"]["custom_details"]["error_rate"] == 0.41

            assert len(generated) == 2 and len(set(generated)) == 2
            for key in generated:
                assert by_key[key]["status"] == "triggered"
                assert by_key[key]["severity"] == "warning"

            always = by_key['{}:{alertname="HarnessAlwaysFiring"}']
            assert always["status"] == "triggered"
            down = by_key['{}:{alertname="HarnessTargetDown"}']
            assert down["status"] == "resolved"
            assert {i["service"] for i in by_key.values()} == {"checkout"}


# --------------------------------------------------------------------------- bad input

DROP = object()


def seed_am(**changes: Any) -> dict[str, Any]:
    """A valid Alertmanager webhook for the group the tests open first (`seed-group`)."""
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": "seed-group",
        "status": "firing",
        "receiver": "pager",
        "groupLabels": {"alertname": "Seed"},
        "commonLabels": {"alertname": "Seed"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Seed", "instance": "db-1", "severity": "critical"},
                "annotations": {"summary": "seed"},
                "startsAt": "2026-11-26T23:22:03Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.test/graph",
                "fingerprint": "0f1deac5d0173715",
            }
        ],
    }
    body.update(changes)
    return body


def seed_pd(**changes: Any) -> dict[str, Any]:
    """A valid trigger of the PagerDuty incident the tests open first (`seed`)."""
    ev = pd_trigger("seed")
    ev.update(changes)
    return ev


def with_payload(**changes: Any) -> dict[str, Any]:
    """A seed trigger with payload fields changed (DROP: left out)."""
    ev = seed_pd()
    payload = {**ev["payload"], **changes}
    ev["payload"] = {k: v for k, v in payload.items() if v is not DROP}
    return ev


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def with_alert(**changes: Any) -> dict[str, Any]:
    body = seed_am()
    body["alerts"] = [{**body["alerts"][0], **changes}]
    return body


GEN = {"title": "Disk full on db-1", "dedup_key": "seed-gen", "status": "firing"}


@dataclass(frozen=True)
class Bad:
    path: str
    body: Any = None
    status: int = 400
    field: str = ""
    content: bytes | None = None
    headers: dict[str, str] | None = None
    method: str = "POST"


BAD: dict[str, Bad] = {
    # PagerDuty Events API v2: wrong types
    "pd-severity-number": Bad(PD, with_payload(severity=5), field="payload.severity"),
    "pd-severity-unknown": Bad(PD, with_payload(severity="urgent"), field="payload.severity"),
    "pd-summary-null": Bad(PD, with_payload(summary=None), field="payload.summary"),
    "pd-summary-number": Bad(PD, with_payload(summary=42), field="payload.summary"),
    "pd-source-list": Bad(PD, with_payload(source=["db-1"]), field="payload.source"),
    "pd-timestamp-not-a-time": Bad(
        PD, with_payload(timestamp="yesterday"), field="payload.timestamp"
    ),
    "pd-timestamp-number": Bad(PD, with_payload(timestamp=5), field="payload.timestamp"),
    "pd-component-number": Bad(PD, with_payload(component=5), field="payload.component"),
    "pd-payload-string": Bad(PD, seed_pd(payload="CPU high"), field="payload"),
    "pd-dedup-key-number": Bad(PD, seed_pd(dedup_key=7), field="dedup_key"),
    "pd-routing-key-number": Bad(PD, seed_pd(routing_key=7), field="routing_key"),
    "pd-links-not-a-list": Bad(PD, seed_pd(links={"href": "x"}), field="links"),
    "pd-link-without-href": Bad(PD, seed_pd(links=[{"text": "runbook"}]), field="links[0].href"),
    "pd-event-a-list": Bad(PD, [seed_pd()], field="event"),
    # missing fields
    "pd-no-routing-key": Bad(PD, without(seed_pd(), "routing_key"), field="routing_key"),
    "pd-no-event-action": Bad(PD, without(seed_pd(), "event_action"), field="event_action"),
    "pd-no-payload": Bad(PD, without(seed_pd(), "payload"), field="payload"),
    "pd-no-summary": Bad(PD, with_payload(summary=DROP), field="payload.summary"),
    "pd-no-source": Bad(PD, with_payload(source=DROP), field="payload.source"),
    "pd-no-severity": Bad(PD, with_payload(severity=DROP), field="payload.severity"),
    "pd-empty-summary": Bad(PD, with_payload(summary="  "), field="payload.summary"),
    "pd-ack-without-dedup-key": Bad(
        PD, {"routing_key": ROUTING_KEY, "event_action": "acknowledge"}, field="dedup_key"
    ),
    "pd-resolve-without-dedup-key": Bad(
        PD, {"routing_key": ROUTING_KEY, "event_action": "resolve"}, field="dedup_key"
    ),
    "pd-empty-dedup-key": Bad(PD, seed_pd(dedup_key=" "), field="dedup_key"),
    # values out of bounds
    "pd-unknown-event-action": Bad(PD, seed_pd(event_action="explode"), field="event_action"),
    "pd-summary-over-1024": Bad(PD, with_payload(summary="x" * 1025), field="payload.summary"),
    "pd-source-over-255": Bad(PD, with_payload(source="s" * 256), field="payload.source"),
    "pd-dedup-key-over-255": Bad(PD, seed_pd(dedup_key="k" * 256), field="dedup_key"),
    "pd-body-over-512k": Bad(
        PD,
        with_payload(custom_details={"blob": "x" * (512 * 1024)}),
        status=413,
        field="bytes",
    ),
    # the envelope
    "pd-bad-json": Bad(PD, content=b'{"routing_key": ', field="body"),
    "pd-not-utf8": Bad(PD, content=b'\xff\xfe{"routing_key": 1}', field="body"),
    "pd-empty-body": Bad(PD, content=b"", field="body"),
    "pd-text-plain": Bad(
        PD, seed_pd(), status=415, field="Content-Type", headers={"content-type": "text/plain"}
    ),
    "pd-form-encoded": Bad(
        PD,
        content=b"routing_key=x",
        status=415,
        field="Content-Type",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    "pd-unknown-routing-key": Bad(PD, seed_pd(routing_key="NOPE" * 8), field="routing_key"),
    "pd-get": Bad(PD, method="GET", status=405, field="POST"),
    # PagerDuty change events
    "pd-change-no-payload": Bad(PD_CHANGE, {"routing_key": ROUTING_KEY}, field="payload"),
    "pd-change-no-summary": Bad(
        PD_CHANGE,
        {"routing_key": ROUTING_KEY, "payload": {"source": "ci"}},
        field="payload.summary",
    ),
    "pd-change-unknown-routing-key": Bad(
        PD_CHANGE, {"routing_key": "NOPE", "payload": {"summary": "deploy"}}, field="routing_key"
    ),
    "pd-change-get": Bad(PD_CHANGE, method="GET", status=405, field="POST"),
    # Alertmanager webhook
    "am-alerts-not-a-list": Bad(AM, seed_am(alerts={"status": "firing"}), field="alerts"),
    "am-alert-a-string": Bad(AM, seed_am(alerts=["firing"]), field="alerts[0]"),
    "am-label-value-number": Bad(
        AM,
        with_alert(labels={"alertname": "Seed", "severity": 5}),
        field="alerts[0].labels.severity",
    ),
    "am-annotation-value-null": Bad(
        AM, with_alert(annotations={"summary": None}), field="alerts[0].annotations.summary"
    ),
    "am-common-labels-list": Bad(AM, seed_am(commonLabels=["a"]), field="commonLabels"),
    "am-group-key-number": Bad(AM, seed_am(groupKey=5), field="groupKey"),
    "am-no-group-key": Bad(AM, without(seed_am(), "groupKey"), field="groupKey"),
    "am-no-alerts": Bad(AM, without(seed_am(), "alerts"), field="alerts"),
    "am-alert-status-unknown": Bad(AM, with_alert(status="exploded"), field="alerts[0].status"),
    "am-starts-at-not-a-time": Bad(AM, with_alert(startsAt="noon"), field="alerts[0].startsAt"),
    "am-truncated-not-a-number": Bad(AM, seed_am(truncatedAlerts="3"), field="truncatedAlerts"),
    "am-version-3": Bad(AM, seed_am(version="3"), field="version"),
    "am-body-a-list": Bad(AM, [seed_am()], field="body"),
    "am-bad-json": Bad(AM, content=b"{not json", field="body"),
    "am-text-plain": Bad(
        AM, seed_am(), status=415, field="Content-Type", headers={"content-type": "text/plain"}
    ),
    "am-unknown-key": Bad(
        "/integrations/alertmanager/no-such-key", seed_am(), status=404, field="key"
    ),
    "am-get": Bad(AM, method="GET", status=405, field="POST"),
    # generic webhook
    "gen-no-title": Bad(GENERIC, without(GEN, "title"), field="title"),
    "gen-title-number": Bad(GENERIC, GEN | {"title": 5}, field="title"),
    "gen-title-over-1024": Bad(GENERIC, GEN | {"title": "t" * 1025}, field="title"),
    "gen-unknown-status": Bad(GENERIC, GEN | {"status": "maybe"}, field="status"),
    "gen-unknown-severity": Bad(GENERIC, GEN | {"severity": "loud"}, field="severity"),
    "gen-dedup-key-over-255": Bad(GENERIC, GEN | {"dedup_key": "k" * 256}, field="dedup_key"),
    "gen-links-not-a-list": Bad(GENERIC, GEN | {"links": "x"}, field="links"),
    "gen-body-a-string": Bad(GENERIC, "Disk full", field="body"),
    "gen-text-plain": Bad(
        GENERIC, GEN, status=415, field="Content-Type", headers={"content-type": "text/plain"}
    ),
    "gen-unknown-key": Bad("/integrations/generic/no-such-key", GEN, status=404, field="key"),
    "gen-get": Bad(GENERIC, method="GET", status=405, field="POST"),
    "ingest-unknown-integration": Bad(
        "/integrations/nagios/am-checkout", GEN, status=404, field="/integrations/nagios"
    ),
}


async def seed(p: Pager) -> None:
    """The incidents each bad request would change if it were wrongly taken."""
    for path, body in ((PD, seed_pd()), (AM, seed_am()), (GENERIC, GEN)):
        r = await p.post(path, body)
        assert r.status_code in (200, 202), r.text
    assert len(await p.incidents()) == 3


def names_field(body: dict[str, Any], status: int, field: str) -> bool:
    """A 400 lists `field: what is wrong` among its errors; other answers say it somewhere."""
    if status == 400:
        return any(e.startswith(f"{field}: ") for e in body["errors"])
    return any(field in text for text in [body.get("message", ""), *body.get("errors", [])])


async def refused(p: Pager, case: Bad) -> None:
    """`case` gets its 4xx naming the field, and nothing is journaled or changed."""
    seq, before = p.last_seq, state(await p.incidents())
    if case.method == "POST":
        r = await p.post(case.path, case.body, content=case.content, headers=case.headers)
    else:
        r = await p.client.request(case.method, p.base + case.path)
    assert r.status_code == case.status, r.text
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert names_field(body, r.status_code, case.field), body
    if r.status_code == 400 and case.path.startswith("/v2/"):
        # PagerDuty's own shape, which its clients show to people
        assert body["status"] == "invalid event"
        assert body["message"] == "Event object is invalid"
        assert all(isinstance(e, str) for e in body["errors"])
    if r.status_code == 405:
        assert r.headers["allow"] == "POST"
    assert p.journaled_since(seq) == []
    assert state(await p.incidents()) == before


@pytest.mark.parametrize("listener", LISTENERS)
async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    tmp_path: Path, listener: str
) -> None:
    """The whole table on one pager (a pager per case would take seconds); every case is
    tried and the failures are reported together."""
    failures = []
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            await seed(p)
            for name, case in BAD.items():
                try:
                    await refused(p, case)
                except AssertionError as e:
                    failures.append(f"{name}: {e}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
async def test_acknowledge_or_resolve_with_null_dedup_key_is_refused(
    tmp_path: Path, action: str
) -> None:
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, "main") as p:
            await seed(p)
            body = {"routing_key": ROUTING_KEY, "event_action": action, "dedup_key": None}
            await refused(p, Bad(PD, body, field="dedup_key"))


# --------------------------------------------------------------------------- over a key's rate


def throttled(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("listener", LISTENERS)
async def test_over_rate_pagerduty_and_generic_get_429_alertmanager_503(
    tmp_path: Path, listener: str
) -> None:
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener, rate=3) as p:
            for i in range(3):
                assert (await p.post(PD, pd_trigger(f"k{i}"))).status_code == 202
                group = seed_am(groupKey=f"g{i}")
                assert (await p.post(AM, group)).status_code == 200
                gen = GEN | {"dedup_key": f"gen{i}"}
                assert (await p.post(GENERIC, gen)).status_code == 202
            seq, before = p.last_seq, state(await p.incidents())
            assert len(before) == 9

            r = await p.post(PD, pd_trigger("k3"))
            throttled(r, 429)
            assert r.json()["status"] == "throttle event"
            # Alertmanager retries 5xx only: a 4xx would drop the group for good
            throttled(await p.post(AM, seed_am(groupKey="g3")), 503)
            throttled(await p.post(GENERIC, GEN | {"dedup_key": "gen3"}), 429)
            # every event of the key counts, whatever it is: a change event too
            throttled(
                await p.post(PD_CHANGE, {"routing_key": ROUTING_KEY, "payload": {"summary": "x"}}),
                429,
            )
            assert p.journaled_since(seq) == []
            assert state(await p.incidents()) == before

            # another service's key has its own allowance
            r = await p.post("/integrations/generic/gen-payments", GEN)
            assert r.status_code == 202, r.text


async def test_a_keys_rate_is_shared_by_both_listeners(tmp_path: Path) -> None:
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, "main", rate=3) as p:
            lean = p.run.ingest_url
            assert (await p.post(PD, pd_trigger("a"))).status_code == 202
            assert (await p.post(PD, pd_trigger("b"))).status_code == 202
            r = await p.client.post(lean + PD, json=pd_trigger("c"))
            assert r.status_code == 202
            r = await p.client.post(lean + PD, json=pd_trigger("d"))
            throttled(r, 429)


# --------------------------------------------------------------------------- the log fails


def break_log(p: Pager) -> JsonlLog:
    log = p.run.system.log
    assert isinstance(log, JsonlLog)

    def enospc(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    log.write_fn = enospc
    return log


@pytest.mark.parametrize("listener", LISTENERS)
async def test_unwritable_log_answers_503_and_loses_nothing_accepted(
    tmp_path: Path, listener: str
) -> None:
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            await seed(p)
            accepted = {i["dedup_key"]: i for i in state(await p.incidents())}
            seq = p.last_seq

            log = break_log(p)
            attempts = [
                (PD, pd_trigger("during-outage")),  # would open an incident
                (PD, seed_pd()),  # would count the seed alert again
                (PD, {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "seed"}),
                (AM, seed_am(groupKey="outage-group")),
                (AM, seed_am(alerts=[])),  # would resolve the seed group
                (GENERIC, GEN | {"dedup_key": "gen-outage"}),
                (GENERIC, GEN | {"status": "resolved"}),
                (PD_CHANGE, {"routing_key": ROUTING_KEY, "payload": {"summary": "deploy 42"}}),
            ]
            for path, body in attempts:
                r = await p.post(path, body)
                assert r.status_code == 503, (path, body, r.text)
                assert int(r.headers["retry-after"]) >= 1
            assert p.journaled_since(seq) == []
            assert {i["dedup_key"]: i for i in state(await p.incidents())} == accepted
            r = await p.client.get(f"{p.api}/readyz")
            assert r.status_code == 503 and "not writable" in r.text

            log.write_fn = os.write
            r = await p.post(PD, pd_trigger("after-outage"))
            assert r.status_code == 202, r.text
            r = await p.post(AM, seed_am(groupKey="outage-group"))
            assert r.status_code == 200, r.text
            now = {i["dedup_key"]: i for i in state(await p.incidents())}
            assert set(now) == set(accepted) | {"after-outage", "outage-group"}
            for key, inc in accepted.items():
                assert now[key] == inc
            final = state(await p.incidents())

        # and everything accepted is still there after a restart over the same folder
        async with pager(tmp_path, listener) as p:
            assert state(await p.incidents()) == final
