"""One connection of the lean ingest listener: httptools' HTTP/1.1 parser over a trio stream.

This is the hot path of alert storms, so it stays flat: one task per connection (never one
per request), one parser per connection (it carries keep-alive and pipelined requests), one
deadline per connection that moves with the phase (idle, reading a request, running the
handler, writing the answer) and that the listener's one watcher enforces
(pager/web/lean_registry.py), one write to the socket per response, and no work that a
small JSON POST does not need. Answers that end a connection (400, 408, 413, 431, 500, 501,
503) are written as raw bytes and followed by a bounded lingering close so that the peer
reads them instead of a reset.

The parser is httptools (the binding of llhttp, Node.js's parser, that uvicorn uses), not
h11: h11 parsing in Python was about a third of the listener's CPU per alert in an alert
storm (py-spy under `scripts/bench ingest`). llhttp is strict where h11 is lenient and the
RFC lets a server refuse (a bare LF as a line end, obs-fold, two framings, a Content-Length
list or sign, a Transfer-Encoding other than chunked): each is a 400 and a close, so a
request hidden behind it never runs (tests/web/test_edges_hostile.py, test_edges_raw.py).
The header and body limits are checked here, as the bytes arrive.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Final
from urllib.parse import unquote

import httptools
import trio
from trio.lowlevel import wait_readable, wait_writable

from pager.web.lean_limits import LeanLimits
from pager.web.lean_registry import IDLE, ConnectionRegistry
from pager.web.raw import RawHandler, RawRequest, RawResponse, path_for_logs

__all__ = ["ConnectionRegistry", "LeanConnection", "closing_response", "finish_and_close"]

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

_REASONS: Final = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
_NO_BODY_STATUSES: Final = frozenset({204, 304})
# Framing is ours: these are dropped from a handler's headers.
_OUR_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "date"})
_INTERNAL_ERROR: Final = RawResponse(500, b'{"status":"error","message":"internal error"}')
_CONNECTION_CLOSE: Final = (b"connection", b"close")
_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_BAD_VALUE: Final = re.compile(rb"[\r\n\x00]")
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


class _HttpDate:
    """The Date header value, formatted at most once per wall-clock second."""

    __slots__ = ("second", "value")

    def __init__(self) -> None:
        self.second = -1
        self.value = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self.second:
            self.value = formatdate(second, usegmt=True).encode("ascii")
            self.second = second
        return self.value


http_date: Final = _HttpDate()


def closing_response(status: int, message: str, extra: bytes = b"", *, head: bool = False) -> bytes:
    """A complete plain-text answer with `Connection: close`, as raw bytes. `extra` holds
    additional header lines, each ending in CRLF."""
    body = message.encode("ascii") + b"\n"
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"date: %s\r\n%sconnection: close\r\n\r\n%s"
        % (
            status,
            _REASONS.get(status, b""),
            len(body),
            http_date.now(),
            extra,
            b"" if head else body,
        )
    )


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


class _Parsed:
    """One request as the parser delivered it, whole; or the answer that refuses it."""

    __slots__ = ("body", "close", "headers", "method", "problem", "url")

    def __init__(
        self,
        method: str,
        url: bytes,
        headers: dict[str, str],
        body: bytes,
        close: bool,
        problem: bytes | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.close = close
        self.problem = problem


_BAD: Final = _Parsed("", b"", {}, b"", True)  # bytes the parser refused, after good requests


class _Wire:
    """The callbacks of httptools' (llhttp's) parser for one connection: they collect each
    request and, once it is whole, queue it in `done`; `problem` is the closing answer to a
    request over a limit, set as soon as it shows (431 for the head, 413 for the body)."""

    __slots__ = (
        "begun_here",
        "body",
        "completed_here",
        "continue_wanted",
        "done",
        "head_done",
        "head_size",
        "headers",
        "incomplete_head",
        "limits",
        "method",
        "parser",
        "problem",
        "received",
        "started",
        "url",
    )

    def __init__(self, limits: LeanLimits) -> None:
        self.limits = limits
        self.parser: httptools.HttpRequestParser | None = None
        self.done: list[_Parsed] = []
        self.problem: bytes | None = None
        self.started = False  # a request has begun and is not whole yet
        self.head_done = False  # ... and its head is whole
        self.incomplete_head = 0  # bytes received while its head is not whole
        self.begun_here = False  # it began in the bytes last fed
        self.completed_here = 0  # requests made whole by the bytes last fed
        self.continue_wanted = False
        self.method = b""
        self.url = b""
        self.headers: dict[str, str] = {}
        self.head_size = 0
        self.body: list[bytes] = []
        self.received = 0

    def fed(self, data: bytes) -> None:
        """After `data` was fed: a head that is not whole yet must not grow past the limit
        (the parser reports a header only once it is whole). The bytes of a head that
        began after another request in the same read are not known exactly; they are
        counted from the next read on."""
        if self.started and not self.head_done and not (self.begun_here and self.completed_here):
            self.incomplete_head += len(data)
            if self.incomplete_head > self.limits.max_header_bytes and self.problem is None:
                self.problem = closing_response(431, "request header fields too large")
        self.begun_here = False
        self.completed_here = 0

    def on_message_begin(self) -> None:
        self.started = True
        self.head_done = False
        self.incomplete_head = 0
        self.begun_here = True
        self.url = b""
        self.headers = {}
        self.head_size = 0
        self.body = []
        self.received = 0
        self.method = b""

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._grow(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow(len(name) + len(value) + 4)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self.headers.get(key)
        self.headers[key] = text if previous is None else f"{previous}, {text}"

    def _grow(self, n: int) -> None:
        self.head_size += n
        if self.head_size > self.limits.max_header_bytes and self.problem is None:
            self.problem = closing_response(431, "request header fields too large")

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.head_done = True
        self.method = self.parser.get_method()
        head = self.method == b"HEAD"
        if self.problem is not None:
            return
        declared = self.headers.get("content-length")
        if declared is not None and int(declared) > self.limits.max_body_bytes:
            self.problem = closing_response(413, "request body too large", head=head)
        elif (
            self.headers.get("expect", "").lower() == "100-continue"
            and self.parser.get_http_version() == "1.1"
        ):
            self.continue_wanted = True

    def on_body(self, body: bytes) -> None:
        self.continue_wanted = False  # it is coming already
        self.received += len(body)
        if self.received > self.limits.max_body_bytes:
            if self.problem is None:
                head = self.method == b"HEAD"
                self.problem = closing_response(413, "request body too large", head=head)
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.parser is not None
        self.started = False
        self.continue_wanted = False
        self.completed_here += 1
        parts = self.body
        body = b"" if not parts else parts[0] if len(parts) == 1 else b"".join(parts)
        close = (
            not self.parser.should_keep_alive()
            or self.parser.get_http_version() != "1.1"
            or "close" in self.headers.get("connection", "").lower()
        )
        self.done.append(
            _Parsed(self.method.decode("ascii"), self.url, self.headers, body, close, self.problem)
        )
        self.problem = None


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
        wire = _Wire(limits)
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
                    done.append(_BAD)
            parsed = done.pop(0)
            if parsed is _BAD:
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
            request = RawRequest(
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
                payload = _render(response, head=head, close=close)
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


def _render(response: RawResponse, *, head: bool, close: bool) -> bytes:
    """The whole answer (head and body) as one buffer. Header names and values are checked
    as h11 would (no CR, LF or NUL), so a handler cannot split the response."""
    status = response.status
    if status in _NO_BODY_STATUSES:
        body = length = b""
    else:
        body = response.body
        length = b"content-length: %d\r\n" % len(body)
    return b"HTTP/1.1 %d %s\r\ndate: %s\r\n%s%s%s\r\n%s" % (
        status,
        _REASONS.get(status, b""),
        http_date.now(),
        length,
        _header_lines(response.headers),
        b"connection: close\r\n" if close else b"",
        b"" if head else body,
    )


#: header lines already checked and encoded, by the handler's headers: almost every answer
#: carries one of a handful (content-type, a retry-after); emptied when full
_HEADER_LINES: dict[tuple[tuple[str, str], ...], bytes] = {}
_HEADER_LINES_MAX: Final = 256


def _header_lines(headers: tuple[tuple[str, str], ...]) -> bytes:
    lines = _HEADER_LINES.get(headers)
    if lines is not None:
        return lines
    out = []
    for name, value in headers:
        if name.lower() in _OUR_HEADERS:
            continue
        n, v = name.encode("ascii"), value.encode("latin-1")
        if not _TOKEN.fullmatch(n) or _BAD_VALUE.search(v):
            raise ValueError(f"invalid response header {name!r}")
        out.append(b"%s: %s\r\n" % (n, v))
    lines = b"".join(out)
    if len(_HEADER_LINES) >= _HEADER_LINES_MAX:
        _HEADER_LINES.clear()  # headers that vary (a request id) must not crowd it out
    _HEADER_LINES[headers] = lines
    return lines


def _peer_name(stream: trio.SocketStream) -> str | None:
    try:
        address = stream.socket.getpeername()
    except OSError:
        return None
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)
