"""Slack's half of a button press. Slack wants the HTTP answer to an interaction within 3
seconds, so the hook (`pager/web/hooks_slack.py`) verifies it, answers 200 at once and hands
the press to this actor, which performs the action and then rewrites the message through the
interaction's `response_url` (`replace_original`) to show the incident as it now stands and
who did what — or, when there is no incident to show, tells the person why in a message only
they see (`response_type: ephemeral`).

Presses wait in a small buffer; when it is full the hook answers 503 and Slack shows the
person that the button did not work, rather than pager queuing without bound. A
`response_url` is only ever posted to when it is Slack's (`https://hooks.slack.com/`) or on
the host of `channels.slack.api_url` (a stand-in in tests); it carries no credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from pager.config.models_channels import template_environment
from pager.transports.base import ProviderUnreachable
from pager.transports.provider_http import request
from pager.transports.slack import slack_blocks
from pager.transports.templates import template_context

from .interactions import Answer, message_of, perform, perform_all
from .system import System

__all__ = ["SlackPress", "SlackResponder"]

log = logging.getLogger("pager.slack")

_escape = template_environment().filters["mrkdwn"]

BUFFER = 64
CONCURRENCY = 8
TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class SlackPress:
    """One verified button press (or menu choice): Slack user `slack_user`, who is pager user
    `user_id` (None: nobody pager knows), asks for `action` on `incident_id` (for
    `acknowledge_all`, a bundle's button, it is the bundle's id). `claim` journals the
    request's id just before pager acts (see `interactions.perform`)."""

    slack_user: str
    user_id: str | None
    incident_id: str
    action: str
    snooze: timedelta | None = None
    response_url: str | None = None
    claim: Callable[[], Awaitable[bool]] | None = None


class SlackResponder:
    def __init__(
        self,
        system: System,
        *,
        http: httpx.AsyncBaseTransport | None = None,
        buffer: int = BUFFER,
        timeout: float = TIMEOUT,
    ) -> None:
        self.system = system
        self.http = http
        self.timeout = timeout
        self._send, self._recv = trio.open_memory_channel[SlackPress](buffer)
        self._slots = trio.Semaphore(CONCURRENCY)  # presses answered at once

    def offer(self, press: SlackPress) -> bool:
        """Hand over a press; False when the buffer is full (or the actor has stopped)."""
        try:
            self._send.send_nowait(press)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    async def run(
        self, *, task_status: trio.TaskStatus[SlackResponder] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with (
            httpx.AsyncClient(
                transport=self.http, timeout=self.timeout, follow_redirects=False
            ) as client,
            trio.open_nursery() as nursery,
        ):
            task_status.started(self)
            async with self._recv:
                async for press in self._recv:
                    await self._slots.acquire()
                    nursery.start_soon(self._answer, client, press)

    async def _answer(self, client: httpx.AsyncClient, press: SlackPress) -> None:
        try:
            if press.user_id is None:
                answer = Answer(
                    False,
                    "Your Slack account is not one of pager's users, so nothing was done. "
                    "Ask for your Slack user id to be added to your pager contacts.",
                )
            elif press.action == "acknowledge_all":
                await self._answer_bundle(client, press, press.user_id)
                return
            else:
                answer = await perform(
                    self.system,
                    user_id=press.user_id,
                    incident_id=press.incident_id,
                    action=press.action,
                    via="slack",
                    snooze=press.snooze,
                    claim=press.claim,
                )
            await self._respond(client, press, answer)
        except Exception:  # a bug here must cost this answer, not pager
            log.exception("answering a Slack press on %s failed", press.incident_id)
        finally:
            self._slots.release()

    async def _answer_bundle(
        self, client: httpx.AsyncClient, press: SlackPress, user_id: str
    ) -> None:
        """ "Acknowledge all" of a bundle: every incident of it still triggered, as the
        person who pressed it (a chat channel's bundle: whoever in the channel did); the
        message then says how many were acknowledged, without the button."""
        bundle = self.system.state.bundles.by_id.get(press.incident_id)
        if bundle is None:
            answer = Answer(False, "This message is too old: open pager to act on its incidents.")
            await self._respond(client, press, answer)
            return
        incidents = bundle.incidents
        answer = await perform_all(
            self.system,
            user_id=user_id,
            incident_ids=incidents,
            via="slack",
            claim=press.claim,
        )
        if answer.replayed:
            return
        count = len(incidents)
        header = f"{count} incidents" if bundle.chat else f"{count} incidents for you"
        text = f"{header}: {answer.text}"
        body = {
            "replace_original": True,
            "text": text,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": header}},
                {"type": "section", "text": {"type": "mrkdwn", "text": _escape(answer.text)}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"bundle `{bundle.id}`"}]},
            ],
        }  # fmt: skip
        await self._post(client, press, body)

    def _allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme == "https" and parts.hostname == "hooks.slack.com":
            return True
        slack = self.system.config.channels.slack
        api = urlsplit(str(slack.api_url)) if slack is not None else None
        return (
            api is not None
            and parts.scheme == api.scheme
            and parts.netloc == api.netloc
            and parts.scheme in ("http", "https")
        )

    async def _respond(self, client: httpx.AsyncClient, press: SlackPress, answer: Answer) -> None:
        inc = answer.incident
        body: dict[str, Any]
        if inc is None:
            body = {"response_type": "ephemeral", "replace_original": False, "text": answer.text}
        else:
            message = message_of(self.system, inc, topic=inc.status.value)
            text = self.system.renderer.render("slack", "text", template_context(message))
            blocks = slack_blocks(message, text)
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(answer.text)}]}
            )
            body = {"replace_original": True, "text": text, "blocks": blocks}
        await self._post(client, press, body)

    async def _post(
        self, client: httpx.AsyncClient, press: SlackPress, body: dict[str, Any]
    ) -> None:
        url = press.response_url
        if not url or not self._allowed(url):
            log.warning(
                "no answer to %s's press on Slack: no usable response_url", press.slack_user
            )
            return
        try:
            response = await request(client, "POST", url, json=body)
        except (ProviderUnreachable, trio.TooSlowError) as e:
            # the type only: the URL (which the text may carry) is a credential
            log.warning(
                "Slack response_url did not take the answer: %s", type(e.__cause__ or e).__name__
            )
            return
        if response.status_code != 200:
            log.warning("Slack response_url answered %d", response.status_code)
