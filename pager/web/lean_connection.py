"""One connection of the lean ingest listener: httptools' HTTP/1.1 parser over a trio socket.

This is the hot path of alert storms, so it stays flat: one task per connection (never one
per request), one parser per connection (it carries keep-alive and pipelined requests), one
deadline per connection that moves with the phase (idle, reading a request, running the
handler, writing the answer) and that the listener's one watcher enforces
(pager/web/lean_registry.py), one write to the socket per response, and no work that a
small JSON POST does not need. Answers that end a connection (400, 408, 413, 431, 500, 501,
503) are written as raw bytes and followed by a bounded lingering close so that the peer
reads them instead of a reset.

The bytes of the protocol (the parser's callbacks, the answers) are in lean_wire.py.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from typing import Final
from urllib.parse import unquote

import httptools
import trio
from trio.lowlevel import wait_readable, wait_writable

from pager.web.lean_limits import LeanLimits
from pager.web.lean_registry import IDLE, ConnectionRegistry
from pager.web.lean_wire import BAD, Wire, closing_response, render
from pager.web.raw import RawHandler, RawResponse, new_raw_request, path_for_logs

__all__ = ["LeanConnection", "closing_response", "finish_and_close"]

_log = logging.getLogger("pager.web.lean")

RECEIVE_SIZE: Final = 64 * 1024
#: After a closing answer, how long and how much we keep reading (and discarding) so that
#: the peer sees the answer and a FIN, not a reset that would destroy the answer.
LINGER_SECONDS: Final = 2.0
LINGER_MAX_BYTES: Final = 1024 * 1024

# Phases of a connection; its deadline (`due`, enforced by ConnectionRegistry.watch) follows
# them. IDLE (pager.web.lean_registry): between requests: idle_timeout, and graceful shutdown
# closes it.
READING: Final = 1  # first byte of a request seen: read_timeout, then 408
HANDLING: Final = 2  # the handler runs: no deadline (shutdown grace bounds it)
WRITING: Final = 3  # sending the answer: idle_timeout, then close without a word

_INTERNAL_ERROR: Final = RawResponse(500, b'{"status":"error","message":"internal error"}')
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


async def finish_and_close(stream: trio.SocketStream, payload: bytes) -> None:
    """Send `payload` (may be empty), half-close, and read what the peer still sends for a
    short while, so that the answer reaches it. The caller closes the stream."""
    with trio.move_on_after(LINGER_SECONDS):
        try:
            if payload:
                await stream.send_all(payload)
            await stream.send_eof()
            drained = 0
            while drained < LINGER_MAX_BYTES:
                data = await stream.receive_some(RECEIVE_SIZE)
                if not data:
                    break
                drained += len(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass


class LeanConnection:
    """One accepted connection. `serve()` runs it to the end and closes the stream."""

    __slots__ = ("due", "handler", "limits", "phase", "registry", "remote", "scope", "stream")

    def __init__(
        self,
        stream: trio.SocketStream,
        handler: RawHandler,
        limits: LeanLimits,
        registry: ConnectionRegistry,
    ) -> None:
        self.stream = stream
        self.handler = handler
        self.limits = limits
        self.registry = registry
        self.phase = IDLE
        self.due = math.inf  # see pager.web.lean_registry: the registry's watcher enforces it
        self.scope = trio.CancelScope()
        self.remote = _peer_name(stream)

    async def serve(self) -> None:
        try:
            async with self.stream:
                self._arm(IDLE, self.limits.idle_timeout)
                try:
                    with self.scope:
                        final = await self._exchange()
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    _log.debug("peer %s went away", self.remote)
                    return
                if self.scope.cancelled_caught:
                    if self.phase != READING:
                        return  # idle timeout, shutdown of an idle connection, or a stuck write
                    _log.debug("request from %s not complete within read_timeout", self.remote)
                    final = closing_response(408, "request timeout")
                if final is not None:
                    await finish_and_close(self.stream, final)
        except Exception:
            # A bug here must cost one connection, never the listener.
            _log.exception("lean connection from %s failed", self.remote)
        finally:
            self.registry.live.discard(self)

    def _arm(self, phase: int, timeout: float) -> None:
        self.phase = phase
        due = self.due = trio.current_time() + timeout
        registry = self.registry
        if due < registry.wake_at:
            registry.moved(due)

    async def _exchange(self) -> bytes | None:
        """Serve requests until the connection ends. Returns None to close at once, or the
        bytes (maybe empty) to send before a lingering close."""
        # The socket is read and written directly (os.read/os.write on its non-blocking
        # descriptor, waiting with wait_readable/wait_writable): trio's SocketStream adds
        # two context managers per call and a trip through the scheduler after every send
        # that did not block, which here is every answer. Errors are OSErrors (serve).
        fd = self.stream.socket.fileno()
        limits = self.limits
        registry = self.registry
        max_requests = limits.max_requests_per_connection or math.inf
        wire = Wire(limits)
        parser = httptools.HttpRequestParser(wire)
        wire.parser = parser
        feed = parser.feed_data
        done = wire.done
        served = 0
        while True:
            # Read until a request is whole: idle_timeout until its first byte, read_timeout
            # from then on. Pipelined requests that arrived together are taken in order.
            while not done:
                if wire.problem is not None:
                    return wire.problem
                if wire.started:
                    if self.phase != READING:
                        self._arm(READING, limits.read_timeout)
                    if wire.continue_wanted:
                        wire.continue_wanted = False
                        await _send_all(fd, _CONTINUE)
                else:
                    if registry.draining:
                        return None
                    # The idle deadline was armed when the last answer (or the connection)
                    # began: one deadline move fewer per request.
                    self.phase = IDLE
                await wait_readable(fd)
                try:
                    data = os.read(fd, RECEIVE_SIZE)
                except BlockingIOError:  # woken for nothing
                    continue
                if not data:
                    return None  # the peer ended the connection (maybe in mid-request)
                # A request that began in these bytes and is not whole arms read_timeout at
                # the top of the loop, in this same step: its first byte's time. One that is
                # whole goes straight to HANDLING: no deadline move (nor watcher wake-up).
                try:
                    feed(data)
                    wire.fed(data)
                except httptools.HttpParserUpgrade:
                    # CONNECT, or an Upgrade header: this listener never switches protocols
                    if wire.method == b"CONNECT":
                        return closing_response(501, "method not supported")
                    if not done:
                        return closing_response(400, "malformed request")
                    done[-1].close = True  # answer it as a plain request, then close
                except httptools.HttpParserError as exc:
                    if wire.problem is not None:
                        return wire.problem
                    # what came before the bad bytes is answered first (it was whole)
                    _log.debug("bad request from %s: %s", self.remote, exc)
                    if not done:
                        return closing_response(400, "malformed request")
                    done.append(BAD)
            parsed = done.pop(0)
            if parsed is BAD:
                return closing_response(400, "malformed request")
            if parsed.problem is not None:
                return parsed.problem

            served += 1
            self.phase = HANDLING
            self.due = math.inf
            head = parsed.method == "HEAD"
            raw_path, _, query = parsed.url.decode("latin-1").partition("?")
            # percent-decoded as the main port's ASGI server decodes it: `{key}` means the
            # same on both listeners
            path = unquote(raw_path, encoding="utf-8", errors="replace")
            request = new_raw_request(
                parsed.method, path, parsed.body, parsed.headers, query, self.remote
            )
            try:
                response = await self.handler(request)
            except Exception:
                _log.exception(
                    "handler failed on %s %s from %s",
                    request.method,
                    path_for_logs(path),
                    self.remote,
                )
                response = _INTERNAL_ERROR

            self._arm(WRITING, limits.idle_timeout)
            close = parsed.close or registry.draining or served >= max_requests
            try:
                payload = render(response, head=head, close=close)
            except Exception:
                _log.exception(
                    "handler answer to %s %s cannot be sent", request.method, path_for_logs(path)
                )
                return closing_response(500, "internal error", head=head)
            await _send_all(fd, payload)
            if close:
                return b""
            if done:  # pipelined requests wait: let other tasks run between two answers
                await trio.lowlevel.checkpoint()


async def _send_all(fd: int, payload: bytes) -> None:
    """Write all of `payload` to the non-blocking socket `fd`, waiting while it is full.
    Not a checkpoint when it did not block (the caller waits for the next request anyway)."""
    try:
        sent = os.write(fd, payload)
    except BlockingIOError:
        sent = 0
    if sent == len(payload):
        return
    view = memoryview(payload)[sent:]
    while view:
        await wait_writable(fd)
        with contextlib.suppress(BlockingIOError):  # the slow path: a context manager is fine
            view = view[os.write(fd, view) :]


def _peer_name(stream: trio.SocketStream) -> str | None:
    try:
        address = stream.socket.getpeername()
    except OSError:
        return None
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)
