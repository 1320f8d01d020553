"""Whether a paged person can still be reached: delivery's side of an unreachable person
(`incident.person_unreachable`). Pure functions over the notifications read model.

A notification counts as failed when it failed for good, or when it has been tried the
policy's `unreachable_after_attempts` times (its retries go on). That is also the moment the
person's next contact method is tried: once per notification, at whichever comes first.
"""

from __future__ import annotations

from .commands import Fallback
from .model import Incident
from .notifications import Notification, NotificationBook
from .rules import RulesBook

__all__ = [
    "DEFAULT_ATTEMPT_LIMIT",
    "attempt_limit",
    "counts_as_failed",
    "failures_of_page",
    "fallback_for",
    "falls_back_now",
]

DEFAULT_ATTEMPT_LIMIT = 3  # as EscalationPolicy.unreachable_after_attempts


def attempt_limit(rules: RulesBook, inc: Incident | None) -> int:
    """The attempts after which a notification of `inc` counts as failed (its policy's)."""
    policy = None if inc is None else rules.service(inc.service_id).policy
    return DEFAULT_ATTEMPT_LIMIT if policy is None else policy.unreachable_after_attempts


def counts_as_failed(n: Notification, limit: int) -> bool:
    return n.status == "failed" or (n.status == "retrying" and n.attempts >= limit)


def falls_back_now(attempt: int, final: bool, limit: int) -> bool:
    """Whether failed attempt number `attempt` (`final`: no retry follows) is the one that
    moves the person to their next contact method: the first of reaching `limit` attempts
    and failing for good."""
    return attempt == limit or (final and attempt < limit)


def failures_of_page(
    book: NotificationBook, inc: Incident | None, user_id: str, limit: int
) -> int | None:
    """How many notifications of `user_id`'s current page for `inc` have failed; None when
    one of them has not (it was sent, or is still being tried below the limit)."""
    page = None if inc is None else inc.pages.get(user_id)
    if inc is None or page is None:
        return None
    count = 0
    for n in book.for_incident(inc.id):
        if n.kind != "page" or n.user_id != user_id or n.requested_at < page.paged_at:
            continue
        if not counts_as_failed(n, limit):
            return None
        count += 1
    return count


def fallback_for(
    book: NotificationBook, rules: RulesBook, inc: Incident, user_id: str, notification_id: str
) -> Fallback:
    """The command that moves `user_id` to their next contact method, counting their page's
    failures so far."""
    limit = attempt_limit(rules, inc)
    return Fallback(
        user_id=user_id,
        notification_id=notification_id,
        failed=failures_of_page(book, inc, user_id, limit),
    )
