"""Twilio's calls into pager: the TwiML of a voice call, the key a person pressed, and the
delivery receipts of texts and calls.

- `POST /hooks/twilio/voice/{notification_id}`: Twilio fetches the call's instructions once
  it is answered: the incident read aloud and a one-key menu (an answering machine gets a
  short message instead).
- `POST /hooks/twilio/voice/{notification_id}/gather`: the key pressed, by the person the
  call was for (the notification's user): 4 acknowledges, 6 resolves, 5 escalates to the
  next level, `*` repeats, any other key repeats the menu. No key (the gather timed out) and
  an answering machine never act; a call acts once (its CallSid is journaled as
  `interaction.received` before pager acts, so a replayed answer is refused after a restart
  too).
- `POST /hooks/twilio/status`: receipts (`MessageSid`/`MessageStatus`,
  `CallSid`/`CallStatus`). A final one is journaled as `notification.delivered`; a page
  that was not delivered (failed, undelivered, busy, no-answer) makes the incident try the
  person's next contact method at once, as a failed send does.

Every request must carry a valid `X-Twilio-Signature` (see signatures.py), computed over
the URL Twilio was given — `server.public_url` + path (+ query), not the URL this request
arrived at, which a proxy in front of pager rewrites — and the fields of the raw body. A
request that fails gets 403 and changes nothing. SMS replies are in hooks_twilio_sms.py.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import timedelta

from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.dispatcher import Dispatcher
from pager.actors.interactions import perform, perform_all
from pager.actors.messages import Act
from pager.actors.system import System
from pager.core.events import NotificationDelivered
from pager.core.notifications import Notification
from pager.core.reach import fallback_for
from pager.core.vocabulary import NotificationKind, NotificationStatus
from pager.errors import PagerError
from pager.transports.base import Message
from pager.transports.twilio_api import FAILED_RECEIPTS, FINAL_RECEIPTS, UNREACHED_RECEIPTS
from pager.transports.twilio_voice import (
    bundle_menu,
    call_twiml,
    goodbye_twiml,
    machine_twiml,
    menu_twiml,
    voice_text,
)

from .seen import ReplayGuard
from .signatures import form_fields, twilio_verified

__all__ = ["FAILED", "FINAL", "KEYS", "forbidden", "register", "twiml", "verified_form"]

log = logging.getLogger("pager.web.twilio")

# receipts worth journaling, and those of a page that did not reach the person (Twilio's
# words: pager/transports/twilio_api.py)
FINAL = FINAL_RECEIPTS
FAILED = UNREACHED_RECEIPTS

KEYS = {"4": "acknowledge", "6": "resolve", "5": "escalate"}
ONE_ANSWER_PER_CALL = timedelta(days=30)  # Twilio's signatures do not expire

TWIML = "application/xml"


def twiml(body: str) -> Response:
    return Response(body, 200, content_type=TWIML)


def forbidden() -> Response:
    return Response("the X-Twilio-Signature does not verify\n", 403, content_type="text/plain")


async def verified_form(system: System) -> dict[str, str] | None:
    """The form fields of the current request if Twilio signed it, else None. The body is
    read raw and checked before anything else looks at it."""
    twilio = system.config.channels.twilio
    signature = request.headers.get("X-Twilio-Signature", "")
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if twilio is None or not signature or not isinstance(body, bytes):
        return None
    fields = form_fields(body)
    if fields is None:
        return None
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.path
    url = str(system.config.server.public_url) + path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    if not twilio_verified(twilio.auth_token, url, fields, signature):
        return None
    return {k: fields.get(k, "") for k in fields}


def register(app: QuartTrio, system: System, dispatcher: Callable[[], Dispatcher | None]) -> None:
    """The Twilio hooks; `dispatcher()` builds a call's message (a page's or a bundle's) as
    its delivery actor does (None when no dispatcher runs: a standby, or the routes alone)."""
    receiving: set[str] = set()  # receipts being journaled: a duplicate waits for nothing
    answered_calls = ReplayGuard(system, "twilio", ONE_ANSWER_PER_CALL)

    def message_for(notification_id: str) -> Message | None:
        """The call's message as the delivery actor built it (the incident as it is now; a
        bundle's incidents still triggered)."""
        running = dispatcher()
        if running is None:
            return None
        bundle = system.state.bundles.by_id.get(notification_id)
        if bundle is not None:
            return running.make_bundle_message(bundle, 1)
        n = system.state.notifications.by_id.get(notification_id)
        if n is None:
            return None
        return running.make_message(n, n.attempts or 1)

    def gather_url(notification_id: str) -> str:
        return f"{system.config.server.public_url}/hooks/twilio/voice/{notification_id}/gather"

    def call(notification_id: str) -> Response:
        message = message_for(notification_id)
        if message is None:
            if notification_id in system.state.bundles.by_id:
                done = "This is pager. Every incident of this call is acknowledged or resolved."
                return twiml(goodbye_twiml(done))
            return twiml(machine_twiml("This is pager. The incident is no longer known."))
        say = voice_text(system.renderer, message)
        if message.bundle is not None:
            menu = bundle_menu(message.bundle.count)
            return twiml(call_twiml(say, gather_url(notification_id), menu))
        return twiml(call_twiml(say, gather_url(notification_id)))

    @app.post("/hooks/twilio/voice/<notification_id>")
    async def twilio_voice(notification_id: str) -> Response:
        form = await verified_form(system)
        if form is None:
            return forbidden()
        if form.get("AnsweredBy", "").startswith("machine"):
            message = message_for(notification_id)
            say = voice_text(system.renderer, message) if message else "This is pager."
            return twiml(machine_twiml(say))
        return call(notification_id)

    @app.post("/hooks/twilio/voice/<notification_id>/gather")
    async def twilio_gather(notification_id: str) -> Response:
        form = await verified_form(system)
        if form is None:
            return forbidden()
        digits = form.get("Digits", "").strip()
        if digits == "*":
            return call(notification_id)
        if notification_id in system.state.bundles.by_id:
            return await bundle_gather(notification_id, form, digits)
        n = system.state.notifications.by_id.get(notification_id)
        if n is None or n.kind != NotificationKind.PAGE or n.method != "voice" or n.user_id is None:
            return twiml(goodbye_twiml("This is pager. The incident is no longer known."))
        if not digits or form.get("AnsweredBy", "").startswith("machine"):
            return twiml(goodbye_twiml("No key was pressed."))  # never an acknowledgement
        call_sid = form.get("CallSid", "")
        # only the call pager placed for this notification answers it: one never placed
        # (refused by Twilio, cancelled, not yet due) has no CallSid and answers nothing
        if n.provider_id is None or not hmac.compare_digest(call_sid, n.provider_id):
            log.warning("gather for %s from a call pager did not place for it", notification_id)
            return twiml(goodbye_twiml("This call cannot answer that incident."))
        action = KEYS.get(digits)
        if action is None:
            return twiml(menu_twiml(f"Key {digits[:4]} does nothing.", gather_url(n.id)))
        if n.user_id not in system.current_rules().users:
            log.warning("voice %s of %s refused: %s is not a pager user", action, n.id, n.user_id)
            return twiml(goodbye_twiml("This call was for someone who is no longer a pager user."))
        if answered_calls.seen(f"gather:{call_sid}"):
            return twiml(goodbye_twiml("Your answer was received already."))
        answer = await perform(
            system,
            user_id=n.user_id,
            incident_id=n.incident_id,
            action=action,
            via="voice",
            claim=lambda: answered_calls.first_time(f"gather:{call_sid}"),
        )
        if answer.replayed:
            return twiml(goodbye_twiml("Your answer was received already."))
        if answer.done and answer.incident is not None:
            inc = answer.incident
            said = f"Thank you. Incident number {inc.number} is {inc.status.value}"
            if action == "escalate" and inc.escalation is not None:
                said = f"Thank you. Incident number {inc.number} is escalated to level {inc.escalation.level + 1}"
            return twiml(goodbye_twiml(said + "."))
        return twiml(goodbye_twiml(answer.text.replace("#", "number ")))

    async def bundle_gather(bundle_id: str, form: dict[str, str], digits: str) -> Response:
        """A key pressed in a call about a bundle: 4 acknowledges every incident of it."""
        bundle = system.state.bundles.by_id[bundle_id]
        if bundle.method != "voice":
            return twiml(goodbye_twiml("This is pager. The incidents are no longer known."))
        if not digits or form.get("AnsweredBy", "").startswith("machine"):
            return twiml(goodbye_twiml("No key was pressed."))  # never an acknowledgement
        call_sid = form.get("CallSid", "")
        if bundle.provider_id is None or not hmac.compare_digest(call_sid, bundle.provider_id):
            log.warning("gather for %s from a call pager did not place for it", bundle_id)
            return twiml(goodbye_twiml("This call cannot answer those incidents."))
        if digits != "4":
            menu = bundle_menu(len(bundle.incident_ids))
            return twiml(menu_twiml(f"Key {digits[:4]} does nothing.", gather_url(bundle_id), menu))
        if bundle.user_id is None or bundle.user_id not in system.current_rules().users:
            return twiml(goodbye_twiml("This call was for someone who is no longer a pager user."))
        if answered_calls.seen(f"gather:{call_sid}"):
            return twiml(goodbye_twiml("Your answer was received already."))
        answer = await perform_all(
            system,
            user_id=bundle.user_id,
            incident_ids=bundle.incident_ids,
            via="voice",
            claim=lambda: answered_calls.first_time(f"gather:{call_sid}"),
        )
        if answer.replayed:
            return twiml(goodbye_twiml("Your answer was received already."))
        return twiml(goodbye_twiml(("Thank you. " if answer.done else "") + answer.text))

    @app.post("/hooks/twilio/status")
    async def twilio_status() -> Response:
        form = await verified_form(system)
        if form is None:
            return forbidden()
        sid = form.get("MessageSid") or form.get("CallSid")
        status = str(form.get("MessageStatus") or form.get("CallStatus") or "").lower()
        nid = system.state.notifications.by_provider_id.get(str(sid)) if sid else None
        n = system.state.notifications.by_id.get(nid) if nid else None
        if n is None or status not in FINAL:
            return Response("", 204)  # unknown sid, or a step on the way (queued, ringing...)
        book = system.state.notifications
        # a bundle's receipt is the receipt of every page it carried
        bundle = system.state.bundles.by_id.get(n.bundle_id) if n.bundle_id else None
        ids = bundle.notification_ids if bundle is not None else (n.id,)
        members = [
            m
            for nid in ids
            if (m := book.by_id.get(nid)) is not None
            and m.status == NotificationStatus.SENT
            and m.provider_id == n.provider_id
            and m.id not in receiving
        ]
        if not members:
            return Response("", 204)  # a repeated receipt: the first one counted
        code = form.get("ErrorCode")
        receiving.update(m.id for m in members)
        try:
            await system.journal.record(
                [
                    NotificationDelivered(
                        incident_id=m.incident_id,
                        notification_id=m.id,
                        status=status,
                        error=f"Twilio error {code}" if code else None,
                        failed=status in FAILED_RECEIPTS,
                    )
                    for m in members
                ],
                system.clock.now(),
            )
        finally:
            receiving.difference_update(m.id for m in members)
        if status in FAILED:
            for m in members:
                await fall_back(m, status)
        return Response("", 204)

    async def fall_back(n: Notification, status: str) -> None:
        """A page that did not reach the person: their next contact method now."""
        inc = system.state.incidents.get(n.incident_id)
        if n.kind != "page" or n.user_id is None or inc is None:
            return
        book, rules = system.state.notifications, system.current_rules()
        try:
            await system.submit(Act(n.incident_id, fallback_for(book, rules, inc, n.user_id, n.id)))
        except PagerError as e:  # resolved meanwhile, busy: the escalation goes on
            log.info("no fallback after %s of %s: %s", status, n.id, e)
