"""Voice calls through Twilio's REST API (`Calls.json`), and the TwiML the call plays.

Placing the call only tells Twilio whom to ring and where to fetch instructions: once the
call is answered Twilio POSTs to `{public_url}/hooks/twilio/voice/{notification_id}`, which
answers the TwiML built here (with twilio's `VoiceResponse`): the incident read aloud, then
a one-key menu (4 acknowledge, 6 resolve, 5 escalate, * repeat) whose digits Twilio posts to
`.../gather`. Every text is cut down to what XML allows (`xml_text`): a control
character in a title must not make the TwiML ill-formed, or Twilio fails the call. Answering
machines (`MachineDetection=Enable`) get a short message and the
call ends. `StatusCallback` brings the call's outcome (completed, busy, no-answer, failed)
back to `/hooks/twilio/status`.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from pager.core.text import xml_text

from .base import Message, ProviderRejected, Sent
from .templates import Renderer, template_context
from .twilio_api import TwilioTransport

__all__ = [
    "MENU",
    "TwilioVoiceTransport",
    "bundle_menu",
    "call_twiml",
    "goodbye_twiml",
    "machine_twiml",
    "menu_twiml",
    "voice_text",
]

MENU = "Press 4 to acknowledge, 6 to resolve, 5 to escalate, or star to repeat this message."
MAX_SAY = 1000  # characters of incident text read out; Twilio allows 4096


def bundle_menu(count: int) -> str:
    """The menu of a call about a bundle: one key acknowledges every incident of it."""
    return f"Press 4 to acknowledge all {count} incidents, or star to repeat this message."


def voice_text(renderer: Renderer, message: Message) -> str:
    part = "say" if message.bundle is None else "bundle_say"
    text = renderer.render("voice", part, template_context(message))
    return text if len(text) <= MAX_SAY else text[:MAX_SAY]


def call_twiml(say: str, gather_url: str, menu: str = MENU) -> str:
    """The call: the incident (or the bundle), then the menu (once more if nothing is
    pressed)."""
    say = xml_text(say)
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    gather.say(say)
    gather.pause(length=1)
    gather.say(menu)
    response.append(gather)
    again = Gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    again.say(menu)
    response.append(again)
    response.say("No key was pressed. Goodbye.")
    response.hangup()
    return str(response)


def machine_twiml(say: str) -> str:
    """An answering machine picked up: leave the essentials and hang up."""
    response = VoiceResponse()
    response.say(xml_text(f"{say} Please open pager to respond."))
    response.hangup()
    return str(response)


def goodbye_twiml(say: str) -> str:
    """Say `say`, then goodbye, and hang up."""
    response = VoiceResponse()
    response.say(xml_text(f"{say} Goodbye."))
    response.hangup()
    return str(response)


def menu_twiml(say: str, gather_url: str, menu: str = MENU) -> str:
    """Say `say` (a key that does nothing), then the menu again."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=8)
    gather.say(xml_text(f"{say} {menu}"))
    response.append(gather)
    response.say("No key was pressed. Goodbye.")
    response.hangup()
    return str(response)


class TwilioVoiceTransport(TwilioTransport):
    method = "voice"
    default_rate = 1.0  # Twilio places about one call per second per account by default

    async def send(self, message: Message) -> Sent:
        if not message.address:
            raise ProviderRejected("no phone number to call", permanent=True)
        if not message.public_url:
            raise ProviderRejected(
                "server.public_url is not set: Twilio could not fetch the call's TwiML",
                permanent=True,
            )
        base = message.public_url
        form = {
            "To": message.address,
            "From": self.api.from_number,
            "Url": f"{base}/hooks/twilio/voice/{message.notification_id}",
            "Method": "POST",
            "StatusCallback": f"{base}/hooks/twilio/status",
            "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": ["completed"],
            "MachineDetection": "Enable",
            "Timeout": "30",
        }
        return Sent(provider_id=await self.api.create("Calls", form))
