"""A stand-in for a Microsoft Teams workflow webhook ("Post to a channel when a webhook
request is received"), checking the message the way the workflow's card step needs it: a
JSON `{"type": "message", "attachments": [...]}` whose attachment is an Adaptive Card (content
type `application/vnd.microsoft.card.adaptive`, `type: AdaptiveCard`, a `version`, a `body`
list of typed elements, and actions that are `Action.OpenUrl` with a title and an http(s)
url). It answers 202 like the real workflow, and 400 with the problem otherwise.

Also `WebhookReceiver`: any HTTP endpoint that records what pager's outgoing webhooks post.
"""

from __future__ import annotations

from typing import Any

from .asgi import Request, Response, StandIn

__all__ = ["TeamsStandIn", "WebhookReceiver", "card_problem"]

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "Image", "ActionSet"}


def card_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict) or doc.get("type") != "message":
        return "type must be 'message'"
    atts = doc.get("attachments")
    if not isinstance(atts, list) or not atts:
        return "attachments must be a non-empty list"
    for i, att in enumerate(atts):
        where = f"attachments[{i}]"
        if att.get("contentType") != CARD_TYPE:
            return f"{where}.contentType must be {CARD_TYPE}"
        card = att.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            return f"{where}.content.type must be AdaptiveCard"
        if not isinstance(card.get("version"), str):
            return f"{where}.content.version is required"
        body = card.get("body")
        if not isinstance(body, list) or not body:
            return f"{where}.content.body must be a non-empty list"
        for j, el in enumerate(body):
            if not isinstance(el, dict) or el.get("type") not in ELEMENTS:
                return f"{where}.content.body[{j}]: unknown element"
            if el["type"] == "TextBlock" and not isinstance(el.get("text"), str):
                return f"{where}.content.body[{j}]: TextBlock needs text"
            if el["type"] == "FactSet" and not all(
                isinstance(f.get("title"), str) and isinstance(f.get("value"), str)
                for f in el.get("facts", [])
            ):
                return f"{where}.content.body[{j}]: facts need title and value"
        for j, act in enumerate(card.get("actions", [])):
            if act.get("type") != "Action.OpenUrl":
                return f"{where}.content.actions[{j}]: only Action.OpenUrl is expected"
            if not isinstance(act.get("title"), str) or not str(act.get("url", "")).startswith(
                ("http://", "https://")
            ):
                return f"{where}.content.actions[{j}]: needs a title and an http(s) url"
    return None


class TeamsStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.cards: list[tuple[str, dict[str, Any], float]] = []  # (path, message, at)
        self.gone: set[str] = set()  # workflow paths that were deleted (404)

    async def handle(self, req: Request) -> Response:
        if req.method != "POST":
            return Response(405, "method not allowed")
        if req.path in self.gone:
            return Response(404, {"error": {"code": "WorkflowNotFound"}})
        if not req.headers.get("content-type", "").startswith("application/json"):
            return Response(415, {"error": {"message": "content type must be application/json"}})
        try:
            doc = req.json()
        except ValueError:
            return Response(400, {"error": {"message": "not JSON"}})
        if problem := card_problem(doc):
            return Response(400, {"error": {"code": "InvalidRequestContent", "message": problem}})
        self.cards.append((req.path, doc, req.at))
        return Response(202, "")


class WebhookReceiver(StandIn):
    async def handle(self, req: Request) -> Response:
        return Response(204, "")
