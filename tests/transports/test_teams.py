"""The Teams transport against the workflow-webhook stand-in over real HTTP: an Adaptive
Card 1.4 the stand-in's schema check accepts, with one Action.OpenUrl per link, and the
workflow's answers (202, a deleted workflow, 429, 5xx)."""

from __future__ import annotations

import pytest
import trio

from pager.config.models_channels import TeamsChannel
from pager.transports.base import DeliveryError, ProviderRejected, ProviderUnreachable
from pager.transports.teams import TeamsTransport

from ..standins.asgi import Fault
from ..standins.serve import served
from ..standins.teams import TeamsStandIn, card_problem
from .samples import PUBLIC_URL, SHORT_TIMEOUT, message


def transport() -> TeamsTransport:
    return TeamsTransport(TeamsChannel.model_validate({"timeout": SHORT_TIMEOUT}))


async def test_card_reaches_the_workflow_with_a_button_per_link() -> None:
    standin = TeamsStandIn()
    teams = transport()
    with trio.fail_after(10):
        async with served(standin) as base:
            sent = await teams.send(message("teams", f"{base}/workflows/alice"))
        await teams.aclose()
    assert sent.provider_id is None
    ((path, doc, _),) = standin.cards
    assert path == "/workflows/alice" and card_problem(doc) is None
    card = doc["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["text"] == "CRITICAL: db-1 disk full"
    assert "Incident #7 on Checkout API is triggered." in card["body"][1]["text"]
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Service"] == "Checkout API" and facts["Status"] == "triggered"
    assert [(a["type"], a["title"], a["url"]) for a in card["actions"]] == [
        ("Action.OpenUrl", "Acknowledge", f"{PUBLIC_URL}/a/tok-ack"),
        ("Action.OpenUrl", "Resolve", f"{PUBLIC_URL}/a/tok-res"),
        ("Action.OpenUrl", "Disk dashboard", "https://grafana.example.test/d/disk"),
    ]


async def test_a_status_update_without_links_is_still_a_valid_card() -> None:
    standin = TeamsStandIn()
    teams = transport()
    with trio.fail_after(10):
        async with served(standin) as base:
            status = message(
                "teams",
                f"{base}/channels/checkout",
                kind="status",
                topic="resolved",
                links={},
                user_id=None,
            )
            await teams.send(status)
        await teams.aclose()
    ((_, doc, _),) = standin.cards
    assert "(resolved)" in doc["attachments"][0]["content"]["body"][1]["text"]


@pytest.mark.parametrize(
    ("fault", "kind", "permanent", "retry_after"),
    [
        (
            Fault(status=404, body={"error": {"code": "WorkflowNotFound"}}),
            ProviderRejected,
            True,
            None,
        ),
        (Fault(status=400, body="bad card"), ProviderRejected, True, None),
        (Fault(status=429, headers={"Retry-After": "4"}), ProviderRejected, False, 4.0),
        (Fault(status=502), ProviderUnreachable, False, None),
        (Fault(drop=True), ProviderUnreachable, False, None),
    ],
    ids=["404", "400", "429", "502", "dropped"],
)
async def test_workflow_errors(
    fault: Fault, kind: type[DeliveryError], permanent: bool, retry_after: float | None
) -> None:
    standin = TeamsStandIn()
    standin.fail(fault)
    teams = transport()
    with trio.fail_after(10):
        async with served(standin) as base:
            with pytest.raises(kind) as e:
                await teams.send(message("teams", f"{base}/workflows/alice"))
        await teams.aclose()
    assert (e.value.permanent, e.value.retry_after) == (permanent, retry_after)


async def test_an_answer_that_echoes_the_workflow_url_keeps_its_signature_out() -> None:
    """The error of a failed post quotes the workflow's answer, and is journaled, logged and
    shown to every role: an answer that repeats the URL it was sent to (a gateway's "no
    workflow at ...") must not carry the URL's signature along."""
    standin = TeamsStandIn()
    teams = transport()
    with trio.fail_after(10):
        async with served(standin) as base:
            url = f"{base}/workflows/alice?api-version=1&sp=%2Ftriggers%2Frun&sig=S1G-s3cr3t%2Bx"
            standin.fail(Fault(status=404, body=f"no workflow at {url} (sig=S1G-s3cr3t+x)"))
            with pytest.raises(ProviderRejected) as e:
                await teams.send(message("teams", url))
        await teams.aclose()
    text = str(e.value)
    assert "404" in text and "no workflow at" in text and "/workflows/alice" in text
    assert "S1G-s3cr3t" not in text, text


async def test_an_answer_that_echoes_a_legacy_webhook_url_keeps_its_secret_path_out() -> None:
    """A legacy Teams connector URL carries its secret in the path
    (`/IncomingWebhook/SECRET/...`): an answer that repeats it, at any length, must not
    carry the secret, nor a piece of it where the quoted answer is cut."""
    standin = TeamsStandIn()
    teams = transport()
    secret = "0123456789abcdef0123456789abcdef"
    path = (
        "/webhookb2/11111111-2222-3333-4444-555555555555@66666666-7777-8888-9999-000000000000"
        f"/IncomingWebhook/{secret}/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    )
    with trio.fail_after(10):
        async with served(standin) as base:
            # the quote is cut at 200 characters: the first copy of the secret straddles it
            pad = "x" * (200 - len("no connector at ") - len(path) + len(secret) // 2 + 40)
            body = f"no connector at {pad}{path}; again: {path}"
            standin.fail(Fault(status=404, body=body))
            with pytest.raises(ProviderRejected) as e:
                await teams.send(message("teams", base + path))
        await teams.aclose()
    text = str(e.value)
    assert "404" in text and "IncomingWebhook" in text, text
    assert "0123456789abcdef" not in text and secret[:12] not in text, text
