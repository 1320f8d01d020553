"""The main listener: hypercorn's HTTP/1.1 protocol behind our own accept loop and request
checks.

hypercorn's `serve` accepts without limit, logs a traceback per failed accept, reads a
request that carries both Content-Length and Transfer-Encoding as chunked and keeps the
connection (so bytes after the chunked body run as a second, smuggled request), switches to
HTTP/2 on `Upgrade: h2c` or the prior-knowledge preface, and takes any number of headers
that arrive in one read. Here the same hypercorn pieces (lifespan, `TCPServer`, the h11
protocol) run under:

- an accept loop with a per-listener connection cap: at the cap a new connection displaces
  the oldest one that is idle or still sending its request (a slow-body flood cannot keep
  a client out); when none is, 503 with `Retry-After: 1`; accept failures are logged at
  most once per interval (`pager.web.accepting`);
- a check of every request head before the app sees it: 400 for Content-Length with
  Transfer-Encoding, 413 for a Content-Length over `max_body_bytes` (the body is not read),
  431 for more than `max_headers` headers or `max_header_bytes` bytes,
  505 for the HTTP/2 preface and `Upgrade: h2c` ignored (served as HTTP/1.1) unless
  `http2` is on — each refusal closes the connection;
- a deadline on reading a request: its head and body must arrive within `read_timeout`
  seconds of its first byte, or the connection is closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from math import inf
from typing import Any

import h11
import trio
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.h11 import H11Protocol, H11WSConnection
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import AppWrapper, ConnectionState
from hypercorn.utils import parse_socket_addr, wrap_app

from .accepting import MAX_REJECTING, AcceptFailures
from .heads import head_problem
from .lean_connection import closing_response, finish_and_close

__all__ = ["MainLimits", "serve_main"]

_log = logging.getLogger("pager.web")


@dataclass(frozen=True, slots=True)
class MainLimits:
    """What one peer may cost the main listener (the answers are in the module docstring)."""

    max_connections: int = 1000
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    max_body_bytes: int = 4 * 1024 * 1024
    read_timeout: float = 10.0
    http2: bool = False


class _Refused(Exception):
    """A request head was answered with an error; the connection is to be closed."""


def refusal(request: h11.Request, limits: MainLimits) -> tuple[int, str] | None:
    """The status and message a request head is refused with, or None to serve it."""
    headers = request.headers
    if len(headers) > limits.max_headers:
        return 431, f"more than {limits.max_headers} request headers"
    size = len(request.target) + sum(len(n) + len(v) + 4 for n, v in headers)
    if size > limits.max_header_bytes:
        return 431, f"request header block over {limits.max_header_bytes} bytes"
    names = {name for name, _ in headers}  # h11 lower-cases them
    if b"content-length" in names and b"transfer-encoding" in names:
        return 400, "both Content-Length and Transfer-Encoding: send one framing"
    declared = next((v for n, v in headers if n == b"content-length"), b"")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        return 413, f"request body over {limits.max_body_bytes} bytes"
    if not limits.http2 and request.method == b"PRI" and request.http_version == b"2.0":
        return 505, "HTTP/2 is not served on this port"
    return None


class _GuardedH11(H11Protocol):
    limits: MainLimits

    async def _check_protocol(self, event: h11.Request) -> None:
        refused = refusal(event, self.limits)
        if refused is not None:
            status, message = refused
            body = message.encode("ascii") + b"\n"
            await self._send_h11_event(
                h11.Response(
                    status_code=status,
                    headers=[
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", b"%d" % len(body)),
                        (b"connection", b"close"),
                    ],
                )
            )
            await self._send_h11_event(h11.Data(data=body))
            await self._send_h11_event(h11.EndOfMessage())
            raise _Refused
        if self.limits.http2:
            await super()._check_protocol(event)
        # else: an `Upgrade: h2c` is ignored and the request is served as HTTP/1.1
        # (RFC 9110 §7.8 lets a server ignore Upgrade).


class _GuardedProtocol(ProtocolWrapper):
    def __init__(self, limits: MainLimits, *args: Any) -> None:
        super().__init__(*args)
        if type(self.protocol) is H11Protocol:
            self.protocol = _GuardedH11(*args[:9])
            self.protocol.limits = limits

    async def handle(self, event: Any) -> None:
        try:
            await super().handle(event)
        except _Refused:
            await self.send(Closed())


class _MainConnection(TCPServer):
    """hypercorn's connection runner (plain TCP), with our protocol and read deadline."""

    def __init__(self, limits: MainLimits, *args: Any) -> None:
        super().__init__(*args)
        self.limits = limits
        self.scope = trio.CancelScope()

    async def protocol_send(self, event: Any) -> None:
        try:
            await super().protocol_send(event)
        finally:
            if isinstance(event, Closed):
                # the connection is over, also when a task of it cannot see that: after
                # an answer given before the request's body was read (413), the reading
                # task waits for an app that stopped reading, and hypercorn's close of the
                # socket does not run
                self.scope.cancel()

    async def run(self) -> None:
        socket = self.stream.socket
        try:
            client = parse_socket_addr(socket.family, socket.getpeername())
            server = parse_socket_addr(socket.family, socket.getsockname())
            async with TaskGroup() as task_group:
                self._task_group = task_group
                self.protocol = _GuardedProtocol(
                    self.limits,
                    self.app,
                    self.config,
                    self.context,
                    task_group,
                    ConnectionState(self.state),
                    False,
                    client,
                    server,
                    self.protocol_send,
                    "http/1.1",
                )
                await self.protocol.initiate()
                await self.idle_task.restart(self._task_group, self._idle_timeout)
                await self._read_data()
                # The peer is gone: do not hold the slot for hypercorn's keep-alive timer,
                # nor for a websocket handler that would notice only at its next ping.
                await self.idle_task.stop()
                if self._websocket() and task_group._nursery is not None:
                    task_group._nursery.cancel_scope.cancel()
        except OSError:
            pass
        finally:
            await self._close()

    def _websocket(self) -> bool:
        inner = self.protocol.protocol
        return isinstance(inner, H11Protocol) and isinstance(inner.connection, H11WSConnection)

    def evictable(self) -> bool:
        """Idle between requests, or a request not yet whole (see `_Live.evict_one`)."""
        protocol = getattr(self, "protocol", None)
        if protocol is None:
            return True  # not started yet
        inner = protocol.protocol
        if not isinstance(inner, H11Protocol) or isinstance(inner.connection, H11WSConnection):
            return False
        return inner.connection.their_state in (h11.IDLE, h11.SEND_BODY)

    def _bad_head(self, data: bytes) -> bool:
        """A request head (the start of one, while h11 waits for it) that pager refuses
        (pager.web.heads). Checked as it arrives; a head pipelined behind a body is read
        by h11 alone."""
        inner = self.protocol.protocol
        if not isinstance(inner, H11Protocol) or isinstance(inner.connection, H11WSConnection):
            return False
        connection = inner.connection
        if connection.their_state is not h11.IDLE:
            return False
        problem = head_problem(connection.trailing_data[0] + data)
        if problem is not None:
            _log.debug("bad request head: %s", problem)
        return problem is not None

    def _reading_request(self) -> bool:
        """True while a request has begun arriving but is not whole (head or body)."""
        protocol = self.protocol.protocol
        if not isinstance(protocol, H11Protocol):
            return False  # HTTP/2 (when allowed): its own flow control and pings
        connection = protocol.connection
        if isinstance(connection, H11WSConnection):
            return False  # a websocket: the stream pings it
        state = connection.their_state
        return state is h11.SEND_BODY or (state is h11.IDLE and bool(connection.trailing_data[0]))

    async def _read_data(self) -> None:
        started: float | None = None
        while True:
            if self._reading_request():
                if started is None:
                    started = trio.current_time()
                deadline = started + self.limits.read_timeout
            else:
                started = None
                deadline = inf
            try:
                with trio.fail_at(deadline):
                    data = await self.stream.receive_some(MAX_RECV)
            except (trio.ClosedResourceError, trio.BrokenResourceError, trio.TooSlowError):
                break
            if data and self._bad_head(bytes(data)):
                assert isinstance(self.stream, trio.SocketStream)  # plain TCP (no TLS here)
                await finish_and_close(self.stream, closing_response(400, "malformed request"))
                break
            await self.protocol.handle(RawData(bytes(data)))
            if data == b"":
                break
        await self.protocol.handle(Closed())


async def serve_main(
    app: Any,
    config: Config,
    host: str,
    port: int,
    *,
    limits: MainLimits,
    shutdown: trio.Event,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the ASGI `app` on `host`:`port` until `shutdown` is set, then stop accepting,
    let requests in flight finish for up to `config.graceful_timeout` seconds and run the
    app's lifespan shutdown. `task_status.started()` receives the bound URLs."""
    wrapped: AppWrapper = wrap_app(app, config.wsgi_max_body_size, "asgi")
    lifespan_state: dict[str, Any] = {}
    lifespan = Lifespan(wrapped, config, lifespan_state)
    context = WorkerContext(None)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        listeners = await trio.open_tcp_listeners(port, host=host, backlog=config.backlog)
        try:
            async with trio.open_nursery() as connections:
                live = _Live()
                connect = partial(
                    _MainConnection, limits, wrapped, config, context, dict(lifespan_state)
                )
                async with trio.open_nursery() as acceptors:
                    for listener in listeners:
                        acceptors.start_soon(
                            _accept_loop, listener, connect, limits, live, connections
                        )
                    urls = []
                    for listener in listeners:
                        bound_host, bound_port = listener.socket.getsockname()[:2]
                        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                        urls.append(f"http://{shown}:{bound_port}")
                    task_status.started(urls)
                    await shutdown.wait()
                    acceptors.cancel_scope.cancel()
                for listener in listeners:
                    listener.socket.close()
                await context.terminated.set()  # idle keep-alives close, none recycle
                connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        finally:
            for listener in listeners:
                listener.socket.close()
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


class _Live:
    """The listener's connections, oldest first, and how many are being refused."""

    def __init__(self) -> None:
        self.serving: dict[_MainConnection, None] = {}
        self.rejecting = 0

    def evict_one(self) -> bool:
        """Close the oldest connection that is idle or still sending its request (never
        one whose request runs, nor a websocket), so that a flood of slow peers cannot
        keep a new client out. True when one was closed."""
        for connection in self.serving:
            if connection.evictable():
                del self.serving[connection]
                connection.scope.cancel()
                return True
        return False


async def _accept_loop(
    listener: trio.SocketListener,
    connect: Any,
    limits: MainLimits,
    live: _Live,
    nursery: trio.Nursery,
) -> None:
    failures = AcceptFailures("main listener")
    while True:
        try:
            stream = await listener.accept()
        except OSError as exc:
            await failures.pause(exc)
            continue
        if len(live.serving) < limits.max_connections or live.evict_one():
            connection = connect(stream)
            live.serving[connection] = None
            nursery.start_soon(_run_connection, connection, live)
        elif live.rejecting < MAX_REJECTING:
            live.rejecting += 1
            nursery.start_soon(_reject, stream, live)
        else:
            stream.socket.close()


async def _run_connection(connection: _MainConnection, live: _Live) -> None:
    try:
        with connection.scope:
            await connection.run()
    except Exception:
        _log.exception("main listener connection failed")
    finally:
        live.serving.pop(connection, None)
        await trio.aclose_forcefully(connection.stream)


async def _reject(stream: trio.SocketStream, live: _Live) -> None:
    try:
        async with stream:
            await finish_and_close(
                stream, closing_response(503, "too many connections", b"retry-after: 1\r\n")
            )
    finally:
        live.rejecting -= 1
