"""A stand-in for the Slack Web API (`chat.postMessage`, `chat.update`) that checks requests
as Slack does: the bot token (Bearer), a JSON body, a `channel` it knows, Block Kit basics
(known block types, text objects, button and static select limits, unique action ids), and
`chat.update` only of a message it posted. Errors come back the Slack way: HTTP 200
`{"ok": false, "error"}`, and 429 with Retry-After when rate limited (scripted with `fail`).

It also plays the person in Slack: `press` builds the `block_actions` payload Slack would
post to pager when a button of a posted message is pressed (or a menu option picked), from
the blocks actually posted, with a `response_url` that this stand-in serves
(`/actions/...`): a JSON post there with `replace_original` replaces the message (checked
like any blocks), one with `response_type: ephemeral` is shown to that person only; both
are recorded in `responses`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from .asgi import Fault, Request, Response, StandIn

__all__ = ["SlackMessage", "SlackResponse", "SlackStandIn", "ratelimited", "slack_error"]

TEXT_TYPES = {"plain_text", "mrkdwn"}
BLOCK_TYPES = {"section", "header", "context", "actions", "divider", "image", "rich_text"}


def slack_error(error: str) -> Fault:
    return Fault(status=200, body={"ok": False, "error": error})


def ratelimited(retry_after: int) -> Fault:
    return Fault(
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": str(retry_after)},
    )


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    at: float
    edits: list[tuple[float, str, list[dict[str, Any]]]] = field(default_factory=list)


@dataclass
class SlackResponse:
    """One post to a `response_url`: the message it belongs to, the JSON, when."""

    message: SlackMessage
    body: dict[str, Any]
    at: float


def _text_ok(obj: Any, limit: int, plain_only: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in TEXT_TYPES:
        return False
    if plain_only and obj["type"] != "plain_text":
        return False
    text = obj.get("text")
    return isinstance(text, str) and 0 < len(text) <= limit


def blocks_problem(blocks: Any) -> str | None:
    """What Slack would call `invalid_blocks`, or None when the blocks pass the basics."""
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return "blocks must be a list of 1 to 50 blocks"
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, b in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
            return f"{where}: unknown block type"
        if "block_id" in b:
            if b["block_id"] in block_ids:
                return f"{where}: duplicate block_id"
            block_ids.add(b["block_id"])
        t = b["type"]
        if t == "header" and not _text_ok(b.get("text"), 150, plain_only=True):
            return f"{where}: header needs plain_text of at most 150 characters"
        if t == "section":
            fields = b.get("fields") or []
            if "text" not in b and not fields:
                return f"{where}: section needs text or fields"
            if "text" in b and not _text_ok(b["text"], 3000):
                return f"{where}.text: bad text object"
            if len(fields) > 10 or not all(_text_ok(f, 2000) for f in fields):
                return f"{where}.fields: at most 10 text objects"
        if t == "context":
            els = b.get("elements") or []
            if not 0 < len(els) <= 10 or not all(_text_ok(e, 3000) for e in els):
                return f"{where}.elements: 1 to 10 text objects"
        if t == "actions":
            els = b.get("elements") or []
            if not 0 < len(els) <= 25:
                return f"{where}.elements: 1 to 25 elements"
            for j, e in enumerate(els):
                if e.get("type") == "static_select":
                    if problem := _select_problem(e):
                        return f"{where}.elements[{j}]: {problem}"
                elif e.get("type") != "button" or not _text_ok(e.get("text"), 75, plain_only=True):
                    return f"{where}.elements[{j}]: a button with plain_text of at most 75"
                aid = e.get("action_id")
                if not isinstance(aid, str) or not 0 < len(aid) <= 255 or aid in action_ids:
                    return f"{where}.elements[{j}]: action_id missing or not unique"
                action_ids.add(aid)
                if len(e.get("value", "")) > 2000 or e.get("style", "primary") not in (
                    "primary",
                    "danger",
                ):
                    return f"{where}.elements[{j}]: bad value or style"
    return None


def _select_problem(e: dict[str, Any]) -> str | None:
    if not _text_ok(e.get("placeholder"), 150, plain_only=True):
        return "a static_select needs a plain_text placeholder of at most 150"
    options = e.get("options")
    if not isinstance(options, list) or not 0 < len(options) <= 100:
        return "a static_select needs 1 to 100 options"
    for o in options:
        if not _text_ok(o.get("text"), 75, plain_only=True):
            return "an option needs plain_text of at most 75"
        if not isinstance(o.get("value"), str) or not 0 < len(o["value"]) <= 150:
            return "an option needs a value of 1 to 150 characters"
    return None


class SlackStandIn(StandIn):
    def __init__(self, token: str, channels: set[str], users: set[str]) -> None:
        super().__init__()
        self.token = token
        self.channels = set(channels)
        self.users = set(users)
        self.messages: list[SlackMessage] = []
        self.updates: list[SlackMessage] = []  # the message, once per chat.update
        self._ts = count(1)
        self.problems: list[str] = []
        self.responses: list[SlackResponse] = []
        self._response_urls: dict[str, SlackMessage] = {}

    def _err(self, error: str, detail: str | None = None) -> Response:
        if detail:
            self.problems.append(detail)
        return Response(200, {"ok": False, "error": error})

    def press(
        self,
        message: SlackMessage,
        action_id: str,
        *,
        user: str = "U0ALICE",
        option: str | None = None,
        base: str = "http://slack.test",
    ) -> dict[str, Any]:
        """The `block_actions` payload of `user` pressing `action_id` in `message` (picking
        the option whose text ends with `option`, for a menu), as Slack posts it."""
        for block in message.blocks:
            for element in block.get("elements", ()) if block["type"] == "actions" else ():
                if element.get("action_id") == action_id:
                    break
            else:
                continue
            break
        else:
            raise AssertionError(f"{action_id!r} is not in the message's actions")
        token = secrets.token_hex(8)
        self._response_urls[token] = message
        action: dict[str, Any] = {
            "type": element["type"],
            "action_id": action_id,
            "block_id": block.get("block_id", "b"),
            "action_ts": "1767225700.000100",
        }
        if element["type"] == "static_select":
            picked = next(o for o in element["options"] if o["text"]["text"].endswith(option or ""))
            action["selected_option"] = picked
            action["placeholder"] = element["placeholder"]
        else:
            action.update(text=element["text"], value=element.get("value"))
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0PAGER"},
            "api_app_id": "A0PAGER",
            "token": "deprecated-verification-token",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": False,
            },
            "trigger_id": "1.2.3",
            "team": {"id": "T0PAGER", "domain": "pager-test"},
            "channel": {"id": message.channel, "name": "directmessage"},
            "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": f"{base}/actions/T0PAGER/1/{token}",
            "actions": [action],
        }

    def _respond(self, req: Request, token: str) -> Response:
        message = self._response_urls.get(token)
        if message is None or req.method != "POST":
            return Response(404, "no such response_url")
        try:
            body = json.loads(req.body)
        except ValueError:
            return Response(400, "invalid_json")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return self._err("no_text", "response without text or blocks")
        if body.get("blocks") is not None and (problem := blocks_problem(body["blocks"])):
            return self._err("invalid_blocks", problem)
        self.responses.append(SlackResponse(message, body, req.at))
        if body.get("replace_original") and body.get("response_type") != "ephemeral":
            message.text, message.blocks = body.get("text") or "", body.get("blocks") or []
            message.edits.append((req.at, message.text, message.blocks))
        return Response(200, {"ok": True})

    async def handle(self, req: Request) -> Response:
        if req.path.startswith("/actions/"):
            return self._respond(req, req.path.rsplit("/", 1)[-1])
        method = req.path.rsplit("/", 1)[-1]
        if method not in ("chat.postMessage", "chat.update") or req.method != "POST":
            return Response(404, "unknown method")
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return self._err("not_authed")
        if auth[len("Bearer ") :] != self.token:
            return self._err("invalid_auth")
        if not req.headers.get("content-type", "").startswith("application/json"):
            return self._err("invalid_arguments", "body is not JSON")
        try:
            body = req.json()
        except ValueError:
            return self._err("invalid_json")
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return self._err("channel_not_found", "no channel")
        text = body.get("text")
        blocks = body.get("blocks")
        if not text and not blocks:
            return self._err("no_text")
        if blocks is not None and (problem := blocks_problem(blocks)):
            return self._err("invalid_blocks", problem)
        if method == "chat.update":
            found = next(
                (m for m in self.messages if m.channel == channel and m.ts == body.get("ts")), None
            )
            if found is None:
                return self._err("message_not_found", f"update of {channel}:{body.get('ts')}")
            found.text, found.blocks = text or "", blocks or []
            found.edits.append((req.at, found.text, found.blocks))
            self.updates.append(found)
            return Response(200, {"ok": True, "channel": channel, "ts": found.ts, "text": text})
        if channel in self.users:
            channel = "D" + channel[1:]  # the bot's direct-message channel with that user
        elif channel not in self.channels:
            return self._err("channel_not_found", f"unknown channel {channel}")
        msg = SlackMessage(
            channel, f"1767225600.{next(self._ts):06d}", text or "", blocks or [], req.at
        )
        self.messages.append(msg)
        return Response(
            200,
            {
                "ok": True,
                "channel": msg.channel,
                "ts": msg.ts,
                "message": {"text": msg.text, "blocks": msg.blocks},
            },
        )
