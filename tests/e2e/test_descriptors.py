"""A connection flood on the main port of a `pager serve` process whose open-files limit is
low (256, soft and hard, set in the child before it starts): the listeners cap their
connections and keep descriptors in reserve, so the flood costs the attacker closed
connections while a page still reaches its webhook stand-in, the ingest listener still
answers, and a normal client of the main port is served (it displaces the oldest slow
peer)."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

import httpx
import trio

from ..standins.serve import served
from ..standins.teams import WebhookReceiver
from .service import PagerProcess

LIMIT = 256
FLOOD = 300

CONFIG = """
server:
  listen: 127.0.0.1:0
  ingest_listen: 127.0.0.1:0
  public_url: http://pager.test
data_dir: {data_dir}
auth:
  api_tokens: [{{name: ops, token: test-token-0123456789}}]
users:
  - id: alice
    contacts: {{webhook: "{hooks}/alice"}}
    notification_rules: [{{after: 0m, via: webhook}}]
escalation_policies:
  - id: default
    levels:
      - targets: [{{user: alice}}]
        escalate_after: 5m
services:
  - id: checkout
    escalation_policy: default
    integrations: [{{type: generic, key: gen-checkout}}]
channels:
  webhook: {{secret: whsec-test-0123456789}}
"""

SLOW_HEAD = (
    b"POST /integrations/generic/gen-checkout HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
)


def low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rpartition(":")
    return host, int(port)


async def test_a_flood_on_the_main_port_does_not_silence_paging(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    log = tmp_path / "pager.log"
    with trio.fail_after(60):
        async with served(receiver) as hooks:
            path = tmp_path / "pager.yaml"
            path.write_text(CONFIG.format(data_dir=tmp_path / "data", hooks=hooks))
            pager = PagerProcess(path, log, preexec_fn=low_limit)
            await pager.start()
            assert pager.ingest_url is not None
            flood: list[trio.SocketStream] = []
            try:
                host, port = address(pager.url)
                for _ in range(FLOOD):  # slow bodies: each holds its connection
                    stream = await trio.open_tcp_stream(host, port)
                    flood.append(stream)
                    with contextlib.suppress(trio.BrokenResourceError):
                        await stream.send_all(SLOW_HEAD)  # may be closed at once: over the cap
                await trio.sleep(0.5)  # let the listener accept (or refuse) them all
                async with httpx.AsyncClient(timeout=5) as client:
                    r = await client.post(
                        f"{pager.ingest_url}/integrations/generic/gen-checkout",
                        json={"title": "disk full", "dedup_key": "disk"},
                    )
                    assert r.status_code == 202, r.text
                    while not receiver.accepted:  # the page reaches its stand-in
                        await trio.sleep(0.05)
                    # and the main port serves a normal client: it displaces a slow peer
                    r = await client.get(f"{pager.url}/healthz")
                    assert r.status_code == 200, r.text
            finally:
                for stream in flood:
                    await stream.aclose()
                await pager.stop()
    text = log.read_text()
    assert text.count("Too many open files") <= 2, text[-3000:]
    (page,) = receiver.accepted
    assert page.path == "/alice"
