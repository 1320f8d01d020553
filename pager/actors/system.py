"""The handle the edges hold: the running system's shared parts (configuration, rules,
state, log, journal, clock, broadcaster), and `submit` to ask the router for something and
await the answer. Built by the composition root (pager/service.py); passed explicitly to
`create_app(system, actors)` and the lean listener (no globals). It holds no actor: the
edges get the actors' narrow handles from the composition root."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from pager.clock import WallClock
from pager.config.models import Config
from pager.core.overrides import with_overrides
from pager.core.ratelimit import MissThrottle, RateLimiter
from pager.core.rules import RulesBook
from pager.core.state import SystemState
from pager.errors import NotActive, Unavailable
from pager.store.base import EventLog
from pager.transports.templates import Renderer

from .broadcaster import Broadcaster
from .journal import Journal
from .messages import Act, Ingest, Outcome, RouterMessage
from .reply_deadlines import TOO_LATE

__all__ = ["REQUEST_TIMEOUT", "System"]

REQUEST_TIMEOUT = 10.0


@dataclass
class System:
    config: Config
    rules: RulesBook
    state: SystemState
    log: EventLog
    journal: Journal
    clock: WallClock
    hub: Broadcaster
    router_inbox: trio.MemorySendChannel[RouterMessage]
    # routes a request at once when it can, its reply failing at the deadline given (trio
    # time) unless answered (Router.take, handed over by the supervisor); False: send it
    # through `router_inbox`
    route_now: Callable[[Ingest | Act, float], bool] = field(default=lambda msg, deadline: False)
    ready: bool = False
    # the message templates in force: every transport and hook renders through this one,
    # and a reload swaps its templates
    renderer: Renderer = field(init=False)
    # the configuration pager started with: what start-up-only settings are running
    started: Config = field(init=False)
    request_timeout: float = REQUEST_TIMEOUT
    config_path: str | None = None  # where a reload reads the configuration from
    # per integration key; one for every listener, so a key's rate is the same wherever it posts
    ingest_limiter: RateLimiter = field(default_factory=RateLimiter)
    # unknown integration keys per client address, on every listener (pager.core.ratelimit)
    key_misses: MissThrottle = field(init=False)
    ingest_handlers: list[Any] = field(
        default_factory=list
    )  # for /metrics: each counts its requests

    # the rules compiled from the configuration, before the API's schedule overrides
    compiled_rules: RulesBook = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.config.templates)
        self.started = self.config
        self.compiled_rules = self.rules
        self.key_misses = MissThrottle(self.config.server.unknown_key_misses)
        self.refresh_overrides()

    def refresh_overrides(self) -> None:
        """Lay the API's schedule overrides (from the state) over the compiled rules; called
        after one is added or removed and after a reload."""
        self.rules = with_overrides(self.compiled_rules, self.state.overrides)

    def current_rules(self) -> RulesBook:
        return self.rules

    async def submit(self, msg: Ingest | Act) -> Outcome:
        """Send to the router and await the outcome. Raises Unavailable when the system
        cannot take it in time (full inboxes, shutdown, no router: a standby of the
        PostgreSQL store) and whatever the actor raised."""
        deadline = trio.current_time() + self.request_timeout
        # Routed at once (pager/actors/router.py), the reply itself fails at the deadline
        # (pager/actors/reply_deadlines.py): no cancel scope per request, whose deadline cost
        # a context manager and a heap entry (3% of the CPU of an alert storm, py-spy).
        if self.route_now(msg, deadline):
            return await msg.reply.wait()
        # Not running yet, or a full mailbox: through the inbox, under a bare cancel scope
        # (not `trio.fail_after`, a generator-based context manager).
        try:
            with trio.CancelScope(deadline=deadline) as scope:
                await self.router_inbox.send(msg)
                return await msg.reply.wait()
        except trio.BrokenResourceError:  # no router runs: shutdown, or a standby
            raise Unavailable(
                "pager is not taking changes now (it is stopping, or it stands by while "
                "another pager is active)"
            ) from None
        assert scope.cancelled_caught
        raise Unavailable(TOO_LATE)

    async def reload(self, config: Config, source: str) -> list[str]:
        """Swap in a new, already validated configuration without dropping anything:
        incidents keep their journaled state and deadlines, and every decision from now on
        uses the new rules. Returns what did not take effect (settings read only at
        start-up). The configuration version in force is journaled."""
        from pager.config.compile import compile_rules
        from pager.core.events import ConfigApplied

        rules = compile_rules(config)
        old = self.started  # start-up-only settings: compare with what is running
        pending = []
        if str(config.data_dir) != str(old.data_dir):
            pending.append("data_dir: takes effect at the next start")
        if config.server != old.server:
            pending.append("server: listen addresses and public_url take effect at the next start")
        if config.channels != old.channels:
            pending.append("channels: provider settings take effect at the next start")
        if config.journal != old.journal:
            pending.append("journal: takes effect at the next start")
        if rules.digest != self.compiled_rules.digest:
            # a standby answers with the new rules; the active pager journals the
            # configuration it runs (on its own reload, or when it takes over)
            with contextlib.suppress(NotActive):
                await self.journal.record(
                    [ConfigApplied(digest=rules.digest, source=source)], self.clock.now()
                )
        self.config = config
        self.compiled_rules = rules
        self.refresh_overrides()
        self.renderer.templates = config.templates
        return pending

    def token_name(self, token: str) -> str | None:
        """The name of the API token `token`, compared in constant time against each."""
        found = self.api_token(token)
        return None if found is None else str(found.name)

    def api_token(self, token: str) -> Any:
        """The configured `ApiToken` whose value is `token` (constant time against each)."""
        found = None
        for t in self.config.auth.api_tokens:
            if hmac.compare_digest(str(t.token).encode(), token.encode()):
                found = t
        return found
