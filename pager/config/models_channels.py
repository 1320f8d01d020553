"""The `channels` and `templates` sections: provider settings and message wording.

A channel is how pager talks to a provider (Slack, Twilio for SMS and calls, SMTP, Teams,
signed webhooks, or the console). Every section is optional: a missing section means the
channel is not configured, and `check.py` warns about notification rules that need it.
Every provider base URL can be overridden (`api_url`), which is how tests point pager at
stand-in providers. Templates are Jinja2 text, compiled here so a syntax error is reported
at load time with its path and line, not at 3 a.m. when the first page is sent.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, Field, PositiveFloat, model_validator

from pager.config.durations import PositiveDuration
from pager.config.fields import (
    ConfigModel,
    HttpUrl,
    MailboxAddress,
    NonEmptyStr,
    OptionalSecret,
    PhoneNumber,
    Secret,
    error,
)
from pager.core.vocabulary import ContactMethod

__all__ = [
    "CHANNEL_OF_METHOD",
    "ChannelName",
    "ChannelSettings",
    "Channels",
    "ConsoleChannel",
    "EmailChannel",
    "EmailTemplates",
    "SlackChannel",
    "SlackTemplates",
    "SmsTemplates",
    "TeamsChannel",
    "TeamsTemplates",
    "TemplateText",
    "Templates",
    "TwilioChannel",
    "VoiceTemplates",
    "WebhookChannel",
    "WebhookTemplates",
    "template_environment",
]

ChannelName = Literal["slack", "twilio", "email", "teams", "webhook", "console"]

CHANNEL_OF_METHOD: dict[ContactMethod, ChannelName] = {
    ContactMethod.SLACK: "slack",
    ContactMethod.SMS: "twilio",
    ContactMethod.VOICE: "twilio",
    ContactMethod.EMAIL: "email",
    ContactMethod.TEAMS: "teams",
    ContactMethod.WEBHOOK: "webhook",
    ContactMethod.CONSOLE: "console",
}
"""Which `channels` section a notification rule's `via` needs (one per ContactMethod)."""


class ChannelSettings(ConfigModel):
    """Options every channel has (extension): the timeout of one attempt to reach the
    provider (default 10s) and an optional cap on requests per second."""

    timeout: PositiveDuration = dt.timedelta(seconds=10)
    rate_per_second: PositiveFloat | None = None


class SlackChannel(ChannelSettings):
    """Slack Web API: a bot `token` to post, the `signing_secret` to verify button presses."""

    api_url: HttpUrl = "https://slack.com/api/"
    token: Secret
    signing_secret: Secret


class TwilioChannel(ChannelSettings):
    """Twilio for SMS and voice calls, sent from `from_number`."""

    api_url: HttpUrl = "https://api.twilio.com"
    account_sid: NonEmptyStr
    auth_token: Secret
    from_number: PhoneNumber


class EmailChannel(ChannelSettings):
    """SMTP. `starttls` (default true) upgrades a plain connection; `ssl` (default false)
    connects with TLS from the start. With `ssl: true` and no `starttls`, starttls is off
    and `smtp_port` defaults to 465 instead of 587. `username` and `password` go together.
    The sender is the YAML key `from` (`from_` in Python).

    Extension: `ca_file`, a PEM file of certificate authorities to verify the server's TLS
    certificate with instead of the system's (a private CA, or a test server's self-signed
    certificate). The certificate is always verified, host name included."""

    smtp_host: NonEmptyStr
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: NonEmptyStr | None = None
    password: OptionalSecret = None
    from_: MailboxAddress = Field(alias="from")
    ca_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def implicit_tls_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("ssl") is True:
            data = {"starttls": False, "smtp_port": 465, **data}
        return data

    @model_validator(mode="after")
    def consistent(self) -> EmailChannel:
        if self.starttls and self.ssl:
            raise error("tls", "use starttls or ssl, not both")
        if (self.username is None) != (self.password is None):
            raise error("credentials", "username and password go together: set both or neither")
        return self


class TeamsChannel(ChannelSettings):
    """Microsoft Teams through workflow webhooks; the URLs are in users' contacts and in
    services' `chat`, so only the common options live here."""


class WebhookChannel(ChannelSettings):
    """Outgoing JSON webhooks, signed with `secret` so the receiver can verify them."""

    secret: Secret


class ConsoleChannel(ChannelSettings):
    """Prints notifications on pager's standard output (the demo's channel). It works
    without this section too; the section only sets the common options."""


class Channels(ConfigModel):
    """Provider settings; a section left out is None and that channel is not configured."""

    slack: SlackChannel | None = None
    twilio: TwilioChannel | None = None
    email: EmailChannel | None = None
    teams: TeamsChannel | None = None
    webhook: WebhookChannel | None = None
    console: ConsoleChannel | None = None

    def configured(self, name: ChannelName) -> bool:
        return getattr(self, name) is not None


def _mrkdwn(value: Any) -> str:
    """Slack's escaping: `&`, `<` and `>` would otherwise start entities, links, mentions."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def template_environment() -> SandboxedEnvironment:
    """The Jinja2 environment templates are compiled in at load time.

    The renderer should use (or build on) this one, so that whatever it adds, such as
    filters, is known when the configuration is validated. Filters added for templates:
    `mrkdwn` escapes text for Slack messages (`{{ incident.title|mrkdwn }}`). HTML parts
    (email `html`) are rendered with autoescaping on.
    """
    env = SandboxedEnvironment()
    env.filters["mrkdwn"] = _mrkdwn
    return env


def _compiles(text: str) -> str:
    try:
        template_environment().from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise error(
            "template", f"template does not compile: line {exc.lineno}: {exc.message}"
        ) from None
    return text


TemplateText = Annotated[str, AfterValidator(_compiles)]
"""Jinja2 source text that compiles in `template_environment()`."""


class SlackTemplates(ConfigModel):
    text: TemplateText | None = None
    bundle_text: TemplateText | None = None  # a message about several incidents (storm mode)
    channel_bundle_text: TemplateText | None = None  # several status posts to a chat channel


class SmsTemplates(ConfigModel):
    text: TemplateText | None = None
    bundle_text: TemplateText | None = None


class VoiceTemplates(ConfigModel):
    say: TemplateText | None = None
    bundle_say: TemplateText | None = None


class EmailTemplates(ConfigModel):
    subject: TemplateText | None = None
    text: TemplateText | None = None
    html: TemplateText | None = None
    bundle_subject: TemplateText | None = None
    bundle_text: TemplateText | None = None
    bundle_html: TemplateText | None = None


class TeamsTemplates(ConfigModel):
    title: TemplateText | None = None
    text: TemplateText | None = None
    bundle_title: TemplateText | None = None
    bundle_text: TemplateText | None = None
    channel_bundle_title: TemplateText | None = None
    channel_bundle_text: TemplateText | None = None


class WebhookTemplates(ConfigModel):
    """Webhooks send a fixed JSON document; nothing to word yet."""


class Templates(ConfigModel):
    """Per-channel overrides of the built-in wording; each text left out keeps the default."""

    slack: SlackTemplates = SlackTemplates()
    sms: SmsTemplates = SmsTemplates()
    voice: VoiceTemplates = VoiceTemplates()
    email: EmailTemplates = EmailTemplates()
    teams: TeamsTemplates = TeamsTemplates()
    webhook: WebhookTemplates = WebhookTemplates()
