"""A real SMTP server for the email tests: aiosmtpd (it runs its own asyncio loop in a
thread) on 127.0.0.1 with STARTTLS required, AUTH required after it, and a self-signed
certificate made with the `openssl` command. The handler stores every message it accepts,
and can be told to refuse a recipient (550) or to drop the connection."""

from __future__ import annotations

import email
import email.policy
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session

__all__ = ["MailServer", "Mailbox", "ReceivedMail", "self_signed", "smtp_server"]

USER, PASSWORD = "pager", "smtp-secret"


def self_signed(folder: Path, dns: str = "localhost") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and `dns`, and its key (EC P-256: fast to make)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the email tests need the openssl command")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            f"subjectAltName=IP:127.0.0.1,DNS:{dns}",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool
    tls: bool


class Mailbox:
    """The aiosmtpd handler: stores what it accepts; `refuse` maps a recipient to an SMTP
    reply for RCPT; `drop` closes the next `drop` connections at MAIL FROM."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.refuse: dict[str, str] = {}
        self.drop = 0
        self.dropped = 0
        self.implicit_tls = False

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.drop > 0:
            self.drop -= 1
            self.dropped += 1
            server.transport.abort()
            return "421 4.3.0 closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(
            ReceivedMail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                msg,
                bool(session.authenticated),
                self.implicit_tls or session.ssl is not None,
            )
        )
        return "250 2.0.0 Message accepted for delivery"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


class _Session(Session):
    """aiosmtpd sets its own deprecated `login_data` on every successful AUTH, and its
    DeprecationWarning (an error under our warning filter) would fail the login."""

    @property  # type: ignore[override]
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SMTP(SMTP):
    def __init__(self, handler: Any, *, implicit_tls: bool = False, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if implicit_tls:  # the whole connection is TLS: AUTH may go (aiosmtpd cannot tell)
            self._auth_require_tls = False

    def _create_session(self) -> Session:
        return _Session(self.loop)


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: the port is read back once the server is bound."""

    def factory(self) -> SMTP:
        return _SMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class MailServer:
    host: str
    port: int
    mailbox: Mailbox
    ca_file: Path


@contextmanager
def smtp_server(cert: Path, key: Path, *, implicit_tls: bool = False) -> Iterator[MailServer]:
    """A running server: STARTTLS (or TLS from the first byte) and AUTH both required."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    mailbox = Mailbox()
    mailbox.implicit_tls = implicit_tls
    tls: dict[str, Any] = (
        {"ssl_context": ctx, "implicit_tls": True}
        if implicit_tls
        else {"tls_context": ctx, "require_starttls": True}
    )
    controller = _Controller(
        mailbox,
        hostname="127.0.0.1",
        port=0,
        authenticator=_authenticate,
        auth_required=True,
        ready_timeout=10,
        **tls,
    )
    controller.start()
    try:
        yield MailServer("127.0.0.1", controller.port, mailbox, cert)
    finally:
        controller.stop()
