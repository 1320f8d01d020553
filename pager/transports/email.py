"""Email over SMTP: STARTTLS (or TLS from the first byte with `ssl: true`), AUTH when a
username and password are set, a plain-text and an HTML part, and headers that thread one
incident's mails together (the subject without control characters, `header_text`: no NUL,
CR or LF reaches a header): `Message-ID: <{notification_id}@{host}>`, `In-Reply-To` and
`References: <{incident_id}@{host}>` (host: the public URL's, or the From address's domain).

The standard library's `smtplib` runs in a worker thread (`trio.to_thread.run_sync`): no
trio SMTP client is well kept today, and smtplib is. The delivery actor's timeout abandons a
stuck thread; smtplib's own socket timeout (the channel's `timeout`) then ends it.

Errors: a 5xx refusal (550/551/553 on RCPT, a refused sender or message, failed AUTH, no
STARTTLS offered) is permanent; 4xx, a dropped connection, a timeout or a TLS failure are
the provider being unreachable, and retried.
"""

from __future__ import annotations

import ipaddress
import secrets
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import urlsplit

import trio

from pager.config.models_channels import EmailChannel
from pager.core.text import clean_text, header_text

from .base import DeliveryError, Message, ProviderRejected, ProviderUnreachable, Sent, Transport
from .templates import Renderer, template_context

__all__ = ["EmailTransport", "mail_host", "smtp_error"]


def mail_host(public_url: str, sender: str) -> str:
    """The domain of Message-IDs: pager's public host name, or the sender's domain when the
    public URL is an IP address or localhost."""
    host = urlsplit(public_url).hostname or ""
    try:
        ipaddress.ip_address(host)
        host = ""
    except ValueError:
        pass
    if host and host != "localhost":
        return host
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain or "pager.invalid"


def _code_error(code: int, text: str) -> DeliveryError:
    if 500 <= code < 600:
        return ProviderRejected(text, permanent=True)
    return ProviderUnreachable(text)


def smtp_error(e: Exception) -> DeliveryError:
    """What an smtplib failure means for delivery."""
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(e.recipients.values()), (0, b""))
        return _code_error(
            code, f"SMTP refused the recipient: {code} {reply.decode(errors='replace')}"
        )
    if isinstance(e, smtplib.SMTPAuthenticationError):
        return ProviderRejected(f"SMTP authentication failed: {e.smtp_code}", permanent=True)
    if isinstance(e, smtplib.SMTPResponseException):
        raw = e.smtp_error
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        return _code_error(e.smtp_code, f"SMTP {type(e).__name__}: {e.smtp_code} {text}")
    if isinstance(e, smtplib.SMTPNotSupportedError):
        return ProviderRejected(f"SMTP server: {e}", permanent=True)
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return ProviderUnreachable(f"SMTP connection dropped: {e}")
    if isinstance(e, ssl.SSLError | ssl.CertificateError):
        return ProviderUnreachable(f"SMTP TLS failed: {e}")
    if isinstance(e, TimeoutError):
        return ProviderUnreachable("SMTP server did not answer in time")
    return ProviderUnreachable(f"SMTP: {type(e).__name__}: {e}")


class EmailTransport(Transport):
    method = "email"

    def __init__(
        self, channel: EmailChannel, renderer: Renderer | None = None, *, public_url: str = ""
    ) -> None:
        self.channel = channel
        self.renderer = renderer or Renderer()
        self.timeout = channel.timeout.total_seconds()
        self.host = mail_host(public_url, channel.from_)
        self.sender = parseaddr(channel.from_)[1]
        self.limiter = trio.CapacityLimiter(4)  # connections at once to the one relay
        self._context: ssl.SSLContext | None = None

    def build(self, message: Message) -> EmailMessage:
        """The mail; for a bundle, one mail listing its incidents (not in their threads)."""
        context = template_context(message)
        render = self.renderer.render
        inc = message.incident
        part = "" if message.bundle is None else "bundle_"
        mail = EmailMessage()
        mail["Subject"] = header_text(render("email", f"{part}subject", context))
        mail["From"] = self.channel.from_
        mail["To"] = Address(addr_spec=message.address or "")
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.notification_id}@{self.host}>"
        if message.bundle is None:
            mail["In-Reply-To"] = f"<{inc.id}@{self.host}>"
            mail["References"] = f"<{inc.id}@{self.host}>"
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
        mail["X-Auto-Response-Suppress"] = "All"
        if message.bundle is None:
            mail["X-Pager-Incident"] = inc.id
        else:
            mail["X-Pager-Bundle"] = message.bundle.id
        mail.set_content(clean_text(render("email", f"{part}text", context)) + "\n")
        html = clean_text(render("email", f"{part}html", context)) + "\n"
        mail.add_alternative(html, subtype="html")
        return mail

    async def send(self, message: Message) -> Sent:
        if not message.address:
            raise ProviderRejected("no email address to write to", permanent=True)
        try:
            mail = self.build(message)
        except ValueError as e:  # e.g. an address the email package cannot put in a header
            raise ProviderRejected(f"cannot build the mail: {e}", permanent=True) from None
        async with self.limiter:
            await trio.to_thread.run_sync(
                self._submit, mail, message.address, abandon_on_cancel=True
            )
        return Sent(provider_id=str(mail["Message-ID"]))

    async def send_text(self, to: str, subject: str, text: str) -> Sent:
        """A plain-text mail to `to`, not about one incident (the scheduled report)."""
        mail = EmailMessage()
        mail["Subject"] = header_text(subject)
        mail["From"] = self.channel.from_
        mail["To"] = Address(addr_spec=to)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<report-{secrets.token_hex(12)}@{self.host}>"
        mail["Auto-Submitted"] = "auto-generated"
        mail["X-Auto-Response-Suppress"] = "All"
        mail.set_content(clean_text(text) + "\n")
        async with self.limiter:
            await trio.to_thread.run_sync(self._submit, mail, to, abandon_on_cancel=True)
        return Sent(provider_id=str(mail["Message-ID"]))

    def _tls(self) -> ssl.SSLContext:
        """One TLS context for every mail: building one loads the CA bundle (~20 ms)."""
        if self._context is None:
            ca = self.channel.ca_file
            self._context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
        return self._context

    def _submit(self, mail: EmailMessage, to: str) -> None:
        """In a worker thread: one SMTP session that hands over one mail."""
        cfg = self.channel
        try:
            smtp: smtplib.SMTP
            if cfg.ssl:
                smtp = smtplib.SMTP_SSL(
                    cfg.smtp_host,
                    cfg.smtp_port,
                    timeout=self.timeout,
                    local_hostname=self.host,
                    context=self._tls(),
                )
            else:
                smtp = smtplib.SMTP(
                    cfg.smtp_host, cfg.smtp_port, timeout=self.timeout, local_hostname=self.host
                )
            with smtp:
                if cfg.starttls:
                    smtp.starttls(context=self._tls())
                if cfg.username is not None and cfg.password is not None:
                    smtp.login(cfg.username, cfg.password)
                smtp.send_message(mail, from_addr=self.sender, to_addrs=[to])
        except (smtplib.SMTPException, OSError) as e:
            raise smtp_error(e) from None
