"""What `bench notify` runs in its own process beside pager: the provider stand-ins and an
open-loop load generator, both on one trio loop so their times share one clock
(`time.perf_counter`).

- `serve_asgi`: a lean HTTP/1.1 front (keep-alive, Content-Length bodies) for the stand-in
  ASGI apps of `tests/standins/` (Slack, Twilio, Teams, webhook receiver), which check each
  request as the provider would and answer as it does. The arrival time of each request is
  taken when its last byte is read, before the app runs. hypercorn (`tests/standins/serve.py`)
  would work too, but costs about a millisecond of CPU per request on the core the load
  generator shares, which at 1,000 alerts/s would be the stand-in's latency, not pager's.
- `open_loop`: sends requests at fixed instants (t0 + i / rate), each on an idle keep-alive
  connection (a new one when all are busy), never waiting for answers before sending the
  next: a slow server does not slow the sender down (no coordinated omission).
- `closed_loop`: as fast as `connections` connections allow (a burst).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

__all__ = ["Arrival", "Sent", "closed_loop", "http_request", "open_loop", "serve_asgi"]

_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request"}


@dataclass
class Arrival:
    at: float  # time.perf_counter() when the request had fully arrived
    path: str
    body: bytes
    status: int = 0


async def _read_request(
    stream: trio.SocketStream, buf: bytearray
) -> tuple[str, str, list[tuple[bytes, bytes]], bytes] | None:
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        data = await stream.receive_some(65536)
        if not data:
            return None
        buf += data
    head = bytes(buf[:end])
    del buf[: end + 4]
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].split(b" ", 2)
    headers = []
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k, v = k.strip().lower(), v.strip()
        headers.append((k, v))
        if k == b"content-length":
            length = int(v)
        elif k == b"transfer-encoding" and v.lower() != b"identity":
            raise ValueError("chunked request bodies are not supported by the bench stand-in")
    while len(buf) < length:
        data = await stream.receive_some(65536)
        if not data:
            return None
        buf += data
    body = bytes(buf[:length])
    del buf[:length]
    return method.decode(), target.decode(), headers, body


async def serve_asgi(nursery: trio.Nursery, app: Any, record: Callable[[Arrival], None]) -> str:
    """Serve the ASGI `app` on 127.0.0.1 (a free port); every request is `record`ed with its
    arrival time and the status the app answered. Returns the base URL."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]

    async def handle(stream: trio.SocketStream) -> None:
        buf = bytearray()
        try:
            while True:
                req = await _read_request(stream, buf)
                if req is None:
                    return
                arrived = time.perf_counter()
                method, target, headers, body = req
                path, _, query = target.partition("?")
                arrival = Arrival(arrived, path, body)
                scope = {
                    "type": "http",
                    "asgi": {"version": "3.0"},
                    "http_version": "1.1",
                    "method": method,
                    "scheme": "http",
                    "path": path,
                    "raw_path": path.encode(),
                    "query_string": query.encode(),
                    "headers": headers,
                    "client": ("127.0.0.1", 0),
                    "server": ("127.0.0.1", port),
                }
                sent: list[dict[str, Any]] = []

                async def receive(body: bytes = body) -> dict[str, Any]:
                    return {"type": "http.request", "body": body, "more_body": False}

                async def send(msg: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
                    sent.append(msg)

                await app(scope, receive, send)
                start = next(m for m in sent if m["type"] == "http.response.start")
                out = b"".join(
                    m.get("body", b"") for m in sent if m["type"] == "http.response.body"
                )
                arrival.status = start["status"]
                record(arrival)
                lines = [f"HTTP/1.1 {start['status']} {_REASONS.get(start['status'], 'X')}"]
                for k, v in start.get("headers", []):
                    if k.lower() != b"content-length":
                        lines.append(f"{k.decode()}: {v.decode()}")
                lines.append(f"content-length: {len(out)}")
                await stream.send_all(("\r\n".join(lines) + "\r\n\r\n").encode() + out)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            return

    nursery.start_soon(trio.serve_listeners, handle, listeners)
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- clients


@dataclass
class Sent:
    i: int
    planned: float  # when it should have been sent (perf_counter)
    at: float = 0.0  # when its first byte was written
    done: float = 0.0  # when the answer had arrived
    status: int = 0
    error: str | None = None


@dataclass
class _Conn:
    stream: trio.SocketStream
    buf: bytearray = field(default_factory=bytearray)


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})")


def http_request(host: str, port: int, method: str, path: str, body: bytes,
                 headers: Sequence[tuple[str, str]] = ()) -> bytes:  # fmt: skip
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(conn: _Conn, request: bytes) -> int:
    """Write one request, read its answer; the status."""
    await conn.stream.send_all(request)
    buf = conn.buf
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        data = await conn.stream.receive_some(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        buf += data
    head = bytes(buf[:end])
    del buf[: end + 4]
    m = _STATUS.match(head)
    if m is None:
        raise ConnectionError(f"not an HTTP answer: {head[:60]!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(buf) < length:
        data = await conn.stream.receive_some(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        buf += data
    del buf[:length]
    return int(m.group(1))


class _Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Conn] = []
        self.opened = 0

    async def get(self) -> _Conn:
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        stream = await trio.open_tcp_stream(self.host, self.port)
        return _Conn(stream)

    def put(self, conn: _Conn) -> None:
        self.idle.append(conn)

    async def warm(self, n: int) -> None:
        for _ in range(n):
            self.put(await self.get())

    async def aclose(self) -> None:
        for c in self.idle:
            await c.stream.aclose()
        self.idle.clear()


async def _one(pool: _Pool, s: Sent, request: bytes) -> None:
    try:
        conn = await pool.get()
    except OSError as e:
        s.error = f"connect: {e}"
        return
    s.at = time.perf_counter()
    try:
        s.status = await _exchange(conn, request)
    except (OSError, ConnectionError, trio.BrokenResourceError) as e:
        s.error = f"{type(e).__name__}: {e}"
        await conn.stream.aclose()
        return
    s.done = time.perf_counter()
    pool.put(conn)


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    *,
    warm_connections: int = 16,
    on_start: Callable[[], Awaitable[None]] | None = None,
) -> tuple[list[Sent], int]:
    """Send `requests[i]` at t0 + i / rate; (what was sent when, connections opened)."""
    pool = _Pool(host, port)
    await pool.warm(warm_connections)
    sent = [Sent(i, 0.0) for i in range(len(requests))]
    if on_start is not None:
        await on_start()
    async with trio.open_nursery() as nursery:
        t0 = time.perf_counter() + 0.01
        offset = trio.current_time() - time.perf_counter()
        for i, req in enumerate(requests):
            planned = t0 + i / rate
            await trio.sleep_until(planned + offset)
            sent[i].planned = planned
            nursery.start_soon(_one, pool, sent[i], req)
    await pool.aclose()
    return sent, pool.opened


async def closed_loop(
    host: str, port: int, requests: Sequence[bytes], connections: int
) -> list[Sent]:
    """Send every request as fast as `connections` keep-alive connections allow."""
    pool = _Pool(host, port)
    await pool.warm(connections)
    sent = [Sent(i, 0.0) for i in range(len(requests))]
    nxt = 0

    async def worker() -> None:
        nonlocal nxt
        while nxt < len(requests):
            i = nxt
            nxt += 1
            sent[i].planned = time.perf_counter()
            await _one(pool, sent[i], requests[i])

    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(worker)
    await pool.aclose()
    return sent
