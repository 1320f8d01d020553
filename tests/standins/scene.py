"""The scene the delivery tests share: a configuration whose channels point at the stand-ins,
the stand-ins themselves (reached in-process by host name, or over real HTTP), and pager run
with the transports the configuration builds from them.

alice is paged first (Slack now, SMS after 1 minute, a call after 5, unless a test gives
other rules); bob is the second level, 10 minutes later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from pager.clock import WallClock
from pager.config import Config, load_config_text
from pager.service import Running
from pager.store.base import EventLog
from pager.transports.base import Transport

from ..harness import running_pager
from .serve import InProcess
from .slack import SlackStandIn
from .teams import TeamsStandIn, WebhookReceiver
from .twilio import TwilioStandIn

__all__ = [
    "LINK_SECRET",
    "ROUTING_KEY",
    "SLACK_SIGNING_SECRET",
    "Providers",
    "delivery_config",
    "pd_trigger",
    "running",
]

SLACK_TOKEN = "xoxb-test-token"
SLACK_SIGNING_SECRET = "slack-signing"
LINK_SECRET = "link-secret-for-tests"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-auth-token"
FROM_NUMBER = "+15555550199"
ALICE_PHONE = "+15555550100"
WEBHOOK_SECRET = "whsec-test"
ROUTING_KEY = "R0UT1NGKEYCHECKOUT00000000000000"
PUBLIC_URL = "https://pager.example.test"

DEFAULT_RULES = "[{after: 0m, via: slack}, {after: 1m, via: sms}, {after: 5m, via: voice}]"

CONFIG = """
server:
  listen: 127.0.0.1:0
  public_url: {public_url}
data_dir: {data_dir}
auth:
  api_tokens: [{{name: ops, token: test-token-0123456789}}]
  link_secret: {link_secret}
users:
  - id: alice
    name: Alice Example
    contacts:
      slack: U0ALICE
      sms: "{alice_phone}"
      voice: "{alice_phone}"
      email: alice@example.com
      teams: {teams_url}/workflows/alice
      webhook: {hooks_url}/alice
    notification_rules: {rules}
  - id: bob
    contacts: {{slack: U0BOB}}
    notification_rules: [{{after: 0m, via: slack}}]
escalation_policies:
  - id: default
{policy}    levels:
      - targets: [{{user: alice}}]
        escalate_after: 10m
      - targets: [{{user: bob}}]
        escalate_after: 10m
services:
  - id: checkout
    name: Checkout API
    escalation_policy: default
    integrations:
      - {{type: pagerduty, key: {routing_key}}}
{chat}channels:
  slack: {{api_url: "{slack_url}/api/", token: {slack_token}, signing_secret: {slack_signing}, timeout: {timeout}}}
  twilio: {{api_url: "{twilio_url}", account_sid: {sid}, auth_token: {twilio_token}, from_number: "{from_number}", timeout: {timeout}}}
  teams: {{timeout: {timeout}}}
  webhook: {{secret: {webhook_secret}, timeout: {timeout}}}
{email}journal:
  fsync: false
"""


def delivery_config(
    data_dir: Path | str = "unused",
    *,
    rules: str = DEFAULT_RULES,
    slack_url: str = "http://slack.test",
    twilio_url: str = "http://twilio.test",
    teams_url: str = "http://teams.test",
    hooks_url: str = "http://hooks.test",
    timeout: str = "10s",
    email: str = "",
    public_url: str = PUBLIC_URL,
    chat: bool = False,
    teams_chat: bool = False,
    link_secret: str = LINK_SECRET,
    policy: str = "",
    extra: str = "",
) -> Config:
    """`email` is a whole `  email: {...}` line of the channels section, or empty; `chat`
    sends the service's status updates to the Slack channel C0CHECKOUT, `teams_chat` to the
    Teams workflow `/workflows/checkout`; `policy` holds more keys of the escalation policy
    (indented 4 spaces, ending in a newline), `extra` more top-level sections."""
    chat_lines = ""
    if chat or teams_chat:
        chat_lines = "    chat:\n"
        if chat:
            chat_lines += "      slack_channel: C0CHECKOUT\n"
        if teams_chat:
            chat_lines += f"      teams: {teams_url}/workflows/checkout\n"
    text = (
        CONFIG.format(
            public_url=public_url,
            data_dir=data_dir,
            alice_phone=ALICE_PHONE,
            rules=rules,
            teams_url=teams_url,
            hooks_url=hooks_url,
            routing_key=ROUTING_KEY,
            slack_url=slack_url,
            slack_token=SLACK_TOKEN,
            twilio_url=twilio_url,
            sid=TWILIO_SID,
            twilio_token=TWILIO_TOKEN,
            from_number=FROM_NUMBER,
            webhook_secret=WEBHOOK_SECRET,
            timeout=timeout,
            email=email,
            chat=chat_lines,
            slack_signing=SLACK_SIGNING_SECRET,
            link_secret=link_secret,
            policy=policy,
        )
        + extra
    )
    return load_config_text(text, source="tests/standins/scene.py")


class Providers:
    """One stand-in per provider; `http` reaches them in-process by host name."""

    def __init__(self) -> None:
        self.slack = SlackStandIn(SLACK_TOKEN, channels={"C0CHECKOUT"}, users={"U0ALICE", "U0BOB"})
        self.twilio = TwilioStandIn(TWILIO_SID, TWILIO_TOKEN, FROM_NUMBER)
        self.teams = TeamsStandIn()
        self.hooks = WebhookReceiver()
        self.http = InProcess(
            {
                "slack.test": self.slack,
                "twilio.test": self.twilio,
                "teams.test": self.teams,
                "hooks.test": self.hooks,
            }
        )


def pd_trigger(dedup_key: str, summary: str = "db-1 disk full", **extra: Any) -> dict[str, Any]:
    return {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": summary, "source": "db-1", "severity": "critical"},
        **extra,
    }


@asynccontextmanager
async def running(
    config: Config,
    *,
    event_log: EventLog,
    clock: WallClock | None = None,
    transports: dict[str, Transport] | None = None,
    http: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Running]:
    """pager without sockets of its own (`serve_edges=False`), with these transports; `http`
    carries its answers to Slack's `response_url` (e.g. `Providers.http`)."""
    async with running_pager(
        config,
        event_log=event_log,
        clock=clock,
        serve_edges=False,
        transports=transports,
        http=http,
    ) as run:
        yield run
