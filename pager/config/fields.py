"""The base model and the small value types every configuration section shares.

Each section of the configuration is a frozen pydantic model that rejects unknown keys, and
many sections hold the same kinds of values: ids, references to ids, phone numbers, email
addresses, URLs, secrets. Defining them once here keeps the spellings and the error messages
the same everywhere ("must be an E.164 phone number like +15555550100"), which is what a
person fixing a configuration file reads.
"""

from __future__ import annotations

import email.utils
import re
import urllib.parse
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from pager.core.redaction import shown_url

__all__ = [
    "ConfigModel",
    "EmailAddress",
    "HttpUrl",
    "Identifier",
    "ListenAddress",
    "MailboxAddress",
    "NonEmptyStr",
    "OptionalSecret",
    "PhoneNumber",
    "Reference",
    "Secret",
    "error",
    "shown_url",
    "split_listen",
]


class ConfigModel(BaseModel):
    """Base of every configuration model: frozen, and unknown keys are errors.

    `extra="forbid"` is what turns a typo (`escalate_aftr`) into a problem instead of a
    silently ignored key; `frozen=True` lets the loaded configuration be shared by every
    actor without anyone changing it under the others.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def error(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose message is shown as is (braces in it are not formatted)."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def _nonempty(value: str) -> str:
    if not value.strip():
        raise error("empty", "must not be empty")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_nonempty)]
"""A string with something other than white space in it."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _identifier(value: str) -> str:
    if not _ID.fullmatch(value):
        raise error(
            "identifier",
            f"{value!r} is not a valid id: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
        )
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
"""The id of a user, schedule, policy or service; ids appear in URLs, so they stay plain."""

Reference = NonEmptyStr
"""An id that names another object; whether that object exists is a semantic check."""

Secret = Annotated[NonEmptyStr, Field(repr=False)]
"""A token or password: kept out of `repr()` so it does not end up in logs."""

OptionalSecret = Annotated[NonEmptyStr | None, Field(repr=False)]
"""A `Secret` that may be left out (the field's default must be None)."""

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def _phone_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise error(
            "phone_number",
            f'must be an E.164 phone number in quotes, like "+{value}": '
            "YAML reads an unquoted +number as a number",
        )
    if isinstance(value, str) and not _E164.fullmatch(value):
        raise error("phone_number", f"{value!r} must be an E.164 phone number like +15555550100")
    return value


PhoneNumber = Annotated[str, BeforeValidator(_phone_number)]
"""A phone number in E.164 form: `+`, country code, number, no spaces (`+15555550100`)."""

_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+")


def _email_address(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise error("email", f"{value!r} does not look like an email address")
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]
"""A bare email address, `alice@example.com`."""


def _mailbox(value: str) -> str:
    _, address = email.utils.parseaddr(value)
    if not address or not _EMAIL.fullmatch(address):
        raise error(
            "email",
            f"{value!r} does not look like an email address "
            '(write alice@example.com or "Pager <pager@example.com>")',
        )
    return value


MailboxAddress = Annotated[str, AfterValidator(_mailbox)]
"""An address with an optional display name, `pager <pager@example.com>`."""


def _http_url(value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise error("url", f"{shown_url(value)!r} must be an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An `http://` or `https://` URL, kept as written (no trailing slash is added)."""


def split_listen(value: str) -> tuple[str, int]:
    """Split `host:port` (or `[v6]:port`) into host and port; raise ValueError if it is not."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"{value!r} must be host:port, like 127.0.0.1:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{value!r}: write an IPv6 address in brackets, like [::1]:8080")
    return host, int(port_text)


def _listen(value: str) -> str:
    try:
        split_listen(value)
    except ValueError as exc:
        raise error("listen", str(exc)) from None
    return value


ListenAddress = Annotated[str, AfterValidator(_listen)]
"""`host:port` to listen on; port 0 asks the system for a free port (handy in tests)."""
