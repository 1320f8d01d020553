"""Two ways to reach a stand-in: over real HTTP (hypercorn on 127.0.0.1, port 0) and
in-process (`InProcess`, an httpx transport that routes each request by host to its ASGI
app), for tests on trio's MockClock, which must not wait on real sockets."""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from .asgi import Drop, Refuse, Reset, Stall

__all__ = ["InProcess", "closed_port", "served"]


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """Serve `app` over real HTTP on 127.0.0.1; yields its base URL (no trailing slash)."""
    cfg = Config()
    cfg.bind = ["127.0.0.1:0"]
    cfg.accesslog = None
    cfg.errorlog = logging.getLogger("tests.standins")
    cfg.graceful_timeout = 0.1
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(partial(serve, app, cfg, shutdown_trigger=trio.sleep_forever))
        try:
            yield urls[0].rstrip("/")
        finally:
            nursery.cancel_scope.cancel()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class InProcess(httpx.AsyncBaseTransport):
    """Routes requests by host name to in-process ASGI apps: `{"slack.test": slack_app}`.
    A stand-in's `Drop` becomes the error httpx raises for a dropped connection, `Refuse`
    the one for a refused connection, `Stall` a connect timeout once the request's connect
    timeout has passed (on trio's clock), `Reset` a connection reset in mid-read; an unknown
    host is refused too. `attempts` counts the requests per host, whatever became of them."""

    def __init__(self, apps: Mapping[str, Any]) -> None:
        self.apps = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}
        self.attempts: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts[request.url.host] += 1
        inner = self.apps.get(request.url.host)
        if inner is None:
            raise httpx.ConnectError(f"[Errno 111] Connection refused ({request.url.host})")
        try:
            return await inner.handle_async_request(request)
        except Drop:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            ) from None
        except Refuse:
            raise httpx.ConnectError("[Errno 111] Connection refused") from None
        except Stall:
            timeouts = request.extensions.get("timeout") or {}
            await trio.sleep(timeouts.get("connect") or 3600)
            raise httpx.ConnectTimeout("timed out") from None
        except Reset:
            raise httpx.ReadError("[Errno 104] Connection reset by peer") from None
