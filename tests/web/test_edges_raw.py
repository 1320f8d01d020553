"""Hostile HTTP over raw sockets against both real listeners on 127.0.0.1 (port 0): request
smuggling (Content-Length with Transfer-Encoding), oversized header blocks, HTTP/2 upgrades,
slow bodies and the connection cap. Every test has an absolute `trio.fail_after`; the
timeouts under test are set short (1 s) since real sockets cannot run on a mock clock.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from pager.config import Config, load_config_text
from pager.service import Running

from ..harness import TOKEN, config_text, running_pager

PUBLIC_URL_LINE = "  public_url: http://pager.test\n"
SMUGGLE = (
    b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
    b"\r\n0\r\n\r\nPOST /integrations/generic/gen-checkout HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: 38\r\n\r\n"
    b'{"title":"SMUGGLED","dedup_key":"smg"}'
)


def config(tmp_path: Path, **server: str) -> Config:
    """The shared test configuration with more `server` settings (YAML values)."""
    lines = "".join(f"  {key}: {value}\n" for key, value in server.items())
    text = config_text(tmp_path / "data").replace(PUBLIC_URL_LINE, PUBLIC_URL_LINE + lines, 1)
    return load_config_text(text, source="tests/web/test_edges_raw.py")


def address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    return host, int(port)


async def exchange(url: str, payload: bytes, *, pause: float = 0.0) -> bytes:
    """Send `payload` on a fresh connection and read until the server closes it."""
    stream = await trio.open_tcp_stream(*address(url))
    async with stream:
        await stream.send_all(payload)
        if pause:
            await trio.sleep(pause)
        received = b""
        try:
            while chunk := await stream.receive_some(65536):
                received += chunk
        except trio.BrokenResourceError:
            pass
        return received


async def answer_head(url: str, payload: bytes) -> bytes:
    """Send `payload` on a fresh connection and read the head of the answer."""
    stream = await trio.open_tcp_stream(*address(url))
    async with stream:
        await stream.send_all(payload)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = await stream.receive_some(65536)
            assert chunk, received
            received += chunk
        return received


def titles(run: Running) -> list[str]:
    return [inc.title for inc in run.system.state.newest_first()]


async def test_a_smuggled_request_is_never_run_on_either_port(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with running_pager(config(tmp_path)) as run:
            for url in (run.urls[0], run.ingest_url):
                assert url is not None
                answer = await exchange(url, SMUGGLE)
                assert answer.startswith(b"HTTP/1.1 400 "), answer
                assert answer.count(b"HTTP/1.1") == 1, answer  # closed: no second answer
            # a request after it is run, so the smuggled one would have been by now
            async with httpx.AsyncClient(base_url=run.urls[0]) as client:
                r = await client.post(
                    "/integrations/generic/gen-checkout", json={"title": "honest"}
                )
            assert r.status_code == 202
            assert titles(run) == ["honest"]


async def test_the_main_port_caps_the_header_block(tmp_path: Path) -> None:
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(10_000))
    big = b"x-big: " + b"a" * 12_000 + b"\r\nx-big2: " + b"a" * 12_000 + b"\r\n"
    with trio.fail_after(20):
        async with running_pager(config(tmp_path)) as run:
            url = run.urls[0]
            for extra in (many, b"".join(b"x-h%d: v\r\n" % i for i in range(101)), big):
                answer = await exchange(
                    url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"
                )
                assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
            fine = b"".join(b"x-h%d: v\r\n" % i for i in range(50))
            answer = await answer_head(
                url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fine + b"\r\n"
            )
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


H2C_UPGRADE = (
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


async def test_http2_is_refused_on_the_main_port_unless_configured(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with running_pager(config(tmp_path)) as run:
            answer = await answer_head(run.urls[0], H2C_UPGRADE)
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]  # served as HTTP/1.1
            answer = await exchange(run.urls[0], PREFACE)
            assert answer.startswith(b"HTTP/1.1 505 "), answer[:200]
    with trio.fail_after(20):
        async with running_pager(config(tmp_path, http2="true")) as run:
            stream = await trio.open_tcp_stream(*address(run.urls[0]))
            async with stream:
                await stream.send_all(PREFACE)
                first = await stream.receive_some(65536)
            assert first[3:4] == b"\x04", first  # an HTTP/2 SETTINGS frame


@pytest.mark.parametrize("port", ["main", "ingest"])
async def test_a_slow_body_is_cut_after_read_timeout(tmp_path: Path, port: str) -> None:
    head = (
        b"POST /integrations/generic/gen-checkout HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with trio.fail_after(20):
        async with running_pager(config(tmp_path, read_timeout="1s")) as run:
            url = run.urls[0] if port == "main" else run.ingest_url
            assert url is not None
            stream = await trio.open_tcp_stream(*address(url))
            async with stream:
                await stream.send_all(head)
                started = trio.current_time()
                # one byte every 0.3 s: no single read waits long, the request as a whole does
                with trio.move_on_after(8):
                    try:
                        while True:
                            await stream.send_all(b" ")
                            with trio.move_on_after(0.3):
                                if not await stream.receive_some(65536):
                                    break
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
                took = trio.current_time() - started
            assert 0.9 < took < 4, took
            assert titles(run) == []


def websocket_upgrade() -> bytes:
    return (
        b"GET /api/v1/stream?since=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n" % TOKEN.encode()
    )


async def test_at_the_cap_a_new_client_displaces_the_oldest_slow_peer(tmp_path: Path) -> None:
    slow = (
        b"POST /integrations/generic/gen-checkout HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    with trio.fail_after(20):
        async with running_pager(config(tmp_path, max_connections="3")) as run:
            host, port = address(run.urls[0])
            held = []
            for _ in range(3):
                stream = await trio.open_tcp_stream(host, port)
                await stream.send_all(slow)
                held.append(stream)
                await trio.sleep(0.05)  # accepted in this order
            try:
                answer = await answer_head(run.urls[0], b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
                assert await held[0].receive_some(65536) == b""  # the oldest was closed
            finally:
                for stream in held:
                    await stream.aclose()


async def test_the_main_port_caps_its_connections(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with running_pager(config(tmp_path, max_connections="3")) as run:
            # websockets are never displaced: three of them fill the listener
            held = []
            for _ in range(3):
                stream = await trio.open_tcp_stream(*address(run.urls[0]))
                await stream.send_all(websocket_upgrade())
                head = b""
                while b"\r\n\r\n" not in head:
                    head += await stream.receive_some(65536)
                assert head.startswith(b"HTTP/1.1 101 "), head
                held.append(stream)
            try:
                answer = await exchange(run.urls[0], b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
                assert b"retry-after: 1" in answer.lower()
            finally:
                for stream in held:
                    await stream.aclose()
            await trio.sleep(0.2)  # the listener sees them go
            answer = await answer_head(run.urls[0], b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


LENGTHS = st.tuples(
    st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"]),
    st.sampled_from(["5", "0", "38", " 5", "5, 5", "+5", "05"]),
)
ENCODINGS = st.tuples(
    st.sampled_from(["Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"]),
    st.sampled_from(
        ["chunked", "Chunked", " chunked", "chunked ", "chunked, chunked", "gzip, chunked"]
    ),
)
BODIES = st.sampled_from([b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n", b"hello", b""])


@st.composite
def two_framings(draw: st.DrawFn) -> tuple[str, bytes]:
    """A request with Content-Length and Transfer-Encoding (in any spelling, order and
    number), then a second request that must never run."""
    headers = [draw(LENGTHS), draw(ENCODINGS)]
    headers += draw(st.lists(LENGTHS | ENCODINGS, max_size=2))
    headers = draw(st.permutations(headers))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    smuggled = b'{"title":"SMUGGLED","dedup_key":"smg"}'
    payload = (
        f"POST /integrations/generic/gen-payments HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode()
        + draw(BODIES)
        + b"POST /integrations/generic/gen-checkout HTTP/1.1\r\nHost: x\r\n"
        + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (len(smuggled), smuggled)
    )
    return draw(st.sampled_from(["main", "ingest"])), payload


async def test_no_spelling_of_two_framings_runs_a_second_request(tmp_path: Path) -> None:
    """The hooks fuzz test's pattern over raw sockets: hypothesis in a worker thread, each
    example sent into trio's loop, pager started once."""
    with trio.fail_after(120):
        async with running_pager(config(tmp_path)) as run:
            ports = {"main": run.urls[0], "ingest": run.ingest_url or ""}

            async def send(port: str, payload: bytes) -> bytes:
                with trio.fail_after(10):
                    return await exchange(ports[port], payload)

            @settings(max_examples=80, deadline=None, database=None, derandomize=True)
            @given(two_framings())
            def refused(example: tuple[str, bytes]) -> None:
                answer = trio.from_thread.run(send, *example)
                assert re.match(rb"HTTP/1\.1 (400|501) ", answer), (example, answer[:200])
                assert answer.count(b"HTTP/1.1 ") == 1, (example, answer)

            await trio.to_thread.run_sync(refused)
            assert titles(run) == []


async def test_a_percent_encoded_key_means_the_same_on_both_ports(tmp_path: Path) -> None:
    """`{key}` is percent-decoded on the lean listener as on the main port."""
    with trio.fail_after(20):
        async with running_pager(config(tmp_path)) as run:
            assert run.ingest_url is not None
            for n, url in enumerate((run.urls[0], run.ingest_url)):
                async with httpx.AsyncClient(base_url=url) as client:
                    r = await client.post(
                        "/integrations/generic/gen%2Dcheckout", json={"title": f"encoded {n}"}
                    )
                assert r.status_code == 202, (url, r.text)
            assert sorted(titles(run)) == ["encoded 0", "encoded 1"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_body_over_the_limit_is_413_and_the_connection_closes(
    tmp_path: Path, framing: str
) -> None:
    """A body over 4 MiB is refused with a 413 that says the limit, and the connection is
    closed, as the answer says: a keep-alive client must not send its next request on a
    connection the server is about to drop (it would fail without an answer)."""
    over = 4 * 1024 * 1024 + 1
    head = b"POST /integrations/generic/gen-checkout HTTP/1.1\r\nHost: x\r\n"
    head += b"Content-Type: application/json\r\n"
    if framing == "content-length":
        payload = head + b"Content-Length: %d\r\n\r\n" % over + b"{" * 1000
    else:
        chunk = b"%x\r\n" % over + b" " * over + b"\r\n0\r\n\r\n"
        payload = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunk
    with trio.fail_after(30):
        async with running_pager(config(tmp_path)) as run:
            for url in (run.urls[0], run.ingest_url):
                assert url is not None
                stream = await trio.open_tcp_stream(*address(url))
                async with stream:
                    with contextlib.suppress(trio.BrokenResourceError):
                        await stream.send_all(payload)
                    answer = b""
                    with contextlib.suppress(trio.BrokenResourceError):
                        while chunk := await stream.receive_some(65536):
                            answer += chunk
                head_block, _, body = answer.partition(b"\r\n\r\n")
                assert head_block.startswith(b"HTTP/1.1 413 "), (url, answer[:300])
                assert b"\r\nconnection: close" in head_block.lower(), (url, head_block)
                assert b"4194304 bytes" in body, (url, body)
            assert titles(run) == []


async def test_an_answer_given_from_the_headers_alone_keeps_the_connection(
    tmp_path: Path,
) -> None:
    """A request refused on its headers (a bad token: 403) is answered after its body has
    arrived, so the connection is whole and a keep-alive client's next request on it is
    served. (It was answered at once, hypercorn then dropped the connection without saying
    so, and the client's next request, already on its way, failed without an answer: about
    one in seventy here, with httpx sending a request's head and body in two writes.) The
    client runs in a thread, as a client in another process would, not between the
    server's steps on the same event loop."""

    def keep_asking(base: str) -> list[int]:
        headers = {"Authorization": "Bearer not-a-token"}
        with httpx.Client(base_url=base, timeout=10) as client:
            answers = []
            for _ in range(900):  # hypercorn closes a connection after 1000 requests
                r = client.post("/api/v1/heartbeats", headers=headers, json={"n": 1})
                assert r.headers.get("connection") != "close", r.headers
                answers.append(r.status_code)
            return answers

    with trio.fail_after(60):
        async with running_pager(config(tmp_path)) as run:
            statuses = await trio.to_thread.run_sync(keep_asking, run.urls[0])
            assert set(statuses) == {403}
