"""One message about many incidents (a bundle, storm mode), as each transport writes it: it
says how many incidents, on which services, the first few titles, and how to act on all of
them; it stays within each provider's limits however many incidents and however long their
titles (Slack's blocks and Teams' card as the stand-ins check them, one Twilio text of at
most 1600 characters, an email that lists the first 100)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from pager.core.model import Status
from pager.transports.base import BundleContent, BundleItem, Message
from pager.transports.console import ConsoleTransport
from pager.transports.email import EmailTransport
from pager.transports.slack import slack_bundle_blocks
from pager.transports.teams import teams_bundle_card
from pager.transports.templates import Renderer, template_context
from pager.transports.twilio_sms import sms_text
from pager.transports.twilio_voice import bundle_menu, voice_text
from pager.transports.webhook import webhook_body

from ..standins.slack import blocks_problem
from ..standins.teams import card_problem
from .samples import PUBLIC_URL, incident, message


def bundle_message(method: str, count: int, title: str = "db-{i} disk full") -> Message:
    items = tuple(
        BundleItem(
            incident=incident(id=f"inc-{i}", number=i, title=title.format(i=i)),
            service_name="Checkout API" if i % 3 else "Payments",
            notification_id=f"inc-{i}-n1",
            links={"acknowledge": f"{PUBLIC_URL}/a/ack-{i}"},
        )
        for i in range(1, count + 1)
    )
    return replace(
        message(method, "+15555550100" if method in ("sms", "voice") else "U0ALICE"),
        notification_id="b3",
        kind="bundle",
        incident=items[0].incident,
        links={"acknowledge_all": f"{PUBLIC_URL}/a/all"},
        bundle=BundleContent("b3", items, titles=5),
    )


def test_the_bundle_context_counts_services_and_lists_the_first() -> None:
    ctx = template_context(bundle_message("email", 150))["bundle"]
    assert ctx["count"] == 150 and ctx["more"] == 145 and ctx["unlisted"] == 50
    assert ctx["services"] == [
        {"name": "Checkout API", "count": 100},
        {"name": "Payments", "count": 50},
    ]
    assert [i["title"] for i in ctx["first"]] == [f"db-{i} disk full" for i in range(1, 6)]
    assert len(ctx["incidents"]) == 100


@pytest.mark.parametrize("count", [2, 37, 5000])
def test_sms_says_how_many_and_how_to_answer_within_twilios_limit(count: int) -> None:
    text = sms_text(Renderer(), bundle_message("sms", count, title="x" * 500 + " {i}"))
    assert text.startswith(f"[pager] {count} incidents for you (")
    assert "Reply 4 ALL to ack all" in text
    assert len(text) <= 1600


def test_the_call_reads_the_count_and_offers_one_key() -> None:
    m = bundle_message("voice", 37)
    said = voice_text(Renderer(), m)
    assert said.startswith("This is pager. You have 37 new incidents: 25 on Checkout API")
    assert (
        bundle_menu(37)
        == "Press 4 to acknowledge all 37 incidents, or star to repeat this message."
    )


@pytest.mark.parametrize("count", [2, 1000])
def test_slack_blocks_pass_slacks_checks_with_one_acknowledge_all(count: int) -> None:
    m = bundle_message("slack", count, title="y" * 3000 + " {i}")
    blocks = slack_bundle_blocks(m, f"*{count} incidents* for you")
    assert blocks_problem(blocks) is None
    actions = [b for b in blocks if b["type"] == "actions"]
    (button,) = actions[0]["elements"]
    assert (button["action_id"], button["value"]) == ("ack_all", "b3")
    assert button["text"]["text"] == f"Acknowledge all {count}"
    done = slack_bundle_blocks(m, "x", done="37 incidents acknowledged")
    assert not [b for b in done if b["type"] == "actions"] and blocks_problem(done) is None


def test_teams_card_passes_the_stand_ins_checks() -> None:
    m = bundle_message("teams", 40)
    card = teams_bundle_card(m, "40 incidents for you", "27 Checkout API, 13 Payments")
    assert card_problem(card) is None
    content = card["attachments"][0]["content"]
    assert [a["title"] for a in content["actions"]] == ["Acknowledge all 40", "Open pager"]
    assert "and 35 more" in json.dumps(content)


def test_email_lists_them_with_links_and_one_acknowledge_all() -> None:
    from pager.config.models_channels import EmailChannel

    channel = EmailChannel(smtp_host="smtp.test", **{"from": "pager <pager@example.com>"})
    mail = EmailTransport(channel, public_url=PUBLIC_URL).build(
        replace(bundle_message("email", 150), address="alice@example.com")
    )
    assert str(mail["Subject"]) == "[pager] 150 incidents for you (100 Checkout API, 50 Payments)"
    assert mail["X-Pager-Bundle"] == "b3" and mail["In-Reply-To"] is None
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"Acknowledge all 150: {PUBLIC_URL}/a/all" in text
    assert text.count("Acknowledge: ") == 100 and "and 50 more" in text
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Acknowledge all 150" in html and "db-99 disk full" in html


def test_a_webhook_carries_every_id_and_the_first_incidents_in_full() -> None:
    body = webhook_body(bundle_message("webhook", 150))
    assert body["type"] == "incident.bundle"
    assert body["bundle"]["count"] == 150 and len(body["bundle"]["incidents"]) == 150
    assert len(body["incidents"]) == 100
    assert body["notification"]["id"] == "b3"


async def test_the_console_prints_one_line() -> None:
    import io

    out = io.StringIO()
    await ConsoleTransport(out).send(bundle_message("console", 8))
    line = out.getvalue()
    assert line.startswith("[bundle] Alice Example: 8 incidents (6 Checkout API, 2 Payments)")
    assert "3 more (bundle b3)" in line


def test_a_configured_bundle_template_is_used_and_a_failing_one_falls_back() -> None:
    from pager.config.models_channels import SmsTemplates, Templates

    m = bundle_message("sms", 12)
    mine = Templates(sms=SmsTemplates(bundle_text="{{ bundle.count }} down, reply 4 ALL"))
    assert sms_text(Renderer(mine), m) == "12 down, reply 4 ALL"
    broken = Templates(sms=SmsTemplates(bundle_text="{{ bundle.nope.deeper }}"))
    assert sms_text(Renderer(broken), m).startswith("[pager] 12 incidents for you (")


def channel_bundle(method: str, topics: list[str]) -> Message:
    """A chat channel's bundle: one incident per topic, acknowledged or resolved ones in the
    state their topic says."""
    status = {"opened": Status.TRIGGERED, "acknowledged": Status.ACKNOWLEDGED}
    items = tuple(
        BundleItem(
            incident=incident(
                id=f"inc-{i}",
                number=i,
                title=f"db-{i} disk full",
                status=status.get(topic, Status.RESOLVED),
            ),
            service_name="Checkout API",
            notification_id=f"inc-{i}-n2",
            topic=topic,
        )
        for i, topic in enumerate(topics, 1)
    )
    return replace(
        message(method, "C0CHECKOUT"),
        notification_id="b4",
        kind="bundle",
        incident=items[0].incident,
        links={},
        bundle=BundleContent("b4", items, titles=5, channel=True),
    )


def test_a_channel_bundle_says_its_count_by_topic() -> None:
    r = Renderer()
    one = channel_bundle("slack", ["opened"] * 12)
    text = r.render("slack", "channel_bundle_text", template_context(one))
    assert text == "*12 incidents* opened on Checkout API"
    mix = channel_bundle("slack", ["resolved"] * 3 + ["opened"] * 9)
    text = r.render("slack", "channel_bundle_text", template_context(mix))
    assert text == "*12 incidents* on Checkout API: 9 opened, 3 resolved"
    ctx = template_context(mix)["bundle"]
    assert ctx["channel"] and ctx["triggered"] == 9
    assert ctx["topics"] == [{"topic": "opened", "count": 9}, {"topic": "resolved", "count": 3}]
    assert ctx["first"][0]["topic"] == "resolved" and ctx["first"][0]["status"] == "resolved"
    title = r.render("teams", "channel_bundle_title", template_context(one))
    assert title == "12 incidents opened"


def test_a_channel_bundle_on_slack_acknowledges_only_what_is_still_triggered() -> None:
    mix = channel_bundle("slack", ["resolved"] * 3 + ["acknowledged", "opened", "opened"])
    blocks = slack_bundle_blocks(mix, "summary")
    assert blocks_problem(blocks) is None
    assert blocks[0]["text"]["text"] == "6 incidents: 2 opened, 1 acknowledged, 3 resolved"
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert actions["elements"][0]["text"]["text"] == "Acknowledge all 2"
    assert "· resolved" in json.dumps(blocks, ensure_ascii=False)
    done = slack_bundle_blocks(channel_bundle("slack", ["resolved"] * 4), "summary")
    assert not [b for b in done if b["type"] == "actions"] and blocks_problem(done) is None
    assert done[0]["text"]["text"] == "4 incidents resolved"


def test_a_channel_bundle_card_on_teams_has_no_acknowledge_all() -> None:
    m = channel_bundle("teams", ["opened"] * 7)
    card = teams_bundle_card(m, "7 incidents opened", "7 incidents opened on Checkout API")
    assert card_problem(card) is None
    content = card["attachments"][0]["content"]
    assert [a["title"] for a in content.get("actions", ())] == ["Open pager"]
    assert "· opened" in json.dumps(content, ensure_ascii=False)
