"""`POST /hooks/slack/interactions`: Slack, when someone presses a button (Acknowledge,
Resolve, Escalate) or picks a Snooze duration in one of pager's messages.

In order: the signature is checked on the raw body (401 and nothing changes when it does not
verify or is older than 5 minutes); the press is read (`block_actions`, the first action;
anything else is answered 200 and ignored); a press seen before (its signature journaled as
`interaction.received`, so also after a restart) gets 401 and changes nothing; the Slack
user (`user.id`) is looked up among pager's users by `contacts.slack`; and the press goes to the
`SlackResponder`, which acts and updates the message through `response_url`. The answer to
Slack is given at once (200, empty), well within its 3 seconds. A press by someone who is
not a pager user acts on nothing: it is logged, and they are told so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
from quart import Response, request
from quart_trio import QuartTrio

from pager.actors.interactions import user_with_contact
from pager.actors.slack_responder import SlackPress
from pager.actors.system import System
from pager.transports.slack import SNOOZE_CHOICES

from .seen import ReplayGuard
from .signatures import SLACK_WINDOW, form_fields, slack_verified

__all__ = ["ACTION_IDS", "press_of", "register"]

log = logging.getLogger("pager.web.slack")

ACTION_IDS = {
    "ack": "acknowledge",
    "ack_all": "acknowledge_all",  # a bundle's button: its value is the bundle id
    "resolve": "resolve",
    "escalate": "escalate",
    "snooze": "snooze",
}
MAX_ID = 64


def _text(body: str, status: int) -> Response:
    return Response(body, status, content_type="text/plain")


def _str(obj: Any, key: str) -> str | None:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, str) and v else None


def press_of(payload: Any) -> SlackPress | None:
    """The press in an interaction payload; None for anything that is not a press of one of
    pager's own actions. `user_id` is left for the caller to fill in."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    slack_user = _str(payload.get("user"), "id")
    if not isinstance(actions, list) or not actions or slack_user is None:
        return None
    first = actions[0]
    action = ACTION_IDS.get(_str(first, "action_id") or "")
    if action is None:
        return None
    snooze = None
    if action == "snooze" and isinstance(first, dict) and "selected_option" in first:
        iid, _, choice = (_str(first["selected_option"], "value") or "").rpartition("|")
        snooze = SNOOZE_CHOICES.get(choice)
    else:
        iid = _str(first, "value") or ""
        if action == "snooze":  # the Snooze button of messages posted before the menu
            snooze = SNOOZE_CHOICES["1h"]
    if not iid or len(iid) > MAX_ID or (action == "snooze" and snooze is None):
        return None
    url = _str(payload, "response_url")
    return SlackPress(slack_user, None, iid, action, snooze, url)


def register(app: QuartTrio, system: System, offer: Callable[[SlackPress], bool] | None) -> None:
    """The interactions endpoint; `offer` hands a press to the Slack responder (False: it is
    busy), None when no responder runs."""
    # a signature is good for SLACK_WINDOW around its timestamp: remember it twice as long
    seen = ReplayGuard(system, "slack", timedelta(seconds=2 * SLACK_WINDOW))

    @app.post("/hooks/slack/interactions")
    async def slack_interactions() -> Response:
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        assert isinstance(body, bytes)
        slack = system.config.channels.slack
        if slack is None:
            return _text("Slack is not configured (channels.slack)\n", 404)
        signature = request.headers.get("X-Slack-Signature")
        now = system.clock.now().timestamp()
        if not slack_verified(
            slack.signing_secret,
            body,
            request.headers.get("X-Slack-Request-Timestamp"),
            signature,
            now,
        ):
            return _text("the X-Slack-Signature does not verify\n", 401)
        assert signature is not None
        if seen.seen(signature):
            return _text("this request was received already\n", 401)
        fields = form_fields(body)
        raw = fields.get("payload") if fields is not None else None
        try:
            payload = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            payload = None
        if payload is None:
            return _text("expected a form field `payload` holding JSON\n", 400)
        press = press_of(payload)
        if press is None:
            return Response("", 200)  # not a press of ours: nothing to do
        user_id = user_with_contact(system.current_rules(), "slack", press.slack_user)
        if user_id is None:
            log.warning(
                "Slack user %s is not a pager user: %s of %s refused",
                press.slack_user[:32],
                press.action,
                press.incident_id,
            )
        press = replace(press, user_id=user_id, claim=lambda: seen.first_time(signature))
        if offer is None or not offer(press):
            return _text("pager is busy; try again\n", 503)
        return Response("", 200)
