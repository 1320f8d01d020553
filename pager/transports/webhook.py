"""Outgoing webhooks: the notification as JSON, POSTed to the person's `contacts.webhook`
URL, signed so the receiver can tell it came from pager and was not replayed.

    {"type": "incident.page" | "incident.status",
     "notification": {"id", "kind", "method", "attempt", "topic", "user", "links"},
     "incident": {... the REST API's incident view ...}}

`X-Pager-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with
channels.webhook.secret>`; `X-Pager-Delivery` is the notification id, the same on every
retry, so a receiver can drop duplicates. docs/webhooks.md shows how to verify.
A 2xx is success; 408, 429 and 5xx are retried; any other 4xx is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from pager.config.models_channels import WebhookChannel
from pager.core.views import incident_json
from pager.core.vocabulary import NotificationKind

from .base import BUNDLE_LISTED, Message, ProviderRejected, Sent, Transport
from .provider_http import http_status_error, make_client, request

__all__ = ["SIGNATURE_HEADER", "WebhookTransport", "sign", "webhook_body"]

SIGNATURE_HEADER = "X-Pager-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_body(message: Message) -> dict[str, Any]:
    if message.bundle is not None:
        return _bundle_body(message)
    return {
        "type": "incident.page" if message.kind == NotificationKind.PAGE else "incident.status",
        "notification": {
            "id": message.notification_id,
            "kind": message.kind,
            "method": message.method,
            "attempt": message.attempt,
            "topic": message.topic,
            "user": None
            if message.user_id is None
            else {"id": message.user_id, "name": message.user_name or message.user_id},
            "service": {"id": message.incident.service_id, "name": message.service_name},
            "links": dict(message.links),
        },
        "incident": incident_json(message.incident),
    }


def _bundle_body(message: Message) -> dict[str, Any]:
    """A bundle: `{"type": "incident.bundle", "notification": {...}, "bundle": {"id",
    "count", "incidents": [every id]}, "incidents": [the view of the first BUNDLE_LISTED]}`."""
    bundle = message.bundle
    assert bundle is not None
    return {
        "type": "incident.bundle",
        "notification": {
            "id": message.notification_id,
            "kind": message.kind,
            "method": message.method,
            "attempt": message.attempt,
            "topic": None,
            "user": None
            if message.user_id is None
            else {"id": message.user_id, "name": message.user_name or message.user_id},
            "links": dict(message.links),
        },
        "bundle": {
            "id": bundle.id,
            "count": bundle.count,
            "incidents": [i.incident.id for i in bundle.items],
            "services": [{"name": name, "count": n} for name, n in bundle.services()],
        },
        "incidents": [
            {**incident_json(i.incident), "service_name": i.service_name}
            for i in bundle.items[:BUNDLE_LISTED]
        ],
    }


class WebhookTransport(Transport):
    method = "webhook"

    def __init__(
        self,
        channel: WebhookChannel,
        *,
        http: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.secret = channel.secret
        self.now = now  # the receiver compares `t` with its own wall clock: real time
        self.client = make_client(timeout=channel.timeout.total_seconds(), http=http)

    async def send(self, message: Message) -> Sent:
        if not message.address:
            raise ProviderRejected("no webhook URL to post to", permanent=True)
        doc = webhook_body(message)
        body = orjson.dumps(doc, option=orjson.OPT_UTC_Z)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, int(self.now()), body),
            "X-Pager-Event": doc["type"],
            "X-Pager-Delivery": message.notification_id,
        }
        response = await request(
            self.client, "POST", message.address, content=body, headers=headers
        )
        if not 200 <= response.status_code < 300:
            raise http_status_error(response, "the webhook receiver")
        return Sent(provider_id=None)

    async def aclose(self) -> None:
        await self.client.aclose()
