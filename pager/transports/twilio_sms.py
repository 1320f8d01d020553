"""SMS through Twilio's REST API (`Messages.json`): a short text with the incident's short
code and the reply instructions, e.g. `[pager] CRITICAL db-1 disk full (checkout). Reply 4 MTA
to ack, 6 MTA to resolve`, and a `StatusCallback` so Twilio's delivery receipts come back to
`/hooks/twilio/status`.

One SMS segment holds 160 GSM-7 characters (the extension characters `^{}\\[~]|€` count
twice), or 70 UCS-2 code units once any other character appears. A text longer than its
segment is shortened by cutting the incident's title, never the short code or the
instructions, which are what the person needs to answer.
"""

from __future__ import annotations

from collections.abc import Callable

from pager.core.text import clean_line, clean_text

from .base import Message, ProviderRejected, Sent
from .templates import Renderer, template_context
from .twilio_api import TwilioApi, TwilioTransport

__all__ = ["TwilioSmsTransport", "segment_budget", "sms_text"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
ELLIPSIS = "..."  # "…" is not GSM-7: it would turn the whole text into a 70-character one


def segment_budget(text: str) -> tuple[int, int]:
    """(what one segment holds, what `text` uses), in the units of its encoding."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        return 160, sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    return 70, sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def fit_title(render: Callable[[str], str], title: str) -> str:
    """`render(title)`, with the title cut (ending in ELLIPSIS) so that the text fits one
    segment. When even no title would not make it fit, the whole text goes (Twilio sends it
    as several segments that the phone joins)."""
    full = text = render(title)
    limit, used = segment_budget(text)
    keep = len(title)
    for _ in range(8):  # each pass cuts by the measured excess; one or two passes do
        if used <= limit:
            return text
        if keep == 0:
            break
        keep = max(0, keep - (used - limit) - (len(ELLIPSIS) if keep == len(title) else 0))
        text = render(title[:keep].rstrip() + ELLIPSIS if keep else "")
        limit, used = segment_budget(text)
    return text if used <= limit else full


MAX_BUNDLE_TEXT = 1500  # Twilio takes at most 1600 characters (10 segments)


def sms_text(renderer: Renderer, message: Message) -> str:
    context = template_context(message)
    if message.bundle is not None:  # several segments: the count and how to answer first
        text = clean_text(renderer.render("sms", "bundle_text", context))
        return text if len(text) <= MAX_BUNDLE_TEXT else text[: MAX_BUNDLE_TEXT - 3] + ELLIPSIS
    incident = context["incident"]

    def render(title: str) -> str:
        return renderer.render("sms", "text", {**context, "incident": {**incident, "title": title}})

    return clean_text(fit_title(render, clean_line(message.incident.title)))


class TwilioSmsTransport(TwilioTransport):
    method = "sms"
    default_rate = 1.0  # a long-code number sends about one message per second

    def __init__(self, api: TwilioApi, renderer: Renderer | None = None) -> None:
        super().__init__(api)
        self.renderer = renderer or Renderer()

    async def send(self, message: Message) -> Sent:
        if not message.address:
            raise ProviderRejected("no phone number to text", permanent=True)
        form = {
            "To": message.address,
            "From": self.api.from_number,
            "Body": sms_text(self.renderer, message),
        }
        if message.public_url:
            form["StatusCallback"] = f"{message.public_url}/hooks/twilio/status"
        return Sent(provider_id=await self.api.create("Messages", form))
