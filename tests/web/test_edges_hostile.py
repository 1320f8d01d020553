"""The raw-socket cases of issue 17 on both real listeners (the main port and the lean ingest
listener) at once: each hostile request is refused with a 4xx (or 505) and the connection
closed, a valid alert hidden after it is never run, and nothing is journaled. It extends
test_edges_raw.py (CL+TE smuggling, header caps, slow bodies, the connection cap) with the
framings and header spellings RFC 9112 says a server must refuse.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from ..harness import running_pager
from .test_edges_raw import config, exchange

ALERT = b'{"title":"SMUGGLED","dedup_key":"smg"}'
INGEST = b"POST /integrations/generic/gen-checkout HTTP/1.1\r\n"
TAIL = (INGEST + b"Host: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s") % (
    len(ALERT),
    ALERT,
)


def _head(*lines: bytes, eol: bytes = b"\r\n") -> bytes:
    return INGEST + b"".join(line + eol for line in (b"Host: x", *lines)) + eol


# name: the request (a valid ingest request follows each one on the same connection)
HOSTILE: dict[str, bytes] = {
    "CL+TE": _head(
        b"Content-Type: application/json", b"Content-Length: 5", b"Transfer-Encoding: chunked"
    )
    + b"0\r\n\r\n",
    "TE+CL": _head(
        b"Content-Type: application/json", b"Transfer-Encoding: chunked", b"Content-Length: 5"
    )
    + b"0\r\n\r\n",
    "two Content-Lengths": _head(
        b"Content-Type: application/json", b"Content-Length: 38", b"Content-Length: 0"
    ),
    "Content-Length list": _head(b"Content-Type: application/json", b"Content-Length: 0, 38"),
    "Content-Length sign": _head(b"Content-Type: application/json", b"Content-Length: +38"),
    "Transfer-Encoding not chunked": _head(
        b"Content-Type: application/json", b"Transfer-Encoding: gzip"
    ),
    "chunked twice": _head(
        b"Content-Type: application/json", b"Transfer-Encoding: chunked, chunked"
    )
    + b"0\r\n\r\n",
    "obs-fold": _head(
        b"Content-Type: application/json", b"X-Folded: a", b" b", b"Content-Length: 0"
    ),
    "bare LF": _head(b"Content-Type: application/json", b"Content-Length: 0", eol=b"\n"),
    "NUL in a header": _head(
        b"Content-Type: application/json", b"X-Nul: a\x00b", b"Content-Length: 0"
    ),
    "space before the colon": _head(b"Content-Type: application/json", b"Content-Length : 0"),
    "invalid chunk size": _head(b"Content-Type: application/json", b"Transfer-Encoding: chunked")
    + b"zz\r\n"
    + ALERT
    + b"\r\n0\r\n\r\n",
    "negative chunk size": _head(b"Content-Type: application/json", b"Transfer-Encoding: chunked")
    + b"-1\r\n\r\n0\r\n\r\n",
    "huge chunk size": _head(b"Content-Type: application/json", b"Transfer-Encoding: chunked")
    + b"f" * 40
    + b"\r\n"
    + ALERT,
    "header block over 16 KiB": _head(b"X-Big: " + b"a" * 17_000, b"Content-Length: 0"),
    "10,000 headers": _head(*(b"x-h%d: v" % i for i in range(10_000)), b"Content-Length: 0"),
    "HTTP/2 prior knowledge": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}
LISTENERS = ("main", "ingest")


async def test_every_hostile_request_is_refused_and_closed_on_both_ports(
    tmp_path: Path,
) -> None:
    """One pager for all the cases (each would cost a start-up); every failure is listed."""
    wrong = []
    with trio.fail_after(60):
        async with running_pager(config(tmp_path)) as run:
            seq = run.system.state.last_seq
            for name, request in HOSTILE.items():
                for port in LISTENERS:
                    url = run.urls[0] if port == "main" else run.ingest_url
                    assert url is not None
                    answer = await exchange(url, request + TAIL)
                    status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0
                    # 501 is RFC 9112's answer to a transfer coding it does not implement
                    refused = 400 <= status < 500 or status in (501, 505)
                    # one answer, then closed: the alert after it is never read as a request
                    if not refused or answer.count(b"HTTP/1.1 ") != 1:
                        wrong.append((name, port, answer[:300]))
            # an honest request after them all: the listeners still serve
            async with httpx.AsyncClient(base_url=run.urls[0]) as client:
                r = await client.get("/healthz")
            assert r.status_code == 200
            journaled = run.system.state.last_seq - seq
            titles = [inc.title for inc in run.system.state.newest_first()]
    assert not wrong, wrong
    assert journaled == 0 and titles == [], (journaled, titles)
