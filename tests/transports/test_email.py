"""The email transport against a real SMTP server (aiosmtpd, STARTTLS and AUTH required,
a self-signed certificate trusted through `ca_file`): both parts, the threading headers of
two mails of one incident, implicit TLS, and each way the server can say no or go away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from pager.config.models_channels import EmailChannel
from pager.transports.base import ProviderRejected, ProviderUnreachable
from pager.transports.email import EmailTransport, mail_host

from ..standins.serve import closed_port
from ..standins.smtp import PASSWORD, USER, MailServer, smtp_server
from .samples import PUBLIC_URL, incident, message

ALICE = "alice@example.com"


def email_transport(
    server: MailServer | None, port: int | None = None, **changes: Any
) -> EmailTransport:
    cfg = EmailChannel.model_validate(
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port or (server.port if server else 25),
            "username": USER,
            "password": PASSWORD,
            "from": "pager <pager@example.com>",
            "ca_file": str(server.ca_file) if server else None,
            "timeout": "5s",
            **changes,
        }
    )
    return EmailTransport(cfg, public_url=PUBLIC_URL)


async def test_two_mails_of_one_incident_thread_together(certificate: tuple[Path, Path]) -> None:
    with smtp_server(*certificate) as server, trio.fail_after(10):
        transport = email_transport(server)
        first = await transport.send(message("email", ALICE))
        later = message("email", ALICE, notification_id="inc-7-n4", attempt=1)
        second = await transport.send(later)
    assert first.provider_id == "<inc-7-n1@pager.example.test>"
    assert second.provider_id == "<inc-7-n4@pager.example.test>"
    one, two = server.mailbox.received
    assert one.tls and one.authenticated
    assert (one.mail_from, one.rcpt_tos) == ("pager@example.com", [ALICE])
    for mail, nid in ((one.message, "inc-7-n1"), (two.message, "inc-7-n4")):
        assert mail["Message-ID"] == f"<{nid}@pager.example.test>"
        assert mail["In-Reply-To"] == "<inc-7@pager.example.test>"
        assert mail["References"] == "<inc-7@pager.example.test>"
        assert mail["Subject"] == "[pager] #7 db-1 disk full (Checkout API)"
        assert mail["To"] == ALICE and mail["Auto-Submitted"] == "auto-generated"
    mail = one.message
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    plain, markup = text.get_content(), html.get_content()
    for part in (plain, markup):
        assert "db-1 disk full" in part and "Checkout API" in part
        assert f"{PUBLIC_URL}/a/tok-ack" in part and f"{PUBLIC_URL}/a/tok-res" in part
        assert "https://grafana.example.test/d/disk" in part
    assert f'<a href="{PUBLIC_URL}/a/tok-ack">Acknowledge</a>' in markup


async def test_html_part_escapes_what_the_alert_says(certificate: tuple[Path, Path]) -> None:
    with smtp_server(*certificate) as server, trio.fail_after(10):
        nasty = incident(title="<script>alert(1)</script> & more")
        await email_transport(server).send(message("email", ALICE, incident=nasty))
    html = server.mailbox.received[0].message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert (
        "<script>" not in content and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in content
    )


async def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    with smtp_server(*certificate, implicit_tls=True) as server, trio.fail_after(10):
        await email_transport(server, ssl=True).send(message("email", ALICE))
    (mail,) = server.mailbox.received
    assert mail.tls and mail.authenticated


@pytest.mark.parametrize(
    ("reply", "kind", "permanent"),
    [
        ("550 5.1.1 No such user", ProviderRejected, True),
        ("551 5.1.6 User not local", ProviderRejected, True),
        ("553 5.1.3 Bad address syntax", ProviderRejected, True),
        ("450 4.2.1 Mailbox busy, try later", ProviderUnreachable, False),
    ],
    ids=["550", "551", "553", "450"],
)
async def test_recipient_refused(
    reply: str, kind: type[Exception], permanent: bool, certificate: tuple[Path, Path]
) -> None:
    with smtp_server(*certificate) as server, trio.fail_after(10):
        server.mailbox.refuse[ALICE] = reply
        with pytest.raises(kind, match=reply.split()[0]) as e:
            await email_transport(server).send(message("email", ALICE))
    assert getattr(e.value, "permanent", None) is permanent


async def test_dropped_connection_is_unreachable(certificate: tuple[Path, Path]) -> None:
    with smtp_server(*certificate) as server, trio.fail_after(10):
        server.mailbox.drop = 1
        with pytest.raises(ProviderUnreachable, match="dropped") as e:
            await email_transport(server).send(message("email", ALICE))
        assert not e.value.permanent and server.mailbox.dropped == 1
        await email_transport(server).send(message("email", ALICE))  # the next one passes
    assert len(server.mailbox.received) == 1


async def test_wrong_password_is_permanent(certificate: tuple[Path, Path]) -> None:
    with (
        smtp_server(*certificate) as server,
        trio.fail_after(10),
        pytest.raises(ProviderRejected, match="authentication") as e,
    ):
        await email_transport(server, password="wrong").send(message("email", ALICE))
    assert e.value.permanent and server.mailbox.received == []


async def test_untrusted_certificate_is_not_accepted(certificate: tuple[Path, Path]) -> None:
    with (
        smtp_server(*certificate) as server,
        trio.fail_after(10),
        pytest.raises(ProviderUnreachable, match="TLS"),
    ):
        await email_transport(server, ca_file=None).send(message("email", ALICE))
    assert server.mailbox.received == []


async def test_connection_refused_is_unreachable() -> None:
    with trio.fail_after(10), pytest.raises(ProviderUnreachable):
        await email_transport(None, port=closed_port(), ca_file=None).send(message("email", ALICE))


def test_message_id_host() -> None:
    assert mail_host("https://pager.example.com", "pager@mail.example.com") == "pager.example.com"
    assert mail_host("http://127.0.0.1:8080", "pager <pager@example.org>") == "example.org"
    assert mail_host("http://localhost:8080", "pager@example.org") == "example.org"
