"""One connection of the lean ingest listener: h11's `next_event` loop over a trio stream.

This is the hot path of alert storms, so it stays flat: one task per connection (never one
per request), one cancel scope per connection whose deadline moves with the phase (idle,
reading a request, running the handler, writing the answer), one `send_all` per response,
and no work that a small JSON POST does not need. Answers that end a connection (400, 408,
413, 431, 500, 501, 503) are written as raw bytes, since h11's state may be past helping by
then, and are followed by a bounded lingering close so that the peer reads them instead of
a reset.
"""

from __future__ import annotations

import logging
import math
import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Final
from urllib.parse import unquote

import h11
import trio

from pager.web.heads import head_problem
from pager.web.lean_limits import LeanLimits
from pager.web.raw import RawHandler, RawRequest, RawResponse, path_for_logs

__all__ = ["ConnectionRegistry", "LeanConnection", "closing_response", "finish_and_close"]

_log = logging.getLogger("pager.web.lean")

RECEIVE_SIZE: Final = 64 * 1024
#: After a closing answer, how long and how much we keep reading (and discarding) so that
#: the peer sees the answer and a FIN, not a reset that would destroy the answer.
LINGER_SECONDS: Final = 2.0
LINGER_MAX_BYTES: Final = 1024 * 1024

# Phases of a connection; the cancel scope's deadline follows them.
IDLE: Final = 0  # between requests: idle_timeout, and graceful shutdown closes it
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
_CONTINUE: Final = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")


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


class ConnectionRegistry:
    """The listener's live connections, for the connection cap and graceful shutdown."""

    __slots__ = ("draining", "live", "rejecting")

    def __init__(self) -> None:
        self.live: set[LeanConnection] = set()
        self.rejecting = 0
        self.draining = False

    def drain(self) -> None:
        """From now on every answer closes its connection; idle connections close now."""
        self.draining = True
        for connection in self.live:
            if connection.phase == IDLE:
                connection.scope.cancel()


class LeanConnection:
    """One accepted connection. `serve()` runs it to the end and closes the stream."""

    __slots__ = ("handler", "limits", "phase", "registry", "remote", "scope", "stream")

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
        self.scope = trio.CancelScope()
        self.remote = _peer_name(stream)

    async def serve(self) -> None:
        try:
            async with self.stream:
                self.scope.deadline = trio.current_time() + self.limits.idle_timeout
                try:
                    with self.scope:
                        final = await self._exchange()
                except (trio.BrokenResourceError, trio.ClosedResourceError):
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
        self.scope.deadline = trio.current_time() + timeout

    async def _exchange(self) -> bytes | None:
        """Serve requests until the connection ends. Returns None to close at once, or the
        bytes (maybe empty) to send before a lingering close."""
        stream = self.stream
        limits = self.limits
        registry = self.registry
        receive_some = stream.receive_some
        need_data = h11.NEED_DATA
        leftover = b""
        max_body = limits.max_body_bytes
        max_requests = limits.max_requests_per_connection or math.inf
        served = 0
        while True:
            # h11 parses each request; the answer is rendered here, not by h11 (it costs
            # more than the parse), so each request gets a fresh h11 connection fed with
            # whatever followed the previous request on the wire (pipelining).
            conn = h11.Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
            next_event = conn.next_event
            receive_data = conn.receive_data
            head_bytes = leftover  # the head's raw bytes, for head_problem
            if leftover:
                receive_data(leftover)
            # The request head: idle_timeout until its first byte, read_timeout from then on.
            try:
                event = next_event()
                if event is need_data:
                    if registry.draining:
                        return None
                    if conn.trailing_data[0]:
                        self._arm(READING, limits.read_timeout)
                    else:
                        # The idle deadline was armed when the last answer (or the
                        # connection) began: one deadline move fewer per request.
                        self.phase = IDLE
                    while event is need_data:
                        data = await receive_some(RECEIVE_SIZE)
                        if self.phase == IDLE:
                            self._arm(READING, limits.read_timeout)
                        receive_data(data)
                        if len(head_bytes) <= limits.max_header_bytes:
                            head_bytes += data
                        event = next_event()
                else:
                    self._arm(READING, limits.read_timeout)
            except h11.RemoteProtocolError as exc:
                return self._malformed(exc)
            if type(event) is not h11.Request:
                return None  # ConnectionClosed: the peer ended a keep-alive connection
            if head_problem(head_bytes) is not None:
                return closing_response(400, "malformed request")

            request_head = event
            method = request_head.method
            head = method == b"HEAD"
            headers: dict[str, str] = {}
            size = len(request_head.target)
            for raw_name, raw_value in request_head.headers:
                size += len(raw_name) + len(raw_value) + 4
                name = raw_name.decode("latin-1")
                value = raw_value.decode("latin-1")
                previous = headers.get(name)
                headers[name] = value if previous is None else f"{previous}, {value}"
            if size > limits.max_header_bytes:
                return closing_response(431, "request header fields too large", head=head)
            declared = headers.get("content-length")
            if declared is not None:
                if "transfer-encoding" in headers:
                    # Two framings: the classic request-smuggling shape (RFC 9112 §6.1).
                    return closing_response(400, "malformed request", head=head)
                if int(declared) > max_body:
                    return closing_response(413, "request body too large", head=head)
            if method == b"CONNECT":  # h11 would turn a 2xx into a tunnel
                return closing_response(501, "method not supported")

            # The body, Content-Length or chunked; 100 Continue only once we need it.
            parts: list[bytes] = []
            received = 0
            try:
                event = next_event()
                while type(event) is not h11.EndOfMessage:
                    if type(event) is h11.Data:
                        received += len(event.data)
                        if received > max_body:
                            return closing_response(413, "request body too large", head=head)
                        parts.append(event.data)
                    elif event is need_data:
                        if conn.they_are_waiting_for_100_continue:
                            await stream.send_all(conn.send(_CONTINUE))
                        receive_data(await receive_some(RECEIVE_SIZE))
                    else:  # pragma: no cover - h11 raises on EOF inside a body
                        return None
                    event = next_event()
            except h11.RemoteProtocolError as exc:
                return self._malformed(exc)
            if not parts:
                body = b""
            elif len(parts) == 1:
                body = bytes(parts[0])
            else:
                body = b"".join(parts)

            served += 1
            self.phase = HANDLING
            self.scope.deadline = math.inf
            raw_path, _, query = request_head.target.decode("latin-1").partition("?")
            # percent-decoded as the main port's ASGI server decodes it: `{key}` means the
            # same on both listeners
            path = unquote(raw_path, encoding="utf-8", errors="replace")
            request = RawRequest(method.decode("ascii"), path, body, headers, query, self.remote)
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
            leftover, peer_closed = conn.trailing_data
            close = (
                registry.draining
                or served >= max_requests
                or peer_closed
                or request_head.http_version != b"1.1"
                or "close" in headers.get("connection", "").lower()
            )
            try:
                payload = _render(response, head=head, close=close)
            except Exception:
                _log.exception(
                    "handler answer to %s %s cannot be sent", request.method, path_for_logs(path)
                )
                return closing_response(500, "internal error", head=head)
            await stream.send_all(payload)
            if close:
                return b""

    def _malformed(self, exc: h11.RemoteProtocolError) -> bytes:
        status = exc.error_status_hint
        # h11 appends the offending bytes after a colon; they may be body bytes: cut them.
        _log.debug("bad request from %s: %s", self.remote, str(exc).partition(":")[0])
        if status == 431:
            return closing_response(431, "request header fields too large")
        return closing_response(400, "malformed request")


def _render(response: RawResponse, *, head: bool, close: bool) -> bytes:
    """The whole answer (head and body) as one buffer. Header names and values are checked
    as h11 would (no CR, LF or NUL), so a handler cannot split the response."""
    status = response.status
    body = response.body
    lines = [
        b"HTTP/1.1 %d %s\r\ndate: %s\r\n" % (status, _REASONS.get(status, b""), http_date.now())
    ]
    if status in _NO_BODY_STATUSES:
        body = b""
    else:
        lines.append(b"content-length: %d\r\n" % len(body))
    for name, value in response.headers:
        if name.lower() in _OUR_HEADERS:
            continue
        n, v = name.encode("ascii"), value.encode("latin-1")
        if not _TOKEN.fullmatch(n) or _BAD_VALUE.search(v):
            raise ValueError(f"invalid response header {name!r}")
        lines.append(b"%s: %s\r\n" % (n, v))
    if close:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    if not head and body:
        lines.append(body)
    return b"".join(lines)


def _peer_name(stream: trio.SocketStream) -> str | None:
    try:
        address = stream.socket.getpeername()
    except OSError:
        return None
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)
