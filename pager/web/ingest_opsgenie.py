"""Opsgenie's Alert API v2 endpoints (`/v2/alerts...`), framework-free like the other ingest
endpoints, so the main port and the lean listener answer alike.

Auth is `Authorization: GenieKey <key>` or `?apiKey=<key>`, the key being a service's
`opsgenie` integration key. An alert's `id` is the incident id, its `tinyId` the incident
number, its `alias` the dedup key. Errors come in Opsgenie's shape:
`{"message": ..., "took": ..., "requestId": ...}` (422 adds `errors`).

A request id carries its own outcome (base64url of a small JSON record: action, incident,
alias, status, time), so `GET /v2/alerts/requests/{requestId}` answers the same after a
restart without anything extra in the journal; it answers only to a key of the same service.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

import orjson
import trio

from pager.actors.archived import ensure_incident
from pager.actors.messages import Act, Ingest
from pager.actors.system import System
from pager.core.commands import Acknowledge, AddNote, Edit, Resolve, ResolveAlert
from pager.core.model import Incident
from pager.core.routing import IntegrationRoute
from pager.errors import InvalidEvent, PagerError, TooManyRequests
from pager.ingest.opsgenie import parse_action_body, parse_create, parse_update
from pager.ingest.parsed import ParsedAlert
from pager.ingest.validate import parse_json_body

from .raw import RawRequest, RawResponse, json_response
from .views_opsgenie import alert_json


class IngestCore(Protocol):
    """What the Opsgenie endpoints use of the ingest endpoints that hold them (routing, rate
    limits, counters): a protocol, so this module does not import the one that imports it."""

    system: System
    accepted: int
    rejected: int

    def _gate(self, req: RawRequest) -> None: ...
    def _rate(self, route: IntegrationRoute, key: str) -> None: ...
    async def _submit(self, route: IntegrationRoute, parsed: ParsedAlert) -> None: ...
    def _error(
        self, e: PagerError, *, pagerduty: bool = False, retry_after: float | None = None
    ) -> RawResponse: ...


__all__ = ["OPSGENIE_PREFIX", "OpsgenieEndpoints"]

OPSGENIE_PREFIX = "/v2/alerts"
_ACTIONS = {"acknowledge": "Acknowledge", "close": "Close", "notes": "AddNote"}


class _Answer(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


class OpsgenieEndpoints:
    def __init__(self, ingest: IngestCore) -> None:
        self.ingest = ingest  # IngestEndpoints: routing, rate limits, counters
        self.system = ingest.system

    async def __call__(self, req: RawRequest) -> RawResponse:
        resp = await self._answer(req)
        if resp.status < 500:  # Opsgenie names the request in a header too
            rid = orjson.loads(resp.body).get("requestId")
            if rid:
                return RawResponse(resp.status, resp.body, (*resp.headers, ("x-request-id", rid)))
        return resp

    async def _answer(self, req: RawRequest) -> RawResponse:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        try:
            return await self._serve(req, started)
        except _Answer as a:
            self.ingest.rejected += 1
            body: dict[str, Any] = {"message": a.message}
            if a.errors:
                body["errors"] = a.errors
            body.update(took=_took(started), requestId=request_id)
            return json_response(a.status, body)
        except TooManyRequests as e:
            self.ingest.rejected += 1
            return json_response(
                429,
                {"message": e.message, "took": _took(started), "requestId": request_id},
                (("retry-after", str(max(1, int(e.retry_after or 1)))),),
            )
        except PagerError as e:
            if e.status_code >= 500:
                return self.ingest._error(e)  # with Retry-After
            self.ingest.rejected += 1
            return json_response(
                e.status_code,
                {"message": e.message, "took": _took(started), "requestId": request_id},
            )

    async def _serve(self, req: RawRequest, started: float) -> RawResponse:
        query = parse_qs(req.query)
        key, route = self._auth(req, query)
        rest = req.path[len(OPSGENIE_PREFIX) :].strip("/")
        parts = [unquote(p) for p in rest.split("/")] if rest else []
        if not parts:
            if req.method != "POST":
                raise _Answer(405, "Method not allowed; use POST to create an alert")
            return await self._create(req, key, route, started)
        if parts[0] == "requests" and len(parts) == 2:
            if req.method != "GET":
                raise _Answer(405, "Method not allowed; use GET")
            return self._request(parts[1], route, started)
        ident_type = (query.get("identifierType") or ["id"])[0]
        if ident_type not in ("id", "alias", "tiny"):
            raise _Answer(
                422,
                "Request body is not processable. Please check the errors.",
                {"identifierType": "must be one of id, alias, tiny"},
            )
        if len(parts) == 1:
            if req.method != "GET":
                raise _Answer(405, "Method not allowed; use GET")
            inc = await self._find(parts[0], ident_type, route)
            return json_response(
                200,
                {"data": alert_json(inc), "took": _took(started), "requestId": str(uuid.uuid4())},
            )
        if len(parts) == 2 and parts[1] in _ACTIONS:
            if req.method != "POST":
                raise _Answer(405, "Method not allowed; use POST")
            return await self._act(req, parts[0], ident_type, parts[1], key, route, started)
        if len(parts) == 2 and parts[1] in ("message", "description"):
            if req.method != "PUT":
                raise _Answer(405, "Method not allowed; use PUT")
            return await self._update(req, parts[0], ident_type, parts[1], key, route, started)
        raise _Answer(404, f"No such endpoint: {req.method} {req.path}")

    # ------------------------------------------------------------------ auth, lookup

    def _auth(self, req: RawRequest, query: dict[str, list[str]]) -> tuple[str, IntegrationRoute]:
        header = req.headers.get("authorization", "")
        key = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "geniekey" and value.strip():
                key = value.strip()
        if key is None and query.get("apiKey"):
            key = query["apiKey"][0]
        self.ingest._gate(req)
        if not key:
            raise _Answer(401, "Could not authenticate: no GenieKey in Authorization or apiKey")
        route = self.system.rules.integrations.get(("opsgenie", key))
        if route is None:
            self.system.key_misses.missed(req.remote, trio.current_time())
            raise _Answer(401, "Could not authenticate: unknown GenieKey")
        return key, route

    def _services(self, route: IntegrationRoute) -> set[str]:
        found = {route.service_id} if route.service_id else set()
        found.update(rule.service_id for rule in route.rules)
        return found

    async def _find(self, ident: str, ident_type: str, route: IntegrationRoute) -> Incident:
        state = self.system.state
        services = self._services(route)
        inc: Incident | None = None
        if ident_type == "id":
            inc = await ensure_incident(state, self.system.log, ident)
        else:
            for row in state.newest_first():
                match = (
                    row.dedup_key == ident if ident_type == "alias" else str(row.number) == ident
                )
                if match and row.service_id in services and row.integration == "opsgenie":
                    inc = await ensure_incident(state, self.system.log, row.id)
                    break
        if inc is None or inc.service_id not in services:
            raise _Answer(404, f"Alert with {ident_type} [{ident}] does not exist")
        return inc

    # ------------------------------------------------------------------ create, act

    async def _create(
        self, req: RawRequest, key: str, route: IntegrationRoute, started: float
    ) -> RawResponse:
        body = self._json(req)
        try:
            parsed = parse_create(body, key)
        except InvalidEvent as e:
            raise _unprocessable(e) from None
        try:
            await self.ingest._submit(route, parsed)
        except InvalidEvent as e:
            raise _unprocessable(e) from None
        inc = self._open_by_alias(route, parsed.dedup_key)
        self.ingest.accepted += 1
        return self._accepted("Create", inc, parsed.dedup_key, started)

    async def _act(
        self,
        req: RawRequest,
        ident: str,
        ident_type: str,
        action: str,
        key: str,
        route: IntegrationRoute,
        started: float,
    ) -> RawResponse:
        fields = parse_or_422(lambda: parse_action_body(self._json(req, allow_empty=True)))
        by = fields.get("user") or fields.get("source")
        note = fields.get("note")
        self.ingest._rate(route, key)
        inc = await self._find(ident, ident_type, route)
        if action == "notes":
            if not note:
                raise _Answer(
                    422,
                    "Request body is not processable. Please check the errors.",
                    {"note": "Note can not be empty"},
                )
            await self.system.submit(Act(inc.id, AddNote(text=note, by=by, via="opsgenie")))
        else:
            if note:
                await self.system.submit(Act(inc.id, AddNote(text=note, by=by, via="opsgenie")))
            if inc.status != "resolved":
                if action == "acknowledge":
                    if inc.status == "triggered":
                        await self.system.submit(Act(inc.id, Acknowledge(by=by, via="opsgenie")))
                elif ident_type == "alias":
                    await self.system.submit(
                        Ingest(
                            inc.service_id,
                            inc.dedup_key,
                            "opsgenie",
                            ResolveAlert(key=inc.dedup_key, by=by, via="opsgenie"),
                            opens=False,
                        )
                    )
                else:
                    await self.system.submit(Act(inc.id, Resolve(by=by, via="opsgenie")))
        self.ingest.accepted += 1
        return self._accepted(_ACTIONS[action], inc, inc.dedup_key, started)

    async def _update(
        self,
        req: RawRequest,
        ident: str,
        ident_type: str,
        field: str,
        key: str,
        route: IntegrationRoute,
        started: float,
    ) -> RawResponse:
        value = parse_or_422(lambda: parse_update(self._json(req), field))
        self.ingest._rate(route, key)
        inc = await self._find(ident, ident_type, route)
        edit = Edit(title=value, via="opsgenie") if field == "message" else None
        edit = edit or Edit(description=value, via="opsgenie")
        await self.system.submit(Act(inc.id, edit))
        self.ingest.accepted += 1
        action = "UpdateMessage" if field == "message" else "UpdateDescription"
        return self._accepted(action, inc, inc.dedup_key, started)

    def _open_by_alias(self, route: IntegrationRoute, alias: str) -> Incident | None:
        services = self._services(route)
        for inc in self.system.state.open_incidents():
            if inc.dedup_key == alias and inc.service_id in services:
                return inc
        return None

    def _json(self, req: RawRequest, *, allow_empty: bool = False) -> Any:
        if allow_empty and not req.body.strip():
            return None
        try:
            return parse_json_body(req.body, req.headers.get("content-type") or "application/json")
        except PagerError as e:
            # Opsgenie: 400 for a body that is not JSON at all, 422 for one that is wrong
            raise _Answer(
                e.status_code,
                "Could not parse the request body as JSON",
                {"body": "; ".join(getattr(e, "errors", None) or [e.message])},
            ) from None

    # ------------------------------------------------------------------ request ids

    def _accepted(
        self, action: str, inc: Incident | None, alias: str, started: float
    ) -> RawResponse:
        record = {
            "a": action,
            "i": inc.id if inc else None,
            "s": inc.service_id if inc else None,
            "al": alias,
            "t": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        token = base64.urlsafe_b64encode(orjson.dumps(record)).decode().rstrip("=")
        return json_response(
            202, {"result": "Request will be processed", "took": _took(started), "requestId": token}
        )

    def _request(self, token: str, route: IntegrationRoute, started: float) -> RawResponse:
        try:
            record = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(record, dict) or "a" not in record:
                raise ValueError(token)
        except (ValueError, binascii.Error, orjson.JSONDecodeError):
            raise _Answer(404, f"Request with id [{token}] does not exist") from None
        if record.get("s") not in self._services(route):
            raise _Answer(404, f"Request with id [{token}] does not exist")
        ok = record.get("i") is not None
        data = {
            "success": ok,
            "action": record["a"],
            "processedAt": record.get("t"),
            "integrationId": route_id(route),
            "isSuccess": ok,
            "status": _STATUS.get(record["a"], "Request processed") if ok else "Alert not found",
            "alertId": record.get("i") or "",
            "alias": record.get("al") or "",
        }
        return json_response(
            200, {"data": data, "took": _took(started), "requestId": str(uuid.uuid4())}
        )


_STATUS = {
    "Create": "Created alert",
    "Acknowledge": "Acknowledged alert",
    "Close": "Closed alert",
    "AddNote": "Added note",
    "UpdateMessage": "Updated alert message",
    "UpdateDescription": "Updated alert description",
}


def route_id(route: IntegrationRoute) -> str:
    return f"opsgenie-{route.service_id or 'shared'}"


def parse_or_422(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InvalidEvent as e:
        raise _unprocessable(e) from None


def _unprocessable(e: InvalidEvent) -> _Answer:
    errors = {}
    for line in e.errors:
        field, _, why = line.partition(": ")
        errors[field] = why or line
    return _Answer(422, "Request body is not processable. Please check the errors.", errors)


def _took(started: float) -> float:
    return round(time.perf_counter() - started, 3)
