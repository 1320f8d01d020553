"""Storm mode for a service's chat channel, end to end on trio's MockClock with the Slack and
Teams stand-ins (which check each request as the providers do): 50 incidents opened in 5 s
on a service with a Slack channel reach the channel as a handful of posts, the later ones
bundles that say how many incidents, on which service, by topic; nothing is dropped (every
status post is journaled as sent, alone or in a bundle the REST API names). A bundle's
"Acknowledge all" acknowledges its incidents still triggered, as the Slack user who pressed
it. A quiet channel still gets one post per incident, edited in place as it changes.
"""

from __future__ import annotations

import re
from typing import Any

import trio

from pager.core.events import NotificationsBundled
from pager.core.model import Status

from ..harness import auth
from ..standins.scene import pd_trigger
from .interactions import VIRTUAL_DEADLINE, Scene, scene, slack_body
from .test_storm import acknowledged_via, alerts, storm

SMS_ONLY = "[{after: 0m, via: sms}]"  # alice's pages stay out of Slack
CHANNEL = "C0CHECKOUT"
COUNT = re.compile(r"\*(\d+) incidents\*")


def posts(s: Scene) -> list[Any]:
    return [m for m in s.providers.slack.messages if m.channel == CHANNEL]


def carried(text: str) -> int:
    """How many incidents a channel post is about: a bundle names its count, a post alone
    names its incident."""
    found = COUNT.search(text)
    if found is not None:
        return int(found[1])
    assert re.search(r"db-\d+ disk full", text), text[:200]
    return 1


def status_posts(s: Scene, topic: str) -> list[Any]:
    return [
        n
        for n in s.state.notifications.by_id.values()
        if n.kind == "status" and n.method == "slack" and n.topic == topic
    ]


async def act(s: Scene, action: str, incident_ids: list[str]) -> None:
    for iid in incident_ids:
        r = await s.client.post(
            f"/api/v1/incidents/{iid}/{action}", json={"by": "alice"}, headers=auth()
        )
        assert r.status_code == 200, r.text


async def test_50_incidents_in_5s_reach_the_channel_as_a_handful_of_posts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(SMS_ONLY, chat=True, trigger=False) as s:
            t0 = trio.current_time()
            assert await storm(s, 50, 5.0) == [202] * 50
            await trio.sleep(t0 + 20 - trio.current_time())
            # the first post alone, at once; then one bundle of what came during Slack's pace
            got = posts(s)
            assert len(got) == 2, [m.text for m in got]
            assert carried(got[0].text) == 1
            await trio.sleep(t0 + 62 - trio.current_time())
            # within the window's minute: the rest, as one post
            got = posts(s)
            assert len(got) == 3, [m.text for m in got]
            counts = [carried(m.text) for m in got]
            assert sum(counts) == 50 and max(counts) > 10, counts
            assert re.search(r"\*\d+ incidents\* opened on Checkout API", got[-1].text)
            assert "incidents opened" in str(got[-1].blocks)  # the header
            assert "Acknowledge all" in str(got[-1].blocks)
            assert s.providers.slack.problems == []
            # nothing dropped: every incident's opening was journaled as sent
            opened = status_posts(s, "opened")
            assert len(opened) == 50 and {n.status for n in opened} == {"sent"}
            bundles = [
                r for r in s.records(NotificationsBundled.TYPE) if r.data["method"] == "slack"
            ]
            assert bundles and {r.data["address"] for r in bundles} == {CHANNEL}
            assert all("user_id" not in r.data for r in bundles)
            # the REST API says which post carried which incidents
            bid = bundles[-1].data["bundle_id"]
            r = await s.client.get(f"/api/v1/bundles/{bid}", headers=auth())
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["kind"] == "chat" and doc["user"] is None
            assert doc["count"] == len(doc["incidents"]) == len(doc["notifications"]) == counts[-1]
            assert {n["bundle"] for n in doc["notifications"]} == {bid}
            assert {(n["kind"], n["topic"], n["status"]) for n in doc["notifications"]} == {
                ("status", "opened", "sent")
            }
            last = doc["incidents"][-1]
            r = await s.client.get(f"/api/v1/notifications?incident={last}", headers=auth())
            assert bid in {n["bundle"] for n in r.json()["notifications"]}
            assert any(
                t.text.endswith(f"in bundle {bid}") for t in s.state.incidents[last].timeline
            )

            # a bundled incident's later changes are not edits of the bundle's post: they are
            # new status posts, bundled by topic in the channel's next post
            before = len(got)
            updates = len(s.providers.slack.updates)
            await act(s, "acknowledge", [f"inc-{i}" for i in range(10, 30)])
            await act(s, "resolve", [f"inc-{i}" for i in range(30, 40)])
            await trio.sleep(t0 + 130 - trio.current_time())
            got = posts(s)
            # the first change alone (the window holds one post), then the rest as one
            new = got[before:]
            assert 1 <= len(new) <= 2, [m.text for m in new]
            assert sum(carried(m.text) for m in new) == 30
            mix = re.search(
                r"\*(\d+) incidents\* on Checkout API: (\d+) acknowledged, 10 resolved",
                new[-1].text,
            )
            assert mix is not None, new[-1].text
            assert f"{mix[1]} incidents: {mix[2]} acknowledged, 10 resolved" in str(new[-1].blocks)
            assert len(s.providers.slack.updates) == updates  # no bundle's post was edited
            assert {n.status for n in status_posts(s, "acknowledged")} == {"sent"}
            assert len(status_posts(s, "acknowledged")) == 20
            assert s.providers.slack.problems == []
            # the channel's lane counts are kept in snapshots too
            assert len(s.state.bundles.chat_sent_on("slack", CHANNEL)) == len(got)


async def test_acknowledge_all_in_the_channel_acts_as_whoever_pressed_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(SMS_ONLY, chat=True, trigger=False) as s:
            await alerts(s, 12)
            await trio.sleep(61)
            slack = s.providers.slack
            *_alone, bundled = posts(s)
            (b,) = [b for b in s.state.bundles.by_id.values() if b.method == "slack"]
            assert b.user_id is None and b.address == CHANNEL
            count = len(b.incidents)
            assert f"*{count} incidents* opened on Checkout API" in bundled.text
            assert f"Acknowledge all {count}" in str(bundled.blocks)
            await act(s, "resolve", [b.incidents[0]])  # before anyone presses
            # someone pager does not know is refused, and nothing changes
            r = await s.slack(slack_body(slack.press(bundled, "ack_all", user="U0EVE")))
            assert r.status_code == 200
            await trio.sleep(5)
            assert acknowledged_via(s) == {}
            (refusal,) = slack.responses
            assert refusal.body["response_type"] == "ephemeral"
            assert "not one of pager's users" in refusal.body["text"]
            # bob (U0BOB), who was not paged, presses it: the incidents still triggered are
            # acknowledged, each as bob via Slack
            r = await s.slack(slack_body(slack.press(bundled, "ack_all", user="U0BOB")))
            assert r.status_code == 200
            await trio.sleep(5)
            acked = acknowledged_via(s)
            assert acked == {iid: ("bob", "slack") for iid in b.incidents[1:]}
            assert s.state.incidents[b.incidents[0]].status is Status.RESOLVED
            assert s.state.incidents["inc-1"].status is Status.TRIGGERED  # posted alone
            answer = slack.responses[-1]
            assert f"{count - 1} incidents acknowledged by bob via Slack" in answer.body["text"]
            assert "1 already acknowledged or resolved" in answer.body["text"]
            assert "ack_all" not in str(bundled.blocks)  # the button is gone
            assert slack.problems == []


async def test_a_quiet_channel_gets_one_post_per_incident_edited_in_place(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two incidents a minute go out at once, one post each, and each post is edited as its
    incident is acknowledged and resolved; a third within the same minute waits for the
    window (and goes alone); a later one goes at once. Nothing is bundled."""
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(SMS_ONLY, chat=True, trigger=False) as s:
            slack = s.providers.slack
            t0 = trio.current_time()
            await alerts(s, 1)
            await trio.sleep(5)
            await act(s, "acknowledge", ["inc-1"])
            await trio.sleep(5)
            r = await s.client.post("/v2/enqueue", json=pd_trigger("k2", "db-2 disk full"))
            assert r.status_code == 202
            await trio.sleep(5)
            await act(s, "resolve", ["inc-1"])
            await trio.sleep(5)
            got = posts(s)
            assert [carried(m.text) for m in got] == [1, 1]
            assert "db-0 disk full" in got[0].text and "db-2 disk full" in got[1].text
            texts = [text for _, text, _ in got[0].edits]  # inc-1's post, edited twice
            assert len(texts) == 2 and "(acknowledged)" in texts[0] and "(resolved)" in texts[1]
            # a third incident in the same minute: held until the window allows a post
            r = await s.client.post("/v2/enqueue", json=pd_trigger("k3", "db-3 disk full"))
            assert r.status_code == 202
            await trio.sleep(t0 + 55 - trio.current_time())
            assert len(posts(s)) == 2
            await trio.sleep(t0 + 65 - trio.current_time())
            got = posts(s)
            assert len(got) == 3 and "db-3 disk full" in got[2].text
            await trio.sleep(t0 + 300 - trio.current_time())
            r = await s.client.post("/v2/enqueue", json=pd_trigger("k4", "db-4 disk full"))
            assert r.status_code == 202
            await trio.sleep(2)
            got = posts(s)
            assert len(got) == 4 and "db-4 disk full" in got[3].text
            await act(s, "acknowledge", ["inc-4"])
            await trio.sleep(2)
            assert len(posts(s)) == 4 and "(acknowledged)" in got[3].edits[-1][1]
            assert [
                r for r in s.records(NotificationsBundled.TYPE) if r.data["method"] == "slack"
            ] == []
            assert slack.problems == []


async def test_a_teams_channel_gets_a_bundle_card_without_links(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Teams: the same lane; its bundle is a card with the count and the first titles, and
    no Acknowledge all (a Teams link acts as one person, and a channel is nobody)."""
    with trio.fail_after(VIRTUAL_DEADLINE):
        async with scene(SMS_ONLY, teams_chat=True, trigger=False) as s:
            await alerts(s, 20)
            await trio.sleep(61)
            cards = [doc for path, doc, _ in s.providers.teams.cards if path.endswith("/checkout")]
            assert len(cards) == 3, [str(c)[:200] for c in cards]
            card = cards[-1]["attachments"][0]["content"]
            shown = str(card)
            assert "18 incidents opened" in shown and "on Checkout API" in shown
            assert "Acknowledge all" not in shown
            teams = [r for r in s.records(NotificationsBundled.TYPE) if r.data["method"] == "teams"]
            assert len(teams) == 1
