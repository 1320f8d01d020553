"""The lean HTTP/1.1 listener that carries the ingest paths through alert storms.

hypercorn + Quart tops out near 530 requests/s on a 2-core machine; the same parse-and-reply
written on h11 directly over trio sockets does about 4,300/s. Alert storms must be absorbed,
so the ingest handlers (which speak `pager.web.raw`, not Quart) are also served here, on
`server.ingest_listen`, as one more task in the supervisor's nursery. It does only what
ingest needs: whole-body requests, Content-Length or chunked, keep-alive, pipelining,
`Expect: 100-continue`, and an answer for every limit (see `LeanLimits`).

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_lean, handler, "127.0.0.1", 0)
"""

from __future__ import annotations

import logging
from functools import partial

import trio

from pager.web.accepting import MAX_REJECTING, AcceptFailures
from pager.web.lean_connection import LeanConnection, closing_response, finish_and_close
from pager.web.lean_limits import LeanLimits
from pager.web.lean_registry import ConnectionRegistry
from pager.web.raw import RawHandler

__all__ = ["LeanLimits", "serve_lean"]

_log = logging.getLogger("pager.web.lean")

DEFAULT_LIMITS = LeanLimits()


async def serve_lean(
    handler: RawHandler,
    host: str,
    port: int,
    *,
    limits: LeanLimits = DEFAULT_LIMITS,
    shutdown: trio.Event | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `handler` over HTTP/1.1 on `host`:`port` until cancelled or `shutdown` is set.

    `port` 0 picks a free port; `task_status.started()` receives the bound port once the
    listener accepts. When `shutdown` is set, the listener stops accepting, closes idle
    keep-alive connections, lets requests in flight finish with `Connection: close` for up
    to `limits.shutdown_grace` seconds, cancels what is left, and returns. Cancellation
    instead stops everything at once.

    Answers that the listener gives itself: 400 (malformed request, or Content-Length and
    Transfer-Encoding together), 408 (request not whole within `read_timeout`), 413 (body
    over `max_body_bytes`), 431 (header block over `max_header_bytes`), 501 (CONNECT) —
    each followed by closing the connection; 503 with `Retry-After: 1` to connections over
    `max_connections`; and 500 with `{"status":"error","message":"internal error"}` when
    the handler raises (the exception is logged, the connection goes on).
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    registry = ConnectionRegistry()
    bound = listeners[0].socket.getsockname()[1]
    try:
        async with trio.open_nursery() as watcher:
            # the connections' timeouts, for as long as a connection may run
            watcher.start_soon(registry.watch)
            async with trio.open_nursery() as connections:
                async with trio.open_nursery() as acceptors:
                    for listener in listeners:
                        acceptors.start_soon(
                            partial(_accept_loop, listener, handler, limits, registry, connections)
                        )
                    if shutdown is not None:
                        acceptors.start_soon(_cancel_when_set, shutdown, acceptors.cancel_scope)
                    _log.info("lean listener on %s port %d", host, bound)
                    task_status.started(bound)
                # Only a shutdown gets here: drain, bounded by the grace period.
                for listener in listeners:
                    listener.socket.close()
                _log.info("lean listener shutting down, %d connections open", len(registry.live))
                registry.drain()
                connections.cancel_scope.deadline = trio.current_time() + limits.shutdown_grace
            if connections.cancel_scope.cancelled_caught:
                _log.warning(
                    "lean listener cancelled requests still running after the grace period"
                )
            watcher.cancel_scope.cancel()
    finally:
        for listener in listeners:
            listener.socket.close()


async def _cancel_when_set(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _accept_loop(
    listener: trio.SocketListener,
    handler: RawHandler,
    limits: LeanLimits,
    registry: ConnectionRegistry,
    nursery: trio.Nursery,
) -> None:
    failures = AcceptFailures("lean listener")
    while True:
        try:
            stream = await listener.accept()
        except OSError as exc:
            await failures.pause(exc)
            continue
        # Count the connection before its task first runs, so the next accept sees it.
        if len(registry.live) < limits.max_connections:
            connection = LeanConnection(stream, handler, limits, registry)
            registry.live.add(connection)
            nursery.start_soon(connection.serve)
        elif registry.rejecting < MAX_REJECTING:
            registry.rejecting += 1
            nursery.start_soon(_reject, stream, registry)
        else:
            stream.socket.close()


async def _reject(stream: trio.SocketStream, registry: ConnectionRegistry) -> None:
    try:
        async with stream:
            await finish_and_close(
                stream, closing_response(503, "too many connections", b"retry-after: 1\r\n")
            )
    finally:
        registry.rejecting -= 1
