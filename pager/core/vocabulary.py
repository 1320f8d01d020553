"""The words pager's values are made of, each defined once as a `StrEnum`: an alert's status,
a notification's kind and status, the contact methods that reach a person, and a pager
process's role among several on one database. (An incident's status and an alert's severity
are in model.py, beside the values that hold them.)

They are `str` subclasses whose values are the words the log, the snapshots, the API and the
configuration have always used, so JSON on disk and on the wire stays byte for byte the same
(orjson, json and f-strings write the value), and a member equals its word.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AlertStatus", "ContactMethod", "NotificationKind", "NotificationStatus", "Role"]


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class ContactMethod(StrEnum):
    """How a notification reaches a person, in the order the documentation lists them.
    `console` prints it on pager's stdout (the demo). The one list of the methods: the
    configuration, the transports, the dispatcher and the dashboard all read it."""

    SLACK = "slack"
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    TEAMS = "teams"
    WEBHOOK = "webhook"
    CONSOLE = "console"


class NotificationKind(StrEnum):
    PAGE = "page"  # reaches a person by one of their notification rules
    STATUS = "status"  # posts an incident update (opened, acknowledged, resolved) to a chat
    UPDATE = "update"  # edits a message already sent, in place (Slack)


class NotificationStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Role(StrEnum):
    """A pager process's role among several on one PostgreSQL database
    (docs/high-availability.md): the one holding the lease is active, the others stand by."""

    ACTIVE = "active"
    STANDBY = "standby"
