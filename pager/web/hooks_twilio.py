"""Twilio's calls into pager: the TwiML of a voice call, the key a person pressed, and the
delivery receipts of texts and calls.

- `POST /hooks/twilio/voice/{notification_id}`: Twilio fetches the call's instructions once
  it is answered: the incident read aloud and a one-key menu (an answering machine gets a
  short message instead).
- `POST /hooks/twilio/voice/{notification_id}/gather`: the key pressed. `*` repeats.
- `POST /hooks/twilio/status`: receipts (`MessageSid`/`MessageStatus`,
  `CallSid`/`CallStatus`). A final one is journaled as `notification.delivered`; a page
  that was not delivered (failed, undelivered, busy, no-answer) makes the incident try the
  person's next contact method at once, as a failed send does.

Every request must carry a valid `X-Twilio-Signature`: twilio's RequestValidator with the
account's auth token, over the URL Twilio was given — `server.public_url` + path (+ query),
not the URL this request arrived at, which a proxy in front of pager rewrites. A request
that fails gets 403 and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio
from twilio.request_validator import RequestValidator

from pager.actors.messages import Act
from pager.actors.system import System
from pager.core.commands import Fallback
from pager.core.events import NotificationDelivered
from pager.errors import PagerError
from pager.transports.base import Message
from pager.transports.templates import Renderer
from pager.transports.twilio_voice import (
    answer_received_twiml,
    call_twiml,
    machine_twiml,
    voice_text,
)

__all__ = ["FAILED", "FINAL", "register"]

log = logging.getLogger("pager.web.twilio")

# receipts worth journaling: the final word on a text or a call
FINAL = frozenset(
    {"delivered", "undelivered", "failed", "read", "completed", "busy", "no-answer", "canceled"}
)
# a page that did not reach the person: try their next contact method
FAILED = frozenset({"failed", "undelivered", "busy", "no-answer"})

TWIML = "application/xml"


def _twiml(body: str) -> Response:
    return Response(body, 200, content_type=TWIML)


def _forbidden() -> Response:
    return Response("the X-Twilio-Signature does not verify\n", 403, content_type="text/plain")


def register(app: QuartTrio, system: System) -> None:
    def renderer() -> Renderer:  # the templates in force now (a reload may change them)
        return Renderer(system.config.templates)

    receiving: set[str] = set()  # receipts being journaled: a duplicate waits for nothing

    async def verified_form() -> dict[str, Any] | None:
        """The form of a request signed by Twilio, or None."""
        twilio = system.config.channels.twilio
        signature = request.headers.get("X-Twilio-Signature", "")
        if twilio is None or not signature:
            return None
        form = await request.form
        url = str(system.config.server.public_url) + request.path
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        if not RequestValidator(twilio.auth_token).validate(url, form, signature):
            return None
        return {k: form.get(k) for k in form}

    def message_for(notification_id: str) -> Message | None:
        n = system.state.notifications.by_id.get(notification_id)
        inc = system.state.incidents.get(n.incident_id) if n is not None else None
        if n is None or inc is None:
            return None
        rules = system.current_rules()
        svc = rules.services.get(inc.service_id)
        user = rules.users.get(n.user_id) if n.user_id else None
        return Message(
            notification_id=n.id,
            kind=n.kind,
            method=n.method,
            address=n.address,
            incident=inc,
            service_name=(svc.name or svc.id) if svc else inc.service_id,
            user_id=n.user_id,
            user_name=(user.name or user.id) if user else n.user_id,
            public_url=str(system.config.server.public_url),
        )

    def gather_url(notification_id: str) -> str:
        return f"{system.config.server.public_url}/hooks/twilio/voice/{notification_id}/gather"

    def call(notification_id: str) -> Response:
        message = message_for(notification_id)
        if message is None:
            return _twiml(machine_twiml("This is pager. The incident is no longer known."))
        return _twiml(call_twiml(voice_text(renderer(), message), gather_url(notification_id)))

    @app.post("/hooks/twilio/voice/<notification_id>")
    async def twilio_voice(notification_id: str) -> Response:
        form = await verified_form()
        if form is None:
            return _forbidden()
        if str(form.get("AnsweredBy") or "").startswith("machine"):
            message = message_for(notification_id)
            say = voice_text(renderer(), message) if message else "This is pager."
            return _twiml(machine_twiml(say))
        return call(notification_id)

    @app.post("/hooks/twilio/voice/<notification_id>/gather")
    async def twilio_gather(notification_id: str) -> Response:
        form = await verified_form()
        if form is None:
            return _forbidden()
        if form.get("Digits") == "*":
            return call(notification_id)
        # TODO(issue 6): act on the key: 4 acknowledges, 6 resolves, 5 escalates the
        # incident (by the person this call was for, via "voice"), and say what happened.
        return _twiml(answer_received_twiml())

    @app.post("/hooks/twilio/status")
    async def twilio_status() -> Response:
        form = await verified_form()
        if form is None:
            return _forbidden()
        sid = form.get("MessageSid") or form.get("CallSid")
        status = str(form.get("MessageStatus") or form.get("CallStatus") or "").lower()
        nid = system.state.notifications.by_provider_id.get(str(sid)) if sid else None
        n = system.state.notifications.by_id.get(nid) if nid else None
        if n is None or status not in FINAL:
            return Response("", 204)  # unknown sid, or a step on the way (queued, ringing...)
        if n.status != "sent" or n.id in receiving:
            return Response("", 204)  # a repeated receipt: the first one counted
        code = form.get("ErrorCode")
        receiving.add(n.id)
        try:
            await system.journal.record(
                [
                    NotificationDelivered(
                        incident_id=n.incident_id,
                        notification_id=n.id,
                        status=status,
                        error=f"Twilio error {code}" if code else None,
                    )
                ],
                system.clock.now(),
            )
        finally:
            receiving.discard(n.id)
        if status in FAILED and n.kind == "page" and n.user_id is not None:
            try:
                await system.submit(
                    Act(n.incident_id, Fallback(user_id=n.user_id, notification_id=n.id))
                )
            except PagerError as e:  # resolved meanwhile, busy: the escalation goes on
                log.info("no fallback after %s of %s: %s", status, n.id, e)
        return Response("", 204)
