"""The small ASGI frame every stand-in provider is built on: it reads a request, records it
with the trio clock time, plays the scripted faults first (500, 429 + Retry-After, a delay,
a dropped connection, a refused connection), and otherwise lets the stand-in answer as the
provider would.

More faults for the provider fault matrix (tests/e2e/test_provider_faults.py): a connect
that never completes (`stall`, the client's connect timeout), a reset in mid-body (`reset`),
a slow trickle of the answer's body (`trickle`, seconds between its bytes).

The same app object is served two ways: over real HTTP by hypercorn on 127.0.0.1 port 0
(`tests/standins/serve.py`), and in-process through `httpx.ASGITransport` for mock-clock
tests, where a real socket must not be used (autojump would fire the client's timeouts
while it waits on the network).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import trio

__all__ = ["Drop", "Fault", "Refuse", "Request", "Reset", "Response", "Stall", "StandIn"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Drop(Exception):
    """Raised inside the app to drop the connection without a complete answer."""


class Refuse(Exception):
    """Raised inside the app (in-process only) for 'connection refused'."""


class Stall(Exception):
    """Raised inside the app (in-process only) for a connection that is never accepted: the
    client waits for its connect timeout."""


class Reset(Exception):
    """Raised inside the app to reset the connection (RST) in the middle of the answer."""


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float  # trio.current_time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes/str as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            raw = json.dumps(self.body).encode()
            headers.setdefault("content-type", "application/json")
        elif isinstance(self.body, str):
            raw = self.body.encode()
        else:
            raw = self.body or b""
        headers["content-length"] = str(len(raw))
        return raw, [(k.lower().encode(), v.encode()) for k, v in headers.items()]


@dataclass
class Fault:
    """One scripted misbehaviour. `status`/`body`/`headers` answer instead of the provider;
    `delay` waits first (longer than the client's timeout: a timeout); `drop` closes the
    connection mid-answer; `refuse` (in-process) is a refused connection; `stall`
    (in-process) a connect that never completes; `reset` resets the connection after the
    first byte of the body; `trickle` sends the answer's body a byte at a time, this many
    seconds apart."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    refuse: bool = False
    stall: bool = False
    reset: bool = False
    trickle: float = 0.0


class StandIn:
    """Base of the stand-ins: subclasses implement `handle`. `requests` holds every request
    that reached the provider (faults included); `accepted` those it answered 2xx."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.accepted: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.always: Fault | None = None

    def fail(self, *faults: Fault) -> None:
        """The next requests meet these faults, one each, in order."""
        self.faults.extend(faults)

    def fail_always(self, fault: Fault | None) -> None:
        self.always = fault

    async def handle(self, req: Request) -> Response:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        req = Request(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
            at=trio.current_time(),
        )
        self.requests.append(req)
        fault = self.faults.popleft() if self.faults else self.always
        if fault is not None and fault.refuse:
            raise Refuse("connection refused")
        if fault is not None and fault.stall:
            raise Stall("connect timed out")
        if fault is not None and fault.delay:
            await trio.sleep(fault.delay)
        if fault is not None and fault.drop:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise Drop("connection dropped by the stand-in")
        if fault is not None and fault.status is not None:
            resp = Response(fault.status, fault.body, dict(fault.headers))
        else:
            resp = await self.handle(req)
        raw, headers = resp.encode()
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        if fault is not None and fault.reset:
            await send({"type": "http.response.body", "body": raw[:1], "more_body": True})
            raise Reset("connection reset by the stand-in")
        if fault is not None and fault.trickle:
            for i in range(len(raw)):
                await trio.sleep(fault.trickle)
                await send(
                    {"type": "http.response.body", "body": raw[i : i + 1], "more_body": True}
                )
            raw = b""
        if 200 <= resp.status < 300:
            self.accepted.append(req)
        await send({"type": "http.response.body", "body": raw})
