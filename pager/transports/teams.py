"""Microsoft Teams: an Adaptive Card (version 1.4) POSTed to a Teams workflow webhook — the
person's `contacts.teams` for pages, the service's `chat.teams` for status updates.

The card shows the incident (title, summary, severity, service, status) and one
`Action.OpenUrl` button per entry of `Message.links` (signed action links: Teams workflow
cards cannot call back into pager, so a button opens a confirm page instead). Workflows
answer 202 with no id; there is no editing in place, so each status update is a new card.
A 4xx other than 429 (a deleted workflow, a rejected card) is permanent.
"""

from __future__ import annotations

from typing import Any

import httpx

from pager.config.models_channels import TeamsChannel

from .base import Message, ProviderRejected, Sent, Transport
from .provider_http import http_status_error, make_client, request
from .templates import Renderer, alert_links, template_context

__all__ = ["CARD_CONTENT_TYPE", "TeamsTransport", "teams_bundle_card", "teams_card"]

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_COLOR = {"critical": "Attention", "error": "Attention", "warning": "Warning"}


def _attachment(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def teams_bundle_card(message: Message, title: str, text: str) -> dict[str, Any]:
    """A bundle's card: the count, the services, the first incidents, Acknowledge all (a
    signed link for one person: a chat channel's bundle has none, as its status posts)."""
    bundle = message.bundle
    assert bundle is not None
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "size": "Large", "weight": "Bolder", "wrap": True,
         "color": "Attention"},
        {"type": "TextBlock", "text": text, "wrap": True},
        {"type": "FactSet", "facts": [
            {"title": f"#{i.incident.number} ({i.incident.short_code})",
             "value": f"{i.incident.severity.upper()} {i.incident.title[:200]} ({i.service_name})"
                      + (f" · {i.topic}" if bundle.channel and i.topic else "")}
            for i in bundle.items[: bundle.titles]
        ]},
    ]  # fmt: skip
    more = bundle.count - min(bundle.count, bundle.titles)
    if more:
        body.append({"type": "TextBlock", "text": f"and {more} more", "wrap": True})
    actions = []
    if "acknowledge_all" in message.links:
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": f"Acknowledge all {bundle.count}",
                "url": message.links["acknowledge_all"],
            }
        )
    if message.public_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open pager", "url": message.public_url})
    return _attachment(body, actions)


def teams_card(message: Message, title: str, text: str) -> dict[str, Any]:
    """The workflow webhook's message: one attachment holding the Adaptive Card."""
    inc = message.incident
    facts = [
        {"title": "Severity", "value": inc.severity},
        {"title": "Service", "value": message.service_name},
        {"title": "Status", "value": inc.status.value},
        {"title": "Incident", "value": f"#{inc.number} ({inc.short_code})"},
    ]
    if inc.acknowledged_by:
        facts.append({"title": "Acknowledged by", "value": message.name_of(inc.acknowledged_by)})
    if inc.resolved_by:
        facts.append({"title": "Resolved by", "value": message.name_of(inc.resolved_by)})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": title,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "color": _COLOR.get(inc.severity, "Default"),
        },
        {"type": "TextBlock", "text": text, "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    actions = [
        {"type": "Action.OpenUrl", "title": name.capitalize(), "url": url}
        for name, url in message.links.items()
    ]
    actions += [
        {"type": "Action.OpenUrl", "title": link["text"][:60], "url": link["href"]}
        for link in alert_links(message)
    ]
    return _attachment(body, actions)


class TeamsTransport(Transport):
    method = "teams"

    def __init__(
        self,
        channel: TeamsChannel,
        renderer: Renderer | None = None,
        *,
        http: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.renderer = renderer or Renderer()
        self.client = make_client(timeout=channel.timeout.total_seconds(), http=http)

    async def send(self, message: Message) -> Sent:
        if not message.address:
            raise ProviderRejected("no Teams workflow URL to post to", permanent=True)
        context = template_context(message)
        if message.bundle is not None:
            prefix = "channel_" if message.bundle.channel else ""
            card = teams_bundle_card(
                message,
                self.renderer.render("teams", f"{prefix}bundle_title", context),
                self.renderer.render("teams", f"{prefix}bundle_text", context),
            )
        else:
            card = teams_card(
                message,
                self.renderer.render("teams", "title", context),
                self.renderer.render("teams", "text", context),
            )
        response = await request(self.client, "POST", message.address, json=card)
        if not 200 <= response.status_code < 300:
            # more than is quoted: the URL's secrets are taken out before the text is cut
            raise http_status_error(response, "the Teams workflow", response.text[:4096])
        return Sent(provider_id=None)

    async def aclose(self) -> None:
        await self.client.aclose()
