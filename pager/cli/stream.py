"""`pager stream`: print every journaled event from a running pager's websocket stream, one
JSON line each (`--since N` replays from record N; `--limit` stops after that many)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import trio

__all__ = ["add_stream"]


async def _stream(url: str, token: str, since: int | None, limit: int | None) -> None:
    from trio_websocket import open_websocket_url

    ws_url = url.rstrip("/").replace("http", "ws", 1) + "/api/v1/stream"
    if since is not None:
        ws_url += f"?since={since}"
    headers = [(b"Authorization", f"Bearer {token}".encode())]
    async with open_websocket_url(ws_url, extra_headers=headers) as ws:
        seen = 0
        while limit is None or seen < limit:
            message = await ws.get_message()
            text = message if isinstance(message, str) else message.decode()
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            seen += 1


def cmd_stream(args: argparse.Namespace) -> int:
    from trio_websocket import ConnectionClosed, HandshakeError

    token = args.token or os.environ.get("PAGER_TOKEN")
    if not token:
        raise SystemExit("pager stream: an API token is needed (--token or $PAGER_TOKEN)")
    url = args.url or os.environ.get("PAGER_URL") or "http://127.0.0.1:8080"
    try:
        trio.run(_stream, url, token, args.since, args.limit)
    except HandshakeError as e:
        raise SystemExit(f"pager stream: {url} refused the stream: {e}") from None
    except ConnectionClosed as e:
        raise SystemExit(f"pager stream: the stream closed: {e.reason}") from None
    except OSError as e:
        raise SystemExit(f"pager stream: cannot reach {url}: {e.strerror or e}") from None
    return 0


def add_stream(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser(
        "stream", parents=[common], help="print every journaled event as it happens (websocket)"
    )
    s.add_argument(
        "--url", help="pager's base URL (default: $PAGER_URL, else http://127.0.0.1:8080)"
    )
    s.add_argument("--token", help="an API token (default: $PAGER_TOKEN)")
    s.add_argument("--since", type=int, metavar="SEQ", help="start at this record (1: all)")
    s.add_argument("--limit", type=int, metavar="N", help="stop after N events")
    s.set_defaults(func=cmd_stream)
