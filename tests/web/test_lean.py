"""Tests of the lean HTTP/1.1 listener (`pager.web.lean`): the protocol it speaks.

How these tests run: the listener binds 127.0.0.1 port 0 inside the test's own nursery;
clients are httpx (which runs on trio) or a raw trio socket when the test needs to control
the bytes on the wire. Every test sits under an absolute `trio.fail_after`. Nothing sleeps
for real: the tests of timeouts take `loopback_clock` (a MockClock that jumps ahead once every
task has been blocked for IDLE_BEFORE_JUMP of real time), and the rest wait on events.

One module on purpose: the tests share the server and raw-socket helpers below.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import httpx
import pytest
import trio
import trio.testing

from pager.web.lean import LeanLimits, serve_lean
from pager.web.raw import RawHandler, RawRequest, RawResponse, json_response

TIMEOUT = 10
# Real seconds every task must stay blocked before the mock clock jumps. Not 0 (as in the
# tests without sockets): bytes on loopback arrive through the kernel, and on a loaded
# machine they can arrive a little after the send; with 0 the clock jumped meanwhile to the
# next deadline (the test's own TIMEOUT, or the listener's read timeout before the request
# was whole). Each jump costs this much real time; these tests make a handful.
IDLE_BEFORE_JUMP = 0.1


@pytest.fixture
def loopback_clock() -> trio.testing.MockClock:
    """Virtual time for tests of timeouts over real loopback sockets."""
    return trio.testing.MockClock(autojump_threshold=IDLE_BEFORE_JUMP)


@asynccontextmanager
async def lean_server(handler: RawHandler, limits: LeanLimits | None = None) -> AsyncIterator[int]:
    """Run `serve_lean` on 127.0.0.1, port 0; yield the port; cancel it on the way out."""
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(serve_lean, handler, "127.0.0.1", 0, limits=limits or LeanLimits())
        )
        yield port
        nursery.cancel_scope.cancel()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class RawClient:
    """A socket that writes exactly the bytes given and reads answers one at a time."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError(bytes(self.buffer))
        self.buffer += data

    async def reply(self, *, head: bool = False) -> Reply:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            await self._fill()
        status_line, *lines = self.buffer[:end].decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            await self._fill()
        body = bytes(self.buffer[:length])
        del self.buffer[:length]
        return Reply(int(status_line.split()[1]), headers, body)

    async def at_eof(self) -> bool:
        """True if the peer closed after everything read so far."""
        if self.buffer:
            return False
        return await self.stream.receive_some(65536) == b""


@asynccontextmanager
async def raw_client(port: int) -> AsyncIterator[RawClient]:
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        yield RawClient(stream)


class Recorder:
    """A handler that keeps every request and answers 200 with what it saw."""

    def __init__(self) -> None:
        self.requests: list[RawRequest] = []

    async def __call__(self, request: RawRequest) -> RawResponse:
        self.requests.append(request)
        return json_response(
            200, {"path": request.path, "n": len(self.requests), "size": len(request.body)}
        )


def post(path: str, body: bytes, *extra: str, length: int | None = None) -> bytes:
    """A POST as bytes; `length` declares a Content-Length other than the body's."""
    declared = len(body) if length is None else length
    lines = [f"POST {path} HTTP/1.1", "host: test", f"content-length: {declared}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder) as port, httpx.AsyncClient() as client:
            for n in range(1, 6):
                response = await client.post(f"http://127.0.0.1:{port}/v2/enqueue", json={"n": n})
                assert response.status_code == 200
                assert response.json()["n"] == n
                assert "date" in response.headers
                assert "connection" not in response.headers
        remotes = {request.remote for request in recorder.requests}
        assert len(remotes) == 1
        assert remotes.pop().startswith("127.0.0.1:")


async def test_request_record_decodes_the_path_and_joins_repeated_headers() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder) as port, raw_client(port) as client:
            await client.send(
                b"POST /integrations/a%20b/x?token=abc&y=1 HTTP/1.1\r\nHost: test\r\n"
                b"X-Tag: one\r\nx-tag: two\r\nContent-Length: 2\r\n\r\nhi"
            )
            assert (await client.reply()).status == 200
        [request] = recorder.requests
        assert request.method == "POST"
        assert request.path == "/integrations/a b/x"  # percent-decoded, as ASGI does
        assert request.query == "token=abc&y=1"
        assert request.headers["x-tag"] == "one, two"
        assert request.headers["host"] == "test"
        assert request.body == b"hi"


async def test_pipelined_requests_are_answered_in_order() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder) as port, raw_client(port) as client:
            await client.send(b"".join(post(f"/p{n}", b"x" * n) for n in range(1, 5)))
            replies = [await client.reply() for _ in range(4)]
        assert [reply.status for reply in replies] == [200] * 4
        assert [request.path for request in recorder.requests] == ["/p1", "/p2", "/p3", "/p4"]
        assert [request.body for request in recorder.requests] == [b"x" * n for n in range(1, 5)]


async def test_chunked_request_body_is_read_whole() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b'{"summary":', b' "disk', b' full"}'):
            yield part

    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder) as port, httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{port}/v2/enqueue", content=chunks())
            assert response.status_code == 200
        [request] = recorder.requests
        assert request.headers["transfer-encoding"] == "chunked"
        assert request.body == b'{"summary": "disk full"}'


async def test_expect_100_continue_gets_an_interim_answer_before_the_body() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder) as port, raw_client(port) as client:
            await client.send(post("/v2/enqueue", b"", "expect: 100-continue", length=5))
            interim = await client.reply()
            assert interim.status == 100
            assert recorder.requests == []
            await client.send(b"hello")
            final = await client.reply()
            assert final.status == 200
        assert recorder.requests[0].body == b"hello"


async def test_http_1_0_request_is_answered_then_closed() -> None:
    with trio.fail_after(TIMEOUT):
        async with lean_server(Recorder()) as port, raw_client(port) as client:
            await client.send(b"GET /health HTTP/1.0\r\n\r\n")
            reply = await client.reply()
            assert reply.status == 200
            assert reply.headers["connection"] == "close"
            assert await client.at_eof()


async def test_head_gets_the_headers_of_get_and_no_body() -> None:
    with trio.fail_after(TIMEOUT):
        async with lean_server(Recorder()) as port, raw_client(port) as client:
            await client.send(
                b"HEAD /x HTTP/1.1\r\nhost: t\r\n\r\nGET /x HTTP/1.1\r\nhost: t\r\n\r\n"
            )
            head = await client.reply(head=True)
            get = await client.reply()
        assert head.status == 200
        assert int(head.headers["content-length"]) > 0
        assert head.headers["content-type"] == "application/json"
        assert get.status == 200
        assert get.body.startswith(b'{"path":"/x"')


async def test_answer_without_content_carries_no_body() -> None:
    async def no_content(request: RawRequest) -> RawResponse:
        return RawResponse(204, b"ignored", ())

    with trio.fail_after(TIMEOUT):
        async with lean_server(no_content) as port, raw_client(port) as client:
            await client.send(post("/a", b"") + post("/b", b""))
            first, second = await client.reply(), await client.reply()
        assert (first.status, second.status) == (204, 204)
        assert "content-length" not in first.headers
        assert first.body == b""


async def test_connection_closes_after_max_requests_per_connection() -> None:
    with trio.fail_after(TIMEOUT):
        limits = LeanLimits(max_requests_per_connection=2)
        async with lean_server(Recorder(), limits) as port, raw_client(port) as client:
            await client.send(post("/a", b"1") + post("/b", b"2"))
            first, second = await client.reply(), await client.reply()
            assert "connection" not in first.headers
            assert second.headers["connection"] == "close"
            assert await client.at_eof()


# --- limits -----------------------------------------------------------------------------


async def test_header_block_over_the_limit_gets_431_and_close() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder, LeanLimits(max_header_bytes=1024)) as port:
            async with raw_client(port) as client:  # a whole header block, too big
                await client.send(post("/a", b"", "x-big: " + "a" * 2000))
                reply = await client.reply()
                assert (reply.status, reply.headers["connection"]) == (431, "close")
                assert await client.at_eof()
            async with raw_client(port) as client:  # a header block that never ends
                await client.send(b"POST /a HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * 4000)
                assert (await client.reply()).status == 431
                assert await client.at_eof()
        assert recorder.requests == []


async def test_declared_body_over_the_limit_gets_413_without_100_continue() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder, LeanLimits(max_body_bytes=100)) as port:
            async with raw_client(port) as client:
                await client.send(post("/a", b"", "expect: 100-continue", length=101))
                reply = await client.reply()
                assert (reply.status, reply.headers["connection"]) == (413, "close")
                assert await client.at_eof()
            async with raw_client(port) as client:  # body sent anyway: drained, not reset
                await client.send(post("/a", b"x" * 5000))
                assert (await client.reply()).status == 413
                assert await client.at_eof()
        assert recorder.requests == []


async def test_chunked_body_growing_over_the_limit_gets_413_and_close() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with (
            lean_server(recorder, LeanLimits(max_body_bytes=100)) as port,
            raw_client(port) as client,
        ):
            await client.send(b"POST /a HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
            await client.send((b"40\r\n" + b"x" * 64 + b"\r\n") * 3)
            reply = await client.reply()
            assert (reply.status, reply.headers["connection"]) == (413, "close")
            assert await client.at_eof()
        assert recorder.requests == []


async def test_malformed_request_gets_400_with_a_short_message_and_close() -> None:
    with trio.fail_after(TIMEOUT):
        async with lean_server(Recorder()) as port:
            for garbage in (
                b"NOT HTTP AT ALL\r\n\r\n",
                post("/a", b"", "content-length: x"),
                post("/a", b"0\r\n\r\n", "transfer-encoding: chunked"),  # two framings
            ):
                async with raw_client(port) as client:
                    await client.send(garbage)
                    reply = await client.reply()
                    assert (reply.status, reply.body) == (400, b"malformed request\n")
                    assert reply.headers["content-type"].startswith("text/plain")
                    assert await client.at_eof()


async def test_connect_is_refused_rather_than_tunnelled() -> None:
    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        async with lean_server(recorder) as port, raw_client(port) as client:
            await client.send(b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n")
            reply = await client.reply()
            assert (reply.status, reply.headers["connection"]) == (501, "close")
            assert await client.at_eof()
        assert recorder.requests == []


async def test_slow_loris_gets_408_after_read_timeout(
    loopback_clock: trio.testing.MockClock,
) -> None:
    async def trickle(client: RawClient) -> None:
        try:
            for byte in b"POST /a HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\nhi":
                await client.send(bytes([byte]))
                await trio.sleep(0.5)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    with trio.fail_after(TIMEOUT):
        recorder = Recorder()
        limits = LeanLimits(read_timeout=2, idle_timeout=5)
        async with lean_server(recorder, limits) as port, raw_client(port) as client:
            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trickle, client)
                reply = await client.reply()
                nursery.cancel_scope.cancel()
            assert (reply.status, reply.headers["connection"]) == (408, "close")
            assert 2 <= trio.current_time() - started < 3
        assert recorder.requests == []


async def test_idle_keep_alive_connection_is_closed_silently(
    loopback_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(TIMEOUT):
        limits = LeanLimits(read_timeout=1, idle_timeout=3)
        async with lean_server(Recorder(), limits) as port, raw_client(port) as client:
            await client.send(post("/a", b""))
            assert (await client.reply()).status == 200
            idle_from = trio.current_time()
            assert await client.at_eof()
            assert trio.current_time() - idle_from >= 3


async def test_peer_that_never_reads_its_answer_is_cut_after_idle_timeout(
    loopback_clock: trio.testing.MockClock,
) -> None:
    # an answer far larger than the kernel's socket buffers: writing it blocks until the
    # peer reads, and this peer never does
    big = b"x" * (32 * 1024 * 1024)

    async def handler(request: RawRequest) -> RawResponse:
        return RawResponse(200, big if request.path == "/big" else b"small")

    with trio.fail_after(TIMEOUT):
        limits = LeanLimits(read_timeout=1, idle_timeout=3, max_connections=1)
        async with lean_server(handler, limits) as port, raw_client(port) as stuck:
            await stuck.send(post("/big", b""))
            started = trio.current_time()
            await trio.sleep(2.5)
            async with raw_client(port) as second:  # the stuck one still holds the only slot
                await second.send(post("/a", b""))
                assert (await second.reply()).status == 503
            await trio.sleep(1)
            assert trio.current_time() - started >= 3
            async with raw_client(port) as third:  # cut after idle_timeout: its slot is free
                await third.send(post("/a", b""))
                assert (await third.reply()).body == b"small"


async def test_connections_over_the_cap_get_503_at_once() -> None:
    with trio.fail_after(TIMEOUT):
        async with lean_server(Recorder(), LeanLimits(max_connections=1)) as port:
            async with raw_client(port) as first:
                await first.send(post("/a", b""))
                assert (await first.reply()).status == 200
                async with raw_client(port) as second:
                    await second.send(post("/b", b""))
                    reply = await second.reply()
                    assert (reply.status, reply.headers["retry-after"]) == (503, "1")
                    assert reply.headers["connection"] == "close"
                    assert await second.at_eof()
            # the server sees `first` go: its close reaches the server through the kernel,
            # which may take a moment on a loaded machine (with no cushion, `third` came
            # while `first` still counted, and got 503)
            await trio.testing.wait_all_tasks_blocked(cushion=IDLE_BEFORE_JUMP)
            async with raw_client(port) as third:
                await third.send(post("/c", b""))
                assert (await third.reply()).status == 200


async def test_handler_exception_gets_500_is_logged_and_the_listener_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fragile(request: RawRequest) -> RawResponse:
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        return json_response(200, {"ok": True})

    with trio.fail_after(TIMEOUT), caplog.at_level(logging.ERROR, logger="pager.web.lean"):
        async with lean_server(fragile) as port, httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}"
            response = await client.post(f"{url}/boom", content=b"secret-payload")
            assert response.status_code == 500
            assert response.content == b'{"status":"error","message":"internal error"}'
            assert (await client.post(f"{url}/fine", content=b"{}")).status_code == 200
            async with raw_client(port) as other:
                await other.send(post("/fine", b""))
                assert (await other.reply()).status == 200
    [record] = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "secret-payload" not in caplog.text


async def test_answer_that_cannot_be_encoded_gets_500_and_close() -> None:
    async def bad_header(request: RawRequest) -> RawResponse:
        return RawResponse(200, b"{}", (("x-bad", "line\r\nbreak"),))

    with trio.fail_after(TIMEOUT):
        async with lean_server(bad_header) as port, raw_client(port) as client:
            await client.send(post("/a", b""))
            reply = await client.reply()
            assert (reply.status, reply.headers["connection"]) == (500, "close")
            assert await client.at_eof()


# --- shutdown ---------------------------------------------------------------------------


async def test_graceful_shutdown_lets_in_flight_requests_finish() -> None:
    entered, release, shutdown, returned = trio.Event(), trio.Event(), trio.Event(), trio.Event()

    async def slow(request: RawRequest) -> RawResponse:
        if request.path == "/slow":
            entered.set()
            await release.wait()
        return json_response(200, {"ok": True})

    async def run(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        await serve_lean(slow, "127.0.0.1", 0, shutdown=shutdown, task_status=task_status)
        returned.set()

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(run)
            async with raw_client(port) as idle, raw_client(port) as busy:
                await idle.send(post("/fast", b""))
                assert (await idle.reply()).status == 200
                await busy.send(post("/slow", b""))
                await entered.wait()
                shutdown.set()
                assert await idle.at_eof()  # idle keep-alive: closed at once
                with pytest.raises(OSError):  # no longer accepting
                    await trio.open_tcp_stream("127.0.0.1", port)
                await trio.testing.wait_all_tasks_blocked()
                assert not returned.is_set()  # still waiting for /slow
                release.set()
                reply = await busy.reply()
                assert (reply.status, reply.headers["connection"]) == (200, "close")
                assert await busy.at_eof()
            await returned.wait()


async def test_shutdown_cancels_requests_still_running_after_the_grace_period(
    loopback_clock: trio.testing.MockClock,
) -> None:
    entered, shutdown = trio.Event(), trio.Event()

    async def stuck(request: RawRequest) -> RawResponse:
        entered.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    with trio.fail_after(TIMEOUT):
        limits = LeanLimits(shutdown_grace=4)
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                partial(serve_lean, stuck, "127.0.0.1", 0, limits=limits, shutdown=shutdown)
            )
            async with raw_client(port) as client:
                await client.send(post("/stuck", b""))
                await entered.wait()
                shutdown.set()
                asked = trio.current_time()
                assert await client.at_eof()  # cancelled: closed without an answer
                assert trio.current_time() - asked >= 4
        # serve_lean returned on its own, or the nursery would still be waiting
