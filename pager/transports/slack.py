"""Slack: pages as direct messages to the person's Slack user id, status updates to the
service's channel, both through the Web API's `chat.postMessage`; when the incident changes,
the messages already sent are edited in place with `chat.update`.

Messages are Block Kit built with slack-sdk's model classes (which check Slack's limits as
they serialize): a header, the summary, severity / service / status / incident fields, the
links, then the actions the Slack interactions endpoint (`/hooks/slack/interactions`) acts
on: Acknowledge, Resolve and Escalate buttons (`action_id` ack, resolve, escalate; `value`
the incident id) and a Snooze menu (`action_id` snooze, a static select whose options are
`{incident id}|{15m, 1h, 4h}`). A bundle (storm mode: several incidents in one message) is a
header with the count, the services, the first incidents by title and code, and one
**Acknowledge all** button (`action_id` ack_all, `value` the bundle id). A chat channel's
bundle (several incidents' status posts in one) says the same by topic ("12 incidents
opened", "9 opened, 3 resolved"); its button acknowledges those still triggered, as whoever
presses it.

The provider id of a posted message is `"{channel}:{ts}"` (from Slack's answer: for a DM
the channel is the bot's D... channel with that person), which is what `chat.update` needs.

Slack reports most errors as HTTP 200 with `{"ok": false, "error": ...}`; `PERMANENT` lists
those no retry can fix (the person's next contact method is tried at once), `TRANSIENT`
those worth retrying; 429 carries Retry-After.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import httpx
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from pager.config.models_channels import SlackChannel, template_environment
from pager.core.model import Status
from pager.core.rules import MessageEdits
from pager.core.vocabulary import NotificationKind

from .base import BundleContent, Message, ProviderRejected, ProviderUnreachable, Sent, Transport
from .provider_http import http_status_error, make_client, request
from .templates import Renderer, alert_links, template_context

__all__ = [
    "PERMANENT",
    "SNOOZE_CHOICES",
    "TRANSIENT",
    "SlackTransport",
    "bundle_header",
    "slack_blocks",
    "slack_bundle_blocks",
]

PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "channel_not_found",
        "user_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "restricted_action",
        "cannot_dm_bot",
        "user_disabled",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "team_access_not_granted",
    }
)
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)

_escape = template_environment().filters["mrkdwn"]

SNOOZE_CHOICES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "4h": timedelta(hours=4)}
"""The Snooze menu's durations (option value `{incident id}|{key}`)."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _buttons(incident_id: str, status: Status) -> list[InteractiveElement]:
    if status is Status.RESOLVED:
        return []
    out: list[InteractiveElement] = []
    if status is Status.TRIGGERED:
        out.append(
            ButtonElement(text="Acknowledge", action_id="ack", value=incident_id, style="primary")
        )
    out.append(ButtonElement(text="Resolve", action_id="resolve", value=incident_id))
    out.append(
        StaticSelectElement(
            placeholder="Snooze",
            action_id="snooze",
            options=[
                Option(text=f"Snooze {key}", value=f"{incident_id}|{key}") for key in SNOOZE_CHOICES
            ],
        )
    )
    out.append(ButtonElement(text="Escalate", action_id="escalate", value=incident_id))
    return out


def _state_line(message: Message) -> str | None:
    inc = message.incident
    if inc.status is Status.ACKNOWLEDGED:
        by = inc.acknowledged_by
        return f":eyes: Acknowledged{f' by {_escape(message.name_of(by))}' if by else ''}"
    if inc.status is Status.RESOLVED:
        by = inc.resolved_by
        return f":white_check_mark: Resolved{f' by {_escape(message.name_of(by))}' if by else ''}"
    return None


def slack_blocks(message: Message, summary: str) -> list[dict[str, Any]]:
    """The Block Kit blocks of `message`, as JSON-able dicts."""
    inc = message.incident
    blocks: list[Block] = [
        HeaderBlock(text=_cut(f"{inc.severity.upper()}: {inc.title}", 150)),
        SectionBlock(
            text=MarkdownTextObject(text=_cut(summary, 3000)),
            fields=[
                MarkdownTextObject(text=f"*Severity*\n{_escape(inc.severity)}"),
                MarkdownTextObject(text=f"*Service*\n{_escape(_cut(message.service_name, 200))}"),
                MarkdownTextObject(text=f"*Status*\n{inc.status.value}"),
                MarkdownTextObject(text=f"*Incident*\n#{inc.number} · `{inc.short_code}`"),
            ],
        ),
    ]
    if (line := _state_line(message)) is not None:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line)]))
    links = [f"<{url}|{_escape(name.capitalize())}>" for name, url in message.links.items()]
    links += [
        f"<{link['href']}|{_escape(_cut(link['text'], 80))}>" for link in alert_links(message)
    ]
    if links:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_cut(" · ".join(links), 3000))])
        )
    out = [b.to_dict() for b in blocks]
    actions = _actions_template(inc.status)
    if actions is not None:
        out.append(_with_id(actions, inc.id))
    return out


def slack_bundle_blocks(
    message: Message, summary: str, *, done: str | None = None
) -> list[dict[str, Any]]:
    """The blocks of a bundle: the count, the services, the first incidents, and one
    Acknowledge all button (none with `done`, a line saying what was done instead; none in a
    chat channel's bundle whose incidents are all acknowledged or resolved)."""
    bundle = message.bundle
    assert bundle is not None
    lines = []
    for item in bundle.items[: bundle.titles]:
        inc = item.incident
        topic = f" · {item.topic}" if bundle.channel and item.topic else ""
        lines.append(
            f"• `{inc.short_code}` *{_escape(inc.severity.upper())}* "
            f"{_escape(_cut(inc.title, 150))} — {_escape(_cut(item.service_name, 60))}{topic}"
        )
    more = bundle.count - min(bundle.count, bundle.titles)
    acknowledgeable = bundle.triggered if bundle.channel else bundle.count
    blocks: list[Block] = [
        HeaderBlock(text=_cut(bundle_header(bundle), 150)),
        SectionBlock(text=MarkdownTextObject(text=_cut(summary + "\n" + "\n".join(lines), 3000))),
    ]
    footer = [f"and {more} more" if more else "", f"bundle `{bundle.id}`"]
    if message.public_url:
        footer.append(f"<{message.public_url}/|open pager>")
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(f for f in footer if f))])
    )
    if done is not None:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_cut(done, 3000))]))
    elif acknowledgeable:
        blocks.append(
            ActionsBlock(
                block_id=f"bundle:{bundle.id}",
                elements=[
                    ButtonElement(
                        text=f"Acknowledge all {acknowledgeable}",
                        action_id="ack_all",
                        value=bundle.id,
                        style="primary",
                    )
                ],
            )
        )
    return [b.to_dict() for b in blocks]


def bundle_header(bundle: BundleContent) -> str:
    """`37 incidents for you`; a chat channel's: `12 incidents opened`, or by topic
    `12 incidents: 9 opened, 3 resolved`."""
    if not bundle.channel:
        return f"{bundle.count} incidents for you"
    topics = bundle.topics_text()
    if len(bundle.topics()) == 1:
        return f"{bundle.count} incidents {topics}"
    return f"{bundle.count} incidents: {topics}" if topics else f"{bundle.count} incidents"


_ID = "\x1fincident\x1f"  # stands for the incident id in the actions block built once


@functools.cache
def _actions_template(status: Status) -> dict[str, Any] | None:
    """The actions block for an incident in `status`, built and checked by slack-sdk's models
    once, with `_ID` for the incident id; each message gets a copy with its own id
    (`_with_id`). Serializing the eight models of this block for every message cost a fifth
    of a page's CPU and left ~60 objects a message for the cyclic garbage collector
    (slack-sdk's `to_dict` makes a self-referencing closure per model)."""
    buttons = _buttons(_ID, status)
    if not buttons:
        return None
    return ActionsBlock(block_id=f"incident:{_ID}", elements=buttons).to_dict()


def _with_id(node: Any, incident_id: str) -> Any:
    if isinstance(node, str):
        return node.replace(_ID, incident_id)
    if isinstance(node, dict):
        return {k: _with_id(v, incident_id) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_id(v, incident_id) for v in node]
    return node


def posted_to(provider_id: str, channel: str) -> bool:
    """Whether the message `provider_id` (`channel:ts`, as `send` returns it) is in `channel`."""
    return provider_id.startswith(f"{channel}:")


# how decide learns that Slack messages are edited in place, and how to tell their channel
EDITS = MessageEdits("slack", posted_to)


class SlackTransport(Transport):
    method = "slack"
    edits_messages = True
    default_rate = 1.0  # Slack allows about one message per second per channel

    def __init__(
        self,
        channel: SlackChannel,
        renderer: Renderer | None = None,
        *,
        http: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.renderer = renderer or Renderer()
        self.client = make_client(
            base_url=channel.api_url,
            timeout=channel.timeout.total_seconds(),
            http=http,
            headers={"Authorization": f"Bearer {channel.token}"},
        )

    def rate_key(self, message: Message) -> str:
        if message.kind == NotificationKind.UPDATE and message.previous:
            return message.previous.split(":", 1)[0]
        return message.address or ""

    async def send(self, message: Message) -> Sent:
        payload: dict[str, Any]
        if message.bundle is not None:
            part = "channel_bundle_text" if message.bundle.channel else "bundle_text"
            text = self.renderer.render("slack", part, template_context(message))
            payload = {"text": text, "blocks": slack_bundle_blocks(message, text)}
        else:
            text = self.renderer.render("slack", "text", template_context(message))
            payload = {"text": text, "blocks": slack_blocks(message, text)}
        if message.kind == NotificationKind.UPDATE:
            channel, sep, ts = (message.previous or "").partition(":")
            if not sep or not channel or not ts:
                raise ProviderRejected(
                    f"cannot edit {message.previous!r}: not a Slack message id", permanent=True
                )
            await self._call("chat.update", {"channel": channel, "ts": ts, **payload})
            # the edited message keeps its id, already recorded with the notification that
            # posted it; returning it again would make later updates edit it twice
            return Sent(provider_id=None, detail=f"edited {channel}:{ts}")
        if not message.address:
            raise ProviderRejected("no Slack channel or user id to post to", permanent=True)
        payload.update(channel=message.address, unfurl_links=False, unfurl_media=False)
        data = await self._call("chat.postMessage", payload)
        posted_in, posted_ts = data.get("channel"), data.get("ts")
        if not isinstance(posted_in, str) or not isinstance(posted_ts, str):
            raise ProviderUnreachable("Slack answered ok without channel and ts")
        return Sent(provider_id=f"{posted_in}:{posted_ts}")

    async def post_text(self, channel: str, text: str) -> Sent:
        """A plain message to `channel`, not about one incident (the scheduled report)."""
        payload = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        data = await self._call("chat.postMessage", payload)
        return Sent(provider_id=f"{data.get('channel')}:{data.get('ts')}")

    async def _call(self, api_method: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await request(self.client, "POST", api_method, json=payload)
        if response.status_code != 200:
            raise http_status_error(response, f"Slack {api_method}")
        try:
            data = response.json()
        except ValueError:
            raise ProviderUnreachable(f"Slack {api_method} answered 200 without JSON") from None
        if not isinstance(data, dict):
            raise ProviderUnreachable(f"Slack {api_method} answered 200 without an object")
        if data.get("ok") is True:
            return data
        error = str(data.get("error") or "unknown_error")
        text = f"Slack {api_method}: {error}"
        if error in PERMANENT:
            raise ProviderRejected(text, permanent=True)
        if error in TRANSIENT:
            raise ProviderUnreachable(text)
        raise ProviderRejected(text)  # unknown: retried with backoff, a few times

    async def aclose(self) -> None:
        await self.client.aclose()
