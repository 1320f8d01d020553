"""The handle the edges hold: the running system's parts, and `submit` to ask the router
for something and await the answer. Built by the supervisor; passed explicitly to
`create_app(system)` and the lean listener (no globals)."""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from pager.clock import WallClock
from pager.core.rules import RulesBook
from pager.core.state import SystemState
from pager.errors import Unavailable
from pager.store.base import EventLog

from .broadcaster import Broadcaster
from .journal import Journal
from .messages import Act, Ingest, Outcome, RouterMessage

if TYPE_CHECKING:
    from .router import Router

__all__ = ["REQUEST_TIMEOUT", "System"]

REQUEST_TIMEOUT = 10.0


@dataclass
class System:
    config: Any  # pager.config.Config; Any keeps this module free of the config package
    rules: RulesBook
    state: SystemState
    log: EventLog
    journal: Journal
    clock: WallClock
    hub: Broadcaster
    router_inbox: trio.MemorySendChannel[RouterMessage]
    router: Router | None = None
    ready: bool = False
    started_at: float = field(default_factory=lambda: -math.inf)
    on_reload: list[Callable[[], None]] = field(default_factory=list)
    request_timeout: float = REQUEST_TIMEOUT
    ingest_handlers: list[Any] = field(
        default_factory=list
    )  # for /metrics: each counts its requests

    def current_rules(self) -> RulesBook:
        return self.rules

    async def submit(self, msg: Ingest | Act) -> Outcome:
        """Send to the router and await the outcome. Raises Unavailable when the system
        cannot take it in time (full inboxes, shutdown) and whatever the actor raised."""
        try:
            with trio.fail_after(self.request_timeout):
                await self.router_inbox.send(msg)
                return await msg.reply.wait()
        except trio.TooSlowError:
            raise Unavailable("pager could not take this request in time; try again") from None
        except trio.BrokenResourceError:
            raise Unavailable("pager is shutting down") from None

    def token_name(self, token: str) -> str | None:
        """The name of the API token `token`, compared in constant time against each."""
        found = None
        for t in self.config.auth.api_tokens:
            if hmac.compare_digest(str(t.token).encode(), token.encode()):
                found = t.name
        return found
