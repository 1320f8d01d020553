"""The HTTP/1.1 framing of the lean listener: the callbacks that httptools' (llhttp's) parser
calls as a request's bytes arrive (`Wire`, one per connection), and the bytes of every
answer (`render` for a handler's, `closing_response` for the listener's own). The
connection's task, its I/O and its phases are in lean_connection.py.

The parser is httptools (the binding of llhttp, Node.js's parser, that uvicorn uses), not
h11: h11 parsing in Python was about a third of the listener's CPU per alert in an alert
storm (py-spy under `scripts/bench ingest`). llhttp is strict where h11 is lenient and the
RFC lets a server refuse (a bare LF as a line end, obs-fold, two framings, a Content-Length
list or sign, a Transfer-Encoding other than chunked): each is a 400 and a close, so a
request hidden behind it never runs (tests/web/test_edges_hostile.py, test_edges_raw.py).
The header and body limits are checked here, as the bytes arrive.
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Final

import httptools

from pager.web.lean_limits import LeanLimits
from pager.web.raw import RawResponse

__all__ = ["BAD", "Parsed", "Wire", "closing_response", "http_date", "render"]

_REASONS: Final = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}
_NO_BODY_STATUSES: Final = frozenset({204, 304})
# Framing is ours: these are dropped from a handler's headers.
_OUR_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "date"})
_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_BAD_VALUE: Final = re.compile(rb"[\r\n\x00]")


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


class Parsed:
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


BAD: Final = Parsed("", b"", {}, b"", True)  # bytes the parser refused, after good requests


class Wire:
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
        self.done: list[Parsed] = []
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
            self.problem = closing_response(
                413, f"request body over {self.limits.max_body_bytes} bytes", head=head
            )
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
                self.problem = closing_response(
                    413, f"request body over {self.limits.max_body_bytes} bytes", head=head
                )
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
            Parsed(self.method.decode("ascii"), self.url, self.headers, body, close, self.problem)
        )
        self.problem = None


def render(response: RawResponse, *, head: bool, close: bool) -> bytes:
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
