"""The `users` section: who can be paged, how to reach them, and in which order.

A user is the end of every escalation: schedules and policies resolve to user ids, and the
user's notification rules turn "alice is paged" into "Slack now, SMS after 1 minute, a call
after 5". These models hold that data; whether a rule can actually be delivered (a contact
for it, a configured channel) is checked in `check.py`, where the whole configuration is
visible.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from pager.config.durations import Duration, TimeZoneName
from pager.config.fields import (
    ConfigModel,
    EmailAddress,
    HttpUrl,
    Identifier,
    NonEmptyStr,
    PhoneNumber,
)
from pager.core.vocabulary import ContactMethod

__all__ = [
    "CONTACT_METHODS",
    "ROLES",
    "ContactMethod",
    "Contacts",
    "NotificationRule",
    "Role",
    "Urgency",
    "User",
    "fill_name_from_id",
]

CONTACT_METHODS: tuple[ContactMethod, ...] = tuple(ContactMethod)
"""Every `ContactMethod` (pager.core.vocabulary, the one list), in the order they are
documented."""

Role = Literal["viewer", "responder", "admin"]
"""What a person or API token may do: `viewer` sees; `responder` also acts on incidents
(acknowledge, resolve, snooze, escalate, notes, heartbeat pings); `admin` does everything
(reload, maintenance windows, overrides, heartbeats, acting as another user)."""

ROLES: tuple[str, ...] = get_args(Role)
"""Every `Role`, least first."""

Urgency = Literal["high", "low"]
"""The urgency of an incident: low-urgency incidents may wait or page nobody (per service)."""


def fill_name_from_id(data: Any) -> Any:
    """Before-validation helper: an object without a `name` is named by its `id`.

    (Without an id the object is invalid anyway, and its empty default name unused.)"""
    if isinstance(data, dict) and data.get("name") is None and isinstance(data.get("id"), str):
        return {**data, "name": data["id"]}
    return data


class Contacts(ConfigModel):
    """Where a user can be reached; every method is optional.

    `slack` is a Slack user id (notified by direct message), `sms` and `voice` are E.164
    numbers, `teams` and `webhook` are URLs that reach this person.
    """

    slack: NonEmptyStr | None = None
    sms: PhoneNumber | None = None
    voice: PhoneNumber | None = None
    email: EmailAddress | None = None
    teams: HttpUrl | None = None
    webhook: HttpUrl | None = None

    def has(self, method: str) -> bool:
        """Whether a notification via `method` has somewhere to go (console always does)."""
        if method == "console":
            return True
        return getattr(self, method, None) is not None


class NotificationRule(ConfigModel):
    """Notify via `via`, `after` the user was paged (`0m` is at once).

    Extension: `urgency` limits the rule to incidents of that urgency; without it the rule
    applies to both (so a user can ask for a call on high urgency but only email on low).
    """

    after: Duration
    via: ContactMethod
    urgency: Urgency | None = None

    def applies_to(self, urgency: Urgency) -> bool:
        return self.urgency is None or self.urgency == urgency


class User(ConfigModel):
    """A person who can be paged.

    `name` defaults to the id. `timezone` (default UTC) is the person's own zone, used to
    show times in their messages. `notification_rules` defaults to none: a user without
    rules is valid but notifies nobody, which `check-config` reports as a warning.
    """

    id: Identifier
    name: NonEmptyStr = ""  # filled in from the id before validation
    timezone: TimeZoneName = "UTC"
    contacts: Contacts = Contacts()
    notification_rules: tuple[NotificationRule, ...] = ()
    #: What the person may do once signed in to the dashboard.
    role: Role = "responder"
    #: argon2id hash (`pager hash-password`) of the dashboard password; None: no sign-in.
    password_hash: str | None = Field(default=None, repr=False)

    @field_validator("password_hash")
    @classmethod
    def argon2id_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("$argon2id$"):
            raise ValueError(
                "must be an argon2id hash ($argon2id$...): print one with `pager hash-password`"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def default_name_to_id(cls, data: Any) -> Any:
        return fill_name_from_id(data)

    def rules_for(self, urgency: Urgency) -> list[NotificationRule]:
        """The rules that apply to an incident of this urgency, earliest first."""
        return sorted(
            (rule for rule in self.notification_rules if rule.applies_to(urgency)),
            key=lambda rule: rule.after,
        )
