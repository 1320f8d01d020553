"""Outgoing webhooks over real HTTP: the JSON document and its headers, and the signature
checked by the very snippet docs/webhooks.md gives receivers (read from the file and run),
which also refuses a changed body and an old timestamp."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from pager.config.models_channels import WebhookChannel
from pager.transports.base import ProviderRejected, ProviderUnreachable
from pager.transports.webhook import WebhookTransport

from ..standins.asgi import Fault
from ..standins.serve import served
from ..standins.teams import WebhookReceiver
from .samples import SHORT_TIMEOUT, message

SECRET = "whsec-0123456789"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify() -> Callable[..., bool]:
    """The `verify` function of the Python snippet in docs/webhooks.md."""
    snippets = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert snippets, "docs/webhooks.md has no python snippet"
    namespace: dict[str, Any] = {}
    exec(snippets[0], namespace)  # noqa: S102 - our own documentation
    verify: Callable[..., bool] = namespace["verify"]
    return verify


def transport(now: Callable[[], float] = time.time) -> WebhookTransport:
    cfg = WebhookChannel.model_validate({"secret": SECRET, "timeout": SHORT_TIMEOUT})
    return WebhookTransport(cfg, now=now)


async def test_payload_and_signature_verify_with_the_documented_snippet() -> None:
    verify = documented_verify()
    receiver = WebhookReceiver()
    hook = transport()
    with trio.fail_after(10):
        async with served(receiver) as base:
            sent = await hook.send(message("webhook", f"{base}/alice"))
        await hook.aclose()
    assert sent.provider_id is None
    (req,) = receiver.requests
    assert req.path == "/alice" and req.headers["content-type"] == "application/json"
    assert req.headers["x-pager-event"] == "incident.page"
    assert req.headers["x-pager-delivery"] == "inc-7-n1"
    doc = json.loads(req.body)
    assert doc["type"] == "incident.page"
    assert doc["incident"]["id"] == "inc-7" and doc["incident"]["title"] == "db-1 disk full"
    assert doc["notification"]["user"] == {"id": "alice", "name": "Alice Example"}
    assert doc["notification"]["links"]["acknowledge"].endswith("/a/tok-ack")
    header = req.headers["x-pager-signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(SECRET, header, req.body)
    assert not verify(SECRET, header, req.body.replace(b"db-1", b"db-2"))
    assert not verify("another-secret", header, req.body)
    assert not verify(SECRET, "v1=abc", req.body)


async def test_an_old_signature_is_refused_by_the_snippet() -> None:
    verify = documented_verify()
    receiver = WebhookReceiver()
    hook = transport(now=lambda: time.time() - 3600)
    with trio.fail_after(10):
        async with served(receiver) as base:
            await hook.send(message("webhook", f"{base}/alice", kind="status", topic="resolved"))
        await hook.aclose()
    (req,) = receiver.requests
    assert json.loads(req.body)["type"] == "incident.status"
    assert not verify(SECRET, req.headers["x-pager-signature"], req.body)


@pytest.mark.parametrize(
    ("fault", "kind", "permanent"),
    [
        (Fault(status=410), ProviderRejected, True),
        (Fault(status=400), ProviderRejected, True),
        (Fault(status=429, headers={"Retry-After": "2"}), ProviderRejected, False),
        (Fault(status=502), ProviderUnreachable, False),
        (Fault(delay=3), ProviderUnreachable, False),
    ],
    ids=["410", "400", "429", "502", "timeout"],
)
async def test_receiver_errors(fault: Fault, kind: type[Exception], permanent: bool) -> None:
    receiver = WebhookReceiver()
    receiver.fail(fault)
    hook = transport()
    with trio.fail_after(10):
        async with served(receiver) as base:
            with pytest.raises(kind) as e:
                await hook.send(message("webhook", f"{base}/alice"))
        await hook.aclose()
    assert getattr(e.value, "permanent", None) is permanent
