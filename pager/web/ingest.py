"""The ingest endpoints, framework-free: a RawRequest in, a RawResponse out. The Quart app
(main port) and the lean h11 listener (`server.ingest_listen`) both serve these, with the same
behaviour.

Each answer means what the sender's tool expects: PagerDuty's 202 with `dedup_key`, 400
`invalid event` with `errors` naming each field, 429 with Retry-After per routing key, 503 when
the event cannot be made durable; Alertmanager's 200 once every alert is durable and 5xx (never
4xx) for what it should retry. A 2xx is sent only after the event is on disk. A standby of
the PostgreSQL store answers every ingest request 503 with Retry-After (the active pager
takes it), and logs those refusals once per `STANDBY_LOG_EVERY` seconds, with their count.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

import trio

from pager.actors.messages import new_ingest
from pager.actors.system import System
from pager.core.events import ChangeRecorded
from pager.core.ratelimit import Tally
from pager.core.routing import IntegrationRoute
from pager.errors import (
    InvalidEvent,
    NotActive,
    NotFound,
    PagerError,
    PayloadTooLarge,
    TooManyRequests,
    Unavailable,
)
from pager.ingest.alertmanager import MAX_GROUP_ALERTS, parse_webhook
from pager.ingest.generic import parse_generic
from pager.ingest.pagerduty import MAX_EVENT_BYTES, parse_alert_event, parse_change_event
from pager.ingest.pagerduty_v1 import V1_PATH, parse_v1_event
from pager.ingest.parsed import ParsedAlert
from pager.ingest.validate import parse_json_body

from .ingest_opsgenie import OPSGENIE_PREFIX, OpsgenieEndpoints
from .raw import RawRequest, RawResponse, json_response

__all__ = ["INGEST_PREFIXES", "IngestEndpoints"]

log = logging.getLogger("pager.ingest")

INGEST_PREFIXES = ("/v2/enqueue", "/v2/change/enqueue", "/integrations/", V1_PATH, OPSGENIE_PREFIX)
_AM = "/integrations/alertmanager/"
_GENERIC = "/integrations/generic/"
_PROCESSED = "Event processed"
_OPSGENIE_SUBPATHS = OPSGENIE_PREFIX + "/"
PARSE_IN_THREAD = 64 * 1024  # bytes of body above which it is parsed in a worker thread
STANDBY_LOG_EVERY = 10.0  # seconds between two log lines about a standby's refusals
T = TypeVar("T")


def _always() -> None:
    return None


class IngestEndpoints:
    """`refuse_on_standby` raises NotActive on a pager that is not the active one (the
    PostgreSQL store); a single pager never refuses."""

    def __init__(self, system: System, refuse_on_standby: Callable[[], None] = _always) -> None:
        self.system = system
        self.refuse_on_standby = refuse_on_standby
        self.standby_refusals = Tally(STANDBY_LOG_EVERY)
        self.limiter = system.ingest_limiter
        self.accepted = 0
        self.rejected = 0
        self.opsgenie = OpsgenieEndpoints(self)

    async def __call__(self, req: RawRequest) -> RawResponse:
        path = req.path
        if path == OPSGENIE_PREFIX or path.startswith(_OPSGENIE_SUBPATHS):
            return await self.opsgenie(req)
        if req.method != "POST":
            if path in ("/v2/enqueue", "/v2/change/enqueue", V1_PATH) or path.startswith(
                "/integrations/"
            ):
                return json_response(
                    405, {"status": "error", "message": "use POST"}, (("allow", "POST"),)
                )
            return _not_found(path)
        if path == "/v2/enqueue":
            return await self._pagerduty(req)
        if path == "/v2/change/enqueue":
            return await self._pagerduty_change(req)
        if path == V1_PATH:
            return await self._pagerduty_v1(req)
        if path.startswith(_AM) and len(path) > len(_AM):
            return await self._alertmanager(req, path[len(_AM) :])
        if path.startswith(_GENERIC) and len(path) > len(_GENERIC):
            return await self._generic(req, path[len(_GENERIC) :])
        return _not_found(path)

    # ------------------------------------------------------------------ PagerDuty

    async def _pagerduty(self, req: RawRequest) -> RawResponse:
        try:
            if len(req.body) > MAX_EVENT_BYTES:
                raise PayloadTooLarge(f"event is {len(req.body)} bytes; at most {MAX_EVENT_BYTES}")
            self._gate(req)
            parsed = await _parse(req, parse_alert_event)
            route = self._route(req, "pagerduty", parsed.key, "routing_key")
            await self._submit(route, parsed)
        except PagerError as e:
            return self._error(e, pagerduty=True)
        self.accepted += 1
        return json_response(
            202, {"status": "success", "message": _PROCESSED, "dedup_key": parsed.dedup_key}
        )

    async def _pagerduty_v1(self, req: RawRequest) -> RawResponse:
        try:
            if len(req.body) > MAX_EVENT_BYTES:
                raise PayloadTooLarge(f"event is {len(req.body)} bytes; at most {MAX_EVENT_BYTES}")
            self._gate(req)
            parsed = parse_v1_event(parse_json_body(req.body, req.headers.get("content-type")))
            route = self._route(req, "pagerduty", parsed.key, "service_key")
            await self._submit(route, parsed)
        except PagerError as e:
            return self._error(e, pagerduty=True)
        self.accepted += 1
        # v1 answers 200 (not v2's 202) and names the key `incident_key`
        return json_response(
            200, {"status": "success", "message": _PROCESSED, "incident_key": parsed.dedup_key}
        )

    async def _pagerduty_change(self, req: RawRequest) -> RawResponse:
        try:
            if len(req.body) > MAX_EVENT_BYTES:
                raise PayloadTooLarge(f"event is {len(req.body)} bytes; at most {MAX_EVENT_BYTES}")
            self._gate(req)
            ch = await _parse(req, parse_change_event)
            route = self._route(req, "pagerduty", ch.key, "routing_key")
            self._rate(route, ch.key)
            service_id = route.route(ch.view)
            if service_id is None:
                raise InvalidEvent(["routing_key: no routing rule of this key matches the event"])
            ev = ChangeRecorded(
                service_id=service_id,
                summary=ch.summary,
                source=ch.source,
                occurred_at=ch.occurred_at,
                links=ch.links or None,
                details=ch.details,
            )
            await self.system.journal.record([ev], self.system.clock.now())
        except PagerError as e:
            return self._error(e, pagerduty=True)
        self.accepted += 1
        return json_response(202, {"status": "success", "message": "Change event processed"})

    # ------------------------------------------------------------------ Alertmanager, generic

    async def _alertmanager(self, req: RawRequest, key: str) -> RawResponse:
        try:
            self._gate(req)
            parsed = await _parse(req, lambda body: parse_webhook(body, key))
            route = self._route(req, "alertmanager", key, None)
            await self._submit(route, parsed)
        except TooManyRequests as e:
            # Alertmanager retries 5xx only: an over-rate sender is told to come back
            return self._error(Unavailable(e.message), retry_after=e.retry_after)
        except PagerError as e:
            return self._error(e)
        self.accepted += 1
        if parsed.dropped:
            log.warning(
                "an Alertmanager group of %d alerts was read in part: %d alerts at most",
                len(parsed.command.alerts) + parsed.dropped,  # type: ignore[union-attr]
                MAX_GROUP_ALERTS,
            )
            return json_response(
                200,
                {
                    "status": "ok",
                    "message": f"the group has more than {MAX_GROUP_ALERTS} alerts: "
                    f"{parsed.dropped} were not read (firing ones are read first); "
                    "set max_alerts in the webhook_config to send fewer",
                    "alerts_read": len(parsed.command.alerts),  # type: ignore[union-attr]
                    "alerts_not_read": parsed.dropped,
                },
            )
        return json_response(200, {"status": "ok"})

    async def _generic(self, req: RawRequest, key: str) -> RawResponse:
        try:
            self._gate(req)
            parsed = await _parse(req, lambda body: parse_generic(body, key))
            route = self._route(req, "generic", key, None)
            await self._submit(route, parsed)
        except PagerError as e:
            return self._error(e)
        self.accepted += 1
        return json_response(
            202, {"status": "success", "message": _PROCESSED, "dedup_key": parsed.dedup_key}
        )

    # ------------------------------------------------------------------ common

    def _gate(self, req: RawRequest) -> None:
        """Refuse, before its key is looked at, a request from a client that has sent too
        many unknown keys lately: the answer must not tell a right key from a wrong one; and
        every request on a standby (503 with Retry-After: the active one takes it)."""
        self.refuse_on_standby()
        wait = self.system.key_misses.blocked(req.remote, trio.current_time())
        if wait > 0:
            raise TooManyRequests(
                "too many requests with unknown integration keys from this address; "
                "check the key in the sender's configuration",
                retry_after=wait,
            )

    def _route(
        self, req: RawRequest, integration: str, key: str, field: str | None
    ) -> IntegrationRoute:
        """The route of a key. The body is read first (a bad body is the same 400 whatever
        the key), so only a request that a right key would have had accepted learns that
        its key is wrong; each wrong key counts against the client (`_gate`)."""
        route = self.system.rules.integrations.get((integration, key))
        if route is None:
            self.system.key_misses.missed(req.remote, trio.current_time())
            if field is not None:
                raise InvalidEvent([f"{field}: unknown integration key"])
            raise NotFound(f"unknown {integration} integration key")
        return route

    def _rate(self, route: IntegrationRoute, key: str) -> None:
        if route.rate_events is None:
            return
        wait = self.limiter.take(
            (route.type, key), route.rate_events, route.rate_per_seconds, trio.current_time()
        )
        if wait > 0:
            raise TooManyRequests(
                f"events for this integration key are arriving faster than "
                f"{route.rate_events} per {route.rate_per_seconds:g}s",
                retry_after=wait,
            )

    async def _submit(self, route: IntegrationRoute, parsed: ParsedAlert) -> None:
        self._rate(route, parsed.key)
        service_id = route.route(parsed.view)
        if service_id is None:
            field = "routing_key" if parsed.integration == "pagerduty" else "key"
            raise InvalidEvent([f"{field}: no routing rule of this key matches the event"])
        await self.system.submit(
            new_ingest(
                service_id, parsed.dedup_key, parsed.integration, parsed.command, opens=parsed.opens
            )
        )

    def _error(
        self, e: PagerError, *, pagerduty: bool = False, retry_after: float | None = None
    ) -> RawResponse:
        self.rejected += 1
        headers: tuple[tuple[str, str], ...] = ()
        if isinstance(e, TooManyRequests):
            retry_after = e.retry_after
        if isinstance(e, Unavailable) and retry_after is None:
            retry_after = 1.0
        if retry_after is not None:
            headers = (("retry-after", str(max(1, math.ceil(retry_after)))),)
        if isinstance(e, InvalidEvent):
            body = e.to_json()
        elif pagerduty and e.status_code in (400, 413, 415):
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [e.message],
            }
        elif pagerduty and isinstance(e, TooManyRequests):
            body = {"status": "throttle event", "message": e.message}
        else:
            body = e.to_json()
        if isinstance(e, NotActive):  # every request during a takeover: a line per interval
            n = self.standby_refusals.add(trio.current_time())
            if n:
                log.warning(
                    "ingest answered %d to %d request(s) since the last report (at most one "
                    "line per %g s): %s",
                    e.status_code,
                    n,
                    STANDBY_LOG_EVERY,
                    e.message,
                )
        elif e.status_code >= 500:
            log.warning("ingest answered %d: %s", e.status_code, e.message)
        return json_response(e.status_code, body, headers)


async def _parse(req: RawRequest, parse: Callable[[Any], T]) -> T:
    """`parse` of the request's JSON body. A body over PARSE_IN_THREAD bytes is read in a
    worker thread: reading 160,000 alerts takes a fifth of a second, and the event loop
    keeps answering meanwhile (the thread lets go of the interpreter every few ms)."""
    content_type = req.headers.get("content-type")

    def run() -> T:
        return parse(parse_json_body(req.body, content_type))

    if len(req.body) <= PARSE_IN_THREAD:
        return run()
    return await trio.to_thread.run_sync(run)


def _not_found(path: str) -> RawResponse:
    return json_response(404, {"status": "error", "message": f"no endpoint {path}"})
