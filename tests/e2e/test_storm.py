"""Storm mode for people (issue 12 item 2), end to end on trio's MockClock with the stand-in
providers: the default configuration takes 300 distinct alerts in 3 s (300 times 202, 300
incidents), and alice — paged at once by Slack, SMS, a call, email, Teams and a webhook —
receives at most a handful of messages per channel in the next 20 s, each saying how many
incidents it carries; nothing is dropped (every incident reaches her on every channel within
two minutes), and escalation keeps its time for every incident. Then each channel's way of
acting on a whole bundle: Slack's "Acknowledge all", an SMS `4 ALL`, key 4 in the call, the
email's link — each acknowledges the incidents as alice, via that channel.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import trio

from pager.core.events import IncidentEscalated, NotificationsBundled
from pager.core.model import Status

from ..harness import auth
from ..standins.scene import pd_trigger
from .interactions import ALICE_PHONE, VIRTUAL_DEADLINE, Scene, scene, slack_body

EVERY_CHANNEL = (
    "[{after: 0m, via: slack}, {after: 0m, via: sms}, {after: 0m, via: voice},"
    " {after: 0m, via: email}, {after: 0m, via: teams}, {after: 0m, via: webhook}]"
)
COUNT = re.compile(r"(\d+) incidents")


async def storm(s: Scene, n: int, seconds: float) -> list[int]:
    """`n` distinct alerts, evenly over `seconds`, through pager's own `/v2/enqueue`."""
    statuses = []
    for i in range(n):
        r = await s.client.post("/v2/enqueue", json=pd_trigger(f"storm-{i}", f"db-{i} disk full"))
        statuses.append(r.status_code)
        await trio.sleep(seconds / n)
    return statuses


def received(s: Scene) -> dict[str, list[str]]:
    """What alice received on each channel, as text, in order."""
    p = s.providers
    mails: list[EmailMessage] = s.email.mails
    return {
        "slack": [m.text for m in p.slack.messages if m.channel == "D0ALICE"],
        "sms": [m.body for m in p.twilio.sms if m.to == ALICE_PHONE],
        "voice": [c.url for c in p.twilio.calls if c.to == ALICE_PHONE],
        "email": [str(m["Subject"]) for m in mails],
        "teams": [str(doc) for path, doc, _ in p.teams.cards if path == "/workflows/alice"],
        "webhook": [r.body.decode() for r in p.hooks.requests if r.path == "/alice"],
    }


def carried(s: Scene, method: str, text: str) -> int:
    """How many incidents one message says it carries: a bundle names its count; a page
    alone names its incident (the call's URL names the notification or bundle)."""
    if method == "voice":
        nid = text.rsplit("/", 1)[1]
        bundle = s.state.bundles.by_id.get(nid)
        return 1 if bundle is None else len(bundle.incident_ids)
    if method == "webhook":
        doc = json.loads(text)
        return doc["bundle"]["count"] if doc["type"] == "incident.bundle" else 1
    found = COUNT.search(text)
    if found is not None:
        return int(found[1])
    assert re.search(r"db-\d+ disk full", text), (method, text[:200])
    return 1


def reached(s: Scene, method: str) -> set[str]:
    return {
        n.incident_id
        for n in s.state.notifications.by_id.values()
        if n.method == method and n.user_id == "alice" and n.status == "sent"
    }


async def test_300_alerts_in_3s_reach_alice_as_a_handful_of_messages_per_channel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(EVERY_CHANNEL, trigger=False) as s:
            t0 = trio.current_time()
            statuses = await storm(s, 300, 3.0)
            assert statuses == [202] * 300
            assert len(s.state.incidents) == 300
            await trio.sleep(t0 + 20 - trio.current_time())
            got = received(s)
            for method, texts in got.items():
                assert 1 <= len(texts) <= 3, (method, len(texts))
                counts = [carried(s, method, t) for t in texts]
                # each message says what it carries, and that is what was journaled as sent
                assert sum(counts) == len(reached(s, method)), method
                assert counts[0] == 1  # the first page of a quiet lane goes alone, at once
            assert max(carried(s, "slack", t) for t in got["slack"]) > 50
            # nothing is dropped: within two minutes every incident reached alice everywhere
            await trio.sleep(t0 + 120 - trio.current_time())
            got = received(s)
            for method, texts in got.items():
                assert len(texts) <= 4, (method, len(texts))
                assert sum(carried(s, method, t) for t in texts) == 300, method
                assert len(reached(s, method)) == 300, method
            bundles = s.records(NotificationsBundled.TYPE)
            assert {r.data["method"] for r in bundles} == set(got)
            # the REST API says which notification carried which incidents
            bid = bundles[0].data["bundle_id"]
            r = await s.client.get(f"/api/v1/bundles/{bid}", headers=auth())
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["count"] == len(doc["incidents"]) == len(doc["notifications"]) > 1
            assert {n["bundle"] for n in doc["notifications"]} == {bid}
            assert {n["status"] for n in doc["notifications"]} == {"sent"}
            first = doc["incidents"][0]
            r = await s.client.get(f"/api/v1/notifications?incident={first}", headers=auth())
            assert bid in {n["bundle"] for n in r.json()["notifications"]}
            timeline = [t.text for t in s.state.incidents[first].timeline]
            assert any(t.endswith(f"in bundle {bid}") for t in timeline)
            # escalation kept its time for every incident: bob at 10 minutes, to the microsecond
            await trio.sleep(t0 + 11 * 60 - trio.current_time())
            escalated = {
                r.data["incident_id"]: r.ts
                for r in s.records(IncidentEscalated.TYPE)
                if r.data["level"] == 1
            }
            assert len(escalated) == 300
            for iid, at in escalated.items():
                assert at - s.state.incidents[iid].created_at == timedelta(minutes=10)
            # bob, paged 300 times at level 2, gets a handful of Slack messages too
            bob = [m for m in s.providers.slack.messages if m.channel == "D0BOB"]
            assert 1 <= len(bob) <= 3
            assert sum(carried(s, "slack", m.text) for m in bob) == 300


async def test_a_throttle_holds_the_excess_back_into_the_next_bundle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Alerts keep coming for an hour, one every 20 s: texts go out at most once a minute
    and 5 per 15 minutes (the default throttle), and every page is in one of them."""
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: sms}]", trigger=False) as s:
            t0 = trio.current_time()
            for i in range(180):
                r = await s.client.post(
                    "/v2/enqueue", json=pd_trigger(f"k{i}", f"db-{i} disk full")
                )
                assert r.status_code == 202
                await trio.sleep(20)
            await trio.sleep(20 * 60)
            sms = [m for m in s.providers.twilio.sms if m.to == ALICE_PHONE]
            times = [m.at - t0 for m in sms]
            assert all(b - a >= 60 - 1e-6 for a, b in itertools.pairwise(times))
            for start in times:
                assert sum(1 for t in times if start <= t < start + 15 * 60) <= 5
            assert sum(carried(s, "sms", m.body) for m in sms) == 180
            assert len(sms) < 30


async def alerts(s: Scene, n: int) -> None:
    for i in range(n):
        r = await s.client.post("/v2/enqueue", json=pd_trigger(f"k{i}", f"db-{i} disk full"))
        assert r.status_code == 202


def acknowledged_via(s: Scene) -> dict[str, tuple[str | None, str | None]]:
    out = {}
    for iid, inc in s.state.incidents.items():
        if inc.status is Status.ACKNOWLEDGED:
            entry = next(t for t in inc.timeline if t.kind == "incident.acknowledged")
            out[iid] = (entry.by, entry.via)
    return out


def bundle_of(s: Scene, method: str) -> Any:
    (b,) = [b for b in s.state.bundles.by_id.values() if b.method == method]
    return b


async def test_acknowledge_all_in_slack_acknowledges_the_bundle_as_alice(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: slack}]", trigger=False) as s:
            await alerts(s, 20)
            await trio.sleep(5)
            slack = s.providers.slack
            _single, bundled = slack.messages
            assert "19 incidents" in bundled.text
            shown = str(bundled.blocks)
            assert "Acknowledge all 19" in shown and "'action_id': 'ack'" not in shown
            r = await s.slack(slack_body(slack.press(bundled, "ack_all")))
            assert r.status_code == 200
            await trio.sleep(5)
            b = bundle_of(s, "slack")
            assert acknowledged_via(s) == {iid: ("alice", "slack") for iid in b.incident_ids}
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED  # not in the bundle
            (answer,) = slack.responses
            assert "19 incidents acknowledged by Alice Example via Slack" in answer.body["text"]
            assert "ack_all" not in str(bundled.blocks)  # the button is gone


async def test_4_all_by_sms_acknowledges_every_incident_paged_to_alice(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: sms}]", trigger=False) as s:
            await alerts(s, 12)
            await trio.sleep(61)
            _single, bundled = [m.body for m in s.providers.twilio.sms]
            assert "11 incidents" in bundled and "Reply 4 ALL" in bundled
            await alerts_more(s, 1)  # paged, but not sent yet: 4 ALL leaves it alone
            await trio.sleep(1)
            answer = await s.text("4 ALL")
            assert "12 incidents acknowledged by Alice Example via SMS" in answer
            acked = acknowledged_via(s)
            assert acked == {f"inc-{i}": ("alice", "sms") for i in range(1, 13)}
            assert s.state.incidents["inc-13"].status is Status.TRIGGERED
            before = s.log.last_seq
            assert "already" in await s.text("ack all")  # nothing more to do
            assert s.log.last_seq == before


async def alerts_more(s: Scene, n: int) -> None:
    for i in range(n):
        r = await s.client.post("/v2/enqueue", json=pd_trigger(f"more{i}", "db-99 disk full"))
        assert r.status_code == 202


async def test_key_4_in_the_bundle_call_acknowledges_all_of_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene("[{after: 0m, via: voice}]", trigger=False) as s:
            await alerts(s, 8)
            await trio.sleep(61)
            first, call = s.providers.twilio.calls
            b = bundle_of(s, "voice")
            assert call.url.endswith(f"/hooks/twilio/voice/{b.id}")
            r = await s.twilio(f"/hooks/twilio/voice/{b.id}", {"CallSid": call.sid})
            assert "You have 7 new incidents" in r.text
            assert "Press 4 to acknowledge all 7 incidents" in r.text
            r = await s.twilio(
                f"/hooks/twilio/voice/{b.id}/gather", {"CallSid": call.sid, "Digits": "4"}
            )
            assert "7 incidents acknowledged by Alice Example via phone" in r.text
            assert acknowledged_via(s) == {iid: ("alice", "voice") for iid in b.incident_ids}
            # a call that pager did not place for the bundle answers nothing
            r = await s.twilio(
                f"/hooks/twilio/voice/{b.id}/gather", {"CallSid": first.sid, "Digits": "4"}
            )
            assert "cannot answer" in r.text


@pytest.mark.parametrize("channel", ["email"])
async def test_the_email_link_acknowledges_all_of_the_bundle_once(
    channel: str, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(f"[{{after: 0m, via: {channel}}}]", trigger=False) as s:
            await alerts(s, 6)
            await trio.sleep(61)
            _single, mail = s.email.mails
            assert "5 incidents for you" in str(mail["Subject"])
            text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            found = re.search(r"Acknowledge all 5: (\S+)", text)
            assert found is not None
            path = found[1].removeprefix("https://pager.example.test")
            assert len(re.findall(r"Acknowledge: ", text)) == 5  # one link per incident too
            confirm = await s.client.get(path)
            assert confirm.status_code == 200 and "Acknowledge all 5" in confirm.text
            done = await s.client.post(path)
            assert done.status_code == 200, done.text
            assert "5 incidents acknowledged by Alice Example via email" in done.text
            b = bundle_of(s, "email")
            assert acknowledged_via(s) == {iid: ("alice", "email") for iid in b.incident_ids}
            again = await s.client.post(path)
            assert again.status_code == 403  # a link acts once


async def test_a_bundle_without_outcome_is_sent_once_after_a_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """pager stops while Slack has not answered a bundle: started again over the same
    journal, it sends that same bundle (its pages, its id) once, and the lane's throttle
    still counts what went out before the restart."""
    from pager.clock import TrioWallClock
    from pager.store.memory import MemoryLog

    from ..harness import EPOCH
    from ..standins.asgi import Fault
    from ..standins.scene import Providers

    log, clock, providers = MemoryLog(), TrioWallClock(EPOCH), Providers()
    rules = "[{after: 0m, via: slack}]"
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(rules, log=log, clock=clock, providers=providers, trigger=False) as s:
            await alerts(s, 2)  # two pages alone (1 s apart: Slack's pace)
            await trio.sleep(3)
            assert len(providers.slack.messages) == 2
            providers.slack.fail_always(Fault(delay=3600))  # Slack stops answering
            await alerts_more(s, 4)  # these wait for the minute to end, then go as one
            await trio.sleep(62)  # inside the 10 s timeout: the bundle is on its way
            (bundled,) = s.records(NotificationsBundled.TYPE)
            assert len(bundled.data["notification_ids"]) == 4
            assert s.state.bundles.by_id["b1"].sent_at is None
        providers.slack.fail_always(None)
        async with scene(rules, log=log, clock=clock, providers=providers, trigger=False) as s:
            await trio.sleep(5)
            texts = [m.text for m in providers.slack.messages]
            assert len(texts) == 3 and "4 incidents" in texts[2]
            assert len(s.records(NotificationsBundled.TYPE)) == 1  # the same bundle, again
            b = s.state.bundles.by_id["b1"]
            assert b.sent_at is not None and len(s.state.bundles.sent_on("alice", "slack")) == 3
            assert {s.state.notifications.by_id[n].status for n in b.notification_ids} == {"sent"}
