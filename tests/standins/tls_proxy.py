"""A CONNECT proxy that ends TLS itself and forwards the plain bytes to pager: for a sender
whose URL cannot be changed (Alertmanager sends PagerDuty v1 events to
https://events.pagerduty.com only). The sender trusts the proxy's certificate through its own
CA setting; nothing else on the machine changes."""

from __future__ import annotations

import ssl
from pathlib import Path

import trio

__all__ = ["serve_tls_proxy"]


async def serve_tls_proxy(
    cert: Path,
    key: Path,
    upstream_port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on 127.0.0.1 (a free port, handed to `task_status`); each CONNECT is answered
    200, its TLS ended with `cert`, and its bytes piped to 127.0.0.1:`upstream_port`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])

    async def handle(client: trio.SocketStream) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await client.receive_some(4096)
            if not chunk or len(head) > 16384:
                await client.aclose()
                return
            head += chunk
        if not head.startswith(b"CONNECT "):
            await client.send_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            await client.aclose()
            return
        await client.send_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        tls = trio.SSLStream(client, context, server_side=True)
        upstream = await trio.open_tcp_stream("127.0.0.1", upstream_port)

        async def pipe(src: trio.abc.Stream, dst: trio.abc.Stream) -> None:
            try:
                while data := await src.receive_some(65536):
                    await dst.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                with trio.move_on_after(1) as cleanup:
                    cleanup.shield = True
                    await dst.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pipe, tls, upstream)
            nursery.start_soon(pipe, upstream, tls)

    await trio.serve_listeners(handle, listeners)
