"""`POST /hooks/twilio/sms`: Twilio, when someone texts pager's number (a reply to a page).

The request must carry a valid `X-Twilio-Signature` (403 and nothing changes otherwise; see
hooks_twilio.py). The sender's number (`From`) says who it is: the pager user whose
`contacts.sms` it is; a text from anyone else acts on nothing, is logged, and gets no reply.
The text (`Body`) is read by `pager.core.replies`:

- `4 K7Q` / `ack K7Q`, `6 K7Q` / `resolve K7Q`, `5 K7Q` / `escalate K7Q`: that incident (its
  short code, any case); without a code, the sender's most recent page.
- STOP (and Twilio's synonyms): pager sends this number no more texts — journaled as
  `contact.opted_out`, so texts to it fail at once and the person's next contact method is
  tried. Twilio itself confirms the opt-out, so pager says nothing. START (and synonyms)
  opts back in (`contact.opted_in`) and pager confirms.
- HELP, or anything else: how to answer.

The answer is TwiML (`MessagingResponse`): one text saying what was done or what was not
understood — none to a number that opted out. A message is acted on once, however often it
is delivered or replayed, before and after a restart: before an action its `MessageSid` is
journaled (`interaction.received`), and a STOP or START carries it in its own event.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from quart import Response
from quart_trio import QuartTrio
from twilio.twiml.messaging_response import MessagingResponse

from pager.actors.interactions import perform, perform_all, user_with_contact
from pager.actors.system import System
from pager.core.events import ContactOptedIn, ContactOptedOut
from pager.core.replies import HELP_TEXT, parse_reply
from pager.core.text import xml_text

from .hooks_twilio import forbidden, twiml, verified_form
from .seen import ReplayGuard

__all__ = ["masked", "register"]

log = logging.getLogger("pager.web.twilio")

# Twilio's signatures do not expire: a message sid is remembered this long
SEEN_FOR = timedelta(days=30)


def reply(text: str | None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(xml_text(text))  # a title may hold what XML does not allow
    return twiml(str(response))


def masked(number: str) -> str:
    """A phone number for the log: enough to recognise, not to dial."""
    return number[:3] + "..." + number[-2:] if len(number) > 6 else "..."


def register(app: QuartTrio, system: System) -> None:
    seen = ReplayGuard(system, "twilio", SEEN_FOR)

    @app.post("/hooks/twilio/sms")
    async def twilio_sms() -> Response:
        form = await verified_form(system)
        if form is None:
            return forbidden()
        sender = form.get("From", "")
        user_id = user_with_contact(system.current_rules(), "sms", sender)
        if user_id is None:
            log.warning("a text from %s refused: not a pager user's number", masked(sender))
            return reply(None)
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        if sid and seen.seen(sid):
            return reply(None)  # delivered again or replayed: acted on already
        body = form.get("Body", "")
        parsed = parse_reply(body)
        if sid and sid in system.state.opt_message_sids:
            return reply(None)  # a STOP or START acted on before (this run or an earlier one)
        keyword = " ".join(body.split()).upper()[:20]
        state = system.state
        opted_out = state.is_opted_out("sms", sender)
        if parsed.kind == "opt_out":
            if not opted_out:
                log.info("%s opted out of texts", user_id)
                await system.journal.record(
                    [
                        ContactOptedOut(
                            user_id=user_id,
                            method="sms",
                            address=sender,
                            keyword=keyword,
                            message_sid=sid or None,
                        )
                    ],
                    system.clock.now(),
                )
            return reply(None)
        if parsed.kind == "opt_in":
            if opted_out:
                log.info("%s opted back in to texts", user_id)
                await system.journal.record(
                    [
                        ContactOptedIn(
                            user_id=user_id,
                            method="sms",
                            address=sender,
                            keyword=keyword,
                            message_sid=sid or None,
                        )
                    ],
                    system.clock.now(),
                )
            return reply("pager: texts are on again. Reply STOP to end them.")
        if parsed.kind == "help":
            text = HELP_TEXT
        elif parsed.kind != "action" or parsed.action is None:
            text = f"{parsed.problem} {HELP_TEXT}"
        elif parsed.all:
            paged = state.notifications.reached(user_id)
            if not paged:
                text = f"pager has paged you about nothing to answer. {HELP_TEXT}"
            else:
                answer = await perform_all(
                    system,
                    user_id=user_id,
                    incident_ids=paged,
                    via="sms",
                    claim=(lambda: seen.first_time(sid)) if sid else None,
                )
                if answer.replayed:
                    return reply(None)
                text = "pager: " + answer.text
        else:
            if parsed.code is not None:
                incident_id = state.by_code.get(parsed.code)
                missing = f"pager knows no incident {parsed.code}."
            else:
                incident_id = state.latest_page_of(user_id)
                missing = "pager has paged you about nothing to answer."
            if incident_id is None:
                text = f"{missing} {HELP_TEXT}"
            else:
                answer = await perform(
                    system,
                    user_id=user_id,
                    incident_id=incident_id,
                    action=parsed.action,
                    via="sms",
                    claim=(lambda: seen.first_time(sid)) if sid else None,
                )
                if answer.replayed:
                    return reply(None)  # the same text twice at once: answered once
                text = "pager: " + answer.text
        return reply(None if opted_out else text)
