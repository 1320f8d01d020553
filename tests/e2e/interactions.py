"""The scene of the interaction tests (a person answering a page from the channel that
reached them), on trio's MockClock with no sockets: pager runs with the stand-in providers
in-process, its own web app is mounted through httpx.ASGITransport behind a "proxy" (requests
arrive for http://10.0.0.7:8080, not the public URL), and an alert has just opened inc-1 and
paged alice (level 1); bob is level 2, ten minutes later.

Requests are signed exactly as the providers sign them: Slack's with slack_sdk's
`SignatureVerifier.generate_signature` (v0, timestamp, body) at pager's wall-clock time;
Twilio's with twilio's `RequestValidator.compute_signature` over the public URL and the
form. Email is captured as the real transport builds it (`EmailTransport.build`), without
SMTP: smtplib runs in a thread, which the MockClock cannot see.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

import httpx
import trio
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from pager.actors.messages import Ingest
from pager.clock import TrioWallClock
from pager.core.commands import TriggerAlert
from pager.service import Running
from pager.store.base import Record
from pager.store.memory import MemoryLog
from pager.transports.base import Message, Sent
from pager.transports.email import EmailTransport
from pager.transports.registry import build_transports
from pager.transports.templates import Renderer
from pager.web.app import create_app

from ..harness import EPOCH
from ..standins.scene import (
    ALICE_PHONE,
    PUBLIC_URL,
    SLACK_SIGNING_SECRET,
    TWILIO_TOKEN,
    Providers,
    delivery_config,
    running,
)

__all__ = ["ALICE_PHONE", "PUBLIC_URL", "VIRTUAL_DEADLINE", "Scene", "scene", "slack_body"]

VIRTUAL_DEADLINE = 3 * 24 * 3600
PROXIED = "http://10.0.0.7:8080"
EMAIL = '  email: {smtp_host: smtp.test, from: "pager <pager@example.com>"}\n'


class CapturedEmail(EmailTransport):
    """The email transport, minus SMTP: the mail it would hand over is kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mails: list[EmailMessage] = []

    async def send(self, message: Message) -> Sent:
        mail = self.build(message)
        self.mails.append(mail)
        await trio.lowlevel.checkpoint()
        return Sent(provider_id=str(mail["Message-ID"]))


def slack_body(payload: dict[str, Any]) -> bytes:
    """An interaction as Slack posts it: form-encoded, the JSON in the `payload` field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass
class Scene:
    run: Running
    log: MemoryLog
    providers: Providers
    client: httpx.AsyncClient
    email: CapturedEmail
    streamed: list[Record] = field(default_factory=list)

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.run.system.state

    def now(self) -> int:
        return int(self.run.system.clock.now().timestamp())

    async def slack(
        self,
        body: bytes,
        *,
        secret: str = SLACK_SIGNING_SECRET,
        timestamp: int | None = None,
        signed_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = str(self.now() if timestamp is None else timestamp)
        signature = SignatureVerifier(secret).generate_signature(
            timestamp=ts, body=signed_body if signed_body is not None else body
        )
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return await self.client.post("/hooks/slack/interactions", content=body, headers=sent)

    async def twilio(
        self,
        path: str,
        form: dict[str, str],
        *,
        token: str = TWILIO_TOKEN,
        url: str | None = None,
        signed_form: dict[str, str] | None = None,
    ) -> httpx.Response:
        signature = RequestValidator(token).compute_signature(
            url or PUBLIC_URL + path, signed_form if signed_form is not None else form
        )
        return await self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})

    async def text(self, body: str, sender: str = ALICE_PHONE, sid: str | None = None) -> str:
        """Text pager as `sender`; the text of its TwiML answer ('' for none)."""
        self._sms = getattr(self, "_sms", 0) + 1
        form = {
            "MessageSid": sid or f"SM{self._sms:032x}",
            "AccountSid": "AC" + "0" * 32,
            "From": sender,
            "To": "+15555550199",
            "Body": body,
            "NumMedia": "0",
        }
        r = await self.twilio("/hooks/twilio/sms", form)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
        found = re.search(r"<Message>(.*)</Message>", r.text, re.S)
        return found.group(1) if found else ""

    def records(self, type_: str | None = None) -> list[Record]:
        return [r for r in self.log.read_from(1) if type_ is None or r.type == type_]

    def timeline(self, incident_id: str = "inc-1") -> list[tuple[str, str | None, str | None]]:
        inc = self.state.incidents[incident_id]
        return [(t.text, t.by, t.via) for t in inc.timeline]

    def paged_users(self) -> list[str | None]:
        """Who was notified about a page, in order (every method)."""
        return [
            r.data.get("user_id")
            for r in self.records("notification.requested")
            if r.data["kind"] == "page"
        ]

    async def trigger(self, key: str = "disk", summary: str = "db-1 disk full") -> None:
        await self.run.system.submit(
            Ingest(
                "checkout",
                key,
                "pagerduty",
                TriggerAlert(key=key, summary=summary, severity="critical"),
            )
        )


@asynccontextmanager
async def scene(
    rules: str,
    *,
    chat: bool = False,
    teams_chat: bool = False,
    link_secret: str | None = None,
    log: MemoryLog | None = None,
    trigger: bool = True,
    clock: TrioWallClock | None = None,
    providers: Providers | None = None,
) -> AsyncIterator[Scene]:
    """`log`, `clock` and `providers` passed again run pager again over the same journal
    (a restart), with time going on and the same stand-ins."""
    providers = providers or Providers()
    kwargs: dict[str, Any] = {} if link_secret is None else {"link_secret": link_secret}
    config = delivery_config(rules=rules, chat=chat, teams_chat=teams_chat, email=EMAIL, **kwargs)
    log = log or MemoryLog()
    transports = build_transports(config, http=providers.http)
    assert config.channels.email is not None
    email = CapturedEmail(config.channels.email, Renderer(config.templates), public_url=PUBLIC_URL)
    transports["email"] = email
    async with running(
        config,
        event_log=log,
        clock=clock or TrioWallClock(EPOCH),
        transports=transports,
        http=providers.http,
    ) as run:
        app = httpx.ASGITransport(app=create_app(run.system, run.actors))
        async with (
            httpx.AsyncClient(transport=app, base_url=PROXIED) as client,
            trio.open_nursery() as nursery,
        ):
            s = Scene(run, log, providers, client, email)

            async def stream() -> None:
                async for rec in run.system.hub.subscribe(1):
                    s.streamed.append(rec)

            nursery.start_soon(stream)
            if trigger:
                await s.trigger()
                await trio.sleep(1)
            yield s
            nursery.cancel_scope.cancel()
