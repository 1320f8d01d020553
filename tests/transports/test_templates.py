"""Message templates: the built-in wording, overrides from the configuration, rendering in
the sandbox, autoescaped HTML, and a template that fails at render time falling back to the
built-in one (logged) instead of failing the page."""

from __future__ import annotations

import logging

import pytest

from pager.config import ConfigError, load_config_text
from pager.config.models_channels import Templates
from pager.transports.templates import DEFAULTS, Renderer, template_context

from .samples import incident, message


def templates(**sections: dict[str, str]) -> Templates:
    return Templates.model_validate(sections)


def test_every_default_renders() -> None:
    context = template_context(message("email", "alice@example.com"))
    renderer = Renderer()
    for channel, parts in DEFAULTS.items():
        for part in parts:
            text = renderer.render(channel, part, context)
            assert "db-1 disk full" in text or "Checkout API" in text, (channel, part)


def test_a_configured_template_replaces_the_default() -> None:
    renderer = Renderer(
        templates(
            slack={"text": "{{ user.name }}: {{ incident.title|upper }} {{ links.acknowledge }}"}
        )
    )
    text = renderer.render("slack", "text", template_context(message("slack", "U0ALICE")))
    assert text == "Alice Example: DB-1 DISK FULL https://pager.example.test/a/tok-ack"
    # parts not configured keep the default
    assert "Reply 4" in renderer.render("sms", "text", template_context(message("sms", "+1")))


@pytest.mark.parametrize(
    "source",
    [
        "{{ incident.nope.deeper }}",  # undefined at render time
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",  # the sandbox says no
        "{{ incident.number / 0 }}",
    ],
    ids=["undefined", "sandbox", "zero-division"],
)
def test_a_failing_template_falls_back_to_the_default_and_is_logged(
    source: str, caplog: pytest.LogCaptureFixture
) -> None:
    renderer = Renderer(templates(sms={"text": source}))
    with caplog.at_level(logging.ERROR, logger="pager.templates"):
        text = renderer.render("sms", "text", template_context(message("sms", "+1")))
    assert text.startswith("[pager] CRITICAL db-1 disk full")
    assert "templates.sms.text failed" in caplog.text


def test_html_is_autoescaped_and_slack_text_escaped() -> None:
    nasty = message("email", "a@b.c", incident=incident(title="<b>bold</b> & <!here>"))
    context = template_context(nasty)
    html = Renderer().render("email", "html", context)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;!here&gt;" in html and "<b>bold" not in html
    slack = Renderer().render("slack", "text", context)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;!here&gt;" in slack
    # plain text stays plain
    assert "<b>bold</b> & <!here>" in Renderer().render("email", "text", context)


def test_the_mrkdwn_filter_is_known_to_check_config_and_unknown_filters_are_not() -> None:
    base = 'templates:\n  slack:\n    text: "{{{{ incident.title|{} }}}}"\n'
    config = load_config_text(base.format("mrkdwn"))
    assert config.templates.slack.text == "{{ incident.title|mrkdwn }}"
    with pytest.raises(ConfigError, match="No filter named 'nope'"):
        load_config_text(base.format("nope"))


def test_messages_call_people_by_their_display_names() -> None:
    """Who acknowledged or resolved an incident is called by their display name in every
    message, as the dashboard and the replies to a press do ("Alice Example", not "alice"),
    and the status says who put the incident in that status."""
    from pager.core.model import Status
    from pager.transports.slack import slack_blocks
    from pager.transports.teams import teams_card

    names = {"alice": "Alice Example", "bob": "Bob Example"}
    acked = incident(status=Status.ACKNOWLEDGED, acknowledged_by="alice")
    resolved = incident(status=Status.RESOLVED, acknowledged_by="alice", resolved_by="bob")
    renderer = Renderer()
    for inc, said in (
        (acked, "acknowledged (by Alice Example)"),
        (resolved, "resolved (by Bob Example)"),
    ):
        msg = message("email", "a@b.c", kind="status", incident=inc, names=names)
        context = template_context(msg)
        assert said in renderer.render("email", "text", context)
        assert said in renderer.render("email", "html", context)
    assert template_context(message("email", "a@b.c", incident=acked, names=names))[
        "acknowledged_by"
    ] == {"id": "alice", "name": "Alice Example"}

    blocks = str(slack_blocks(message("slack", None, incident=resolved, names=names), "x"))
    assert "Resolved by Bob Example" in blocks and "by bob" not in blocks
    blocks = str(slack_blocks(message("slack", None, incident=acked, names=names), "x"))
    assert "Acknowledged by Alice Example" in blocks
    card = teams_card(message("teams", None, incident=resolved, names=names), "t", "x")
    facts = {f["title"]: f["value"] for f in card["attachments"][0]["content"]["body"][2]["facts"]}
    assert facts["Acknowledged by"] == "Alice Example" and facts["Resolved by"] == "Bob Example"
    # someone who is no user (any more): the id, as the dashboard shows them
    gone = message("slack", None, incident=acked)
    assert "Acknowledged by alice" in str(slack_blocks(gone, "x"))
