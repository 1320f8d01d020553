"""The words of the analytics ledger: the codes its small-integer columns hold (an incident's
state, how it resolved, a notification's kind and outcome), and which contact methods count
as what."""

from __future__ import annotations

__all__ = [
    "FAILED_RECEIPTS",
    "HOW",
    "INTERRUPTING",
    "KINDS",
    "OUTCOMES",
    "RECEIPT_METHODS",
    "STATES",
]

STATES = ("triggered", "acknowledged", "resolved")
TRIGGERED, ACKNOWLEDGED, RESOLVED = range(3)
HOW = ("person", "source", "timeout")  # resolved by a person, by its source, auto-resolved
BY_PERSON, BY_SOURCE, BY_TIMEOUT = range(3)
KINDS = ("page", "status", "update")
OUTCOMES = ("pending", "retrying", "sent", "delivered", "undelivered", "failed", "cancelled")
PENDING, RETRYING, SENT, DELIVERED, UNDELIVERED, FAILED, CANCELLED = range(7)
# a provider receipt saying the message did not arrive (Twilio's words)
FAILED_RECEIPTS = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})
# methods whose sends are followed by a receipt (Twilio's status callbacks)
RECEIPT_METHODS = frozenset({"sms", "voice"})
# what interrupts a person, as PagerDuty counts interruptions: a text, a call or a push
# notification; email (and chat) does not
INTERRUPTING = frozenset({"sms", "voice", "push"})
