"""Personal notification rules: once an escalation level reaches a person, their rules run
from that instant: `{after: 0m, via: slack}`, `{after: 1m, via: sms}`, `{after: 5m, via: voice}`
each becomes a `notification.requested` when it is due, until the incident is acknowledged
or resolved. A person whose every notification of the page failed, with no rule left, could
not be reached: `incident.person_unreachable`, and (by the policy) the next level at once.

A person reached again while their page is still running in the same walk of the policy (two
levels, or a schedule and a user target, naming the same person) is not paged twice: each
step notifies them once. A new walk (`repeat`) restarts their rules. When a contact method
fails for good, the person's next rule runs at once instead of at its delay (`fallback`).

Notification ids are the incident id and a counter (`inc-7-n3`), so decide stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import NotificationRequested, UserPaged
from .model import Page, Status

if TYPE_CHECKING:
    from .decision import Decision

__all__ = ["fallback", "notify_due", "pages_to_start", "status_update"]


def pages_to_start(
    d: Decision, users: tuple[str, ...], rnd: int
) -> tuple[tuple[str, ...], tuple[float | None, ...]]:
    """Of `users` reached by an escalation step in walk `rnd`: whose pages start now, and
    the seconds until each one's first rule is due (None: no rule for this urgency)."""
    inc = d.inc
    paged: list[str] = []
    first: list[float | None] = []
    for uid in users:
        running = inc.pages.get(uid)
        if running is not None and running.next_at is not None and running.round == rnd:
            continue  # already being paged in this walk: once per step
        rules = d.ctx.user(uid).rules_for(inc.urgency)
        paged.append(uid)
        first.append(rules[0].after.total_seconds() if rules else None)
    return tuple(paged), tuple(first)


def _request(d: Decision, page: Page, fallback_from: str | None = None) -> None:
    inc = d.inc
    user = d.ctx.user(page.user_id)
    rules = user.rules_for(inc.urgency)
    step = page.next_step
    if step >= len(rules):  # the rules changed under a reload: this page is done
        d.emit(
            UserPaged(
                incident_id=inc.id,
                user_id=page.user_id,
                level=page.level,
                round=page.round,
                step=step,
                next_at=None,
            )
        )
        return
    rule = rules[step]
    following = rules[step + 1] if step + 1 < len(rules) else None
    d.emit(
        NotificationRequested(
            incident_id=inc.id,
            notification_id=f"{inc.id}-n{inc.notification_count + 1}",
            kind="page",
            method=rule.via,
            address=user.address(rule.via),
            user_id=page.user_id,
            step=step,
            next_at=page.paged_at + following.after if following is not None else None,
            urgency=inc.urgency,
            fallback_from=fallback_from,
        )
    )


def notify_due(d: Decision) -> None:
    """Request every personal notification that is due now."""
    if d.inc.status is not Status.TRIGGERED:
        return
    now = d.ctx.now
    for uid in list(d.inc.pages):
        for _ in range(64):  # each pass advances the page by one rule
            page = d.inc.pages[uid]
            if page.next_at is None or page.next_at > now:
                break
            _request(d, page)


def fallback(d: Decision, user_id: str, failed: str, failures: int | None = None) -> None:
    """`failed` (a notification of `user_id`) failed for good: run their next rule now.
    With none left, and `failures` (of the page's notifications, as delivery counts them)
    covering every notification the page requested, the person could not be reached."""
    inc = d.inc
    page = inc.pages.get(user_id)
    if inc.status is not Status.TRIGGERED or page is None:
        return
    if page.next_at is not None:
        _request(d, page, fallback_from=failed)
        notify_due(d)
    elif failures is not None and 0 < page.next_step <= failures:
        if any(u.user_id == user_id and u.at >= page.paged_at for u in inc.unreachable):
            return  # said already for this page
        d.person_unreachable(page)


def status_update(d: Decision, topic: str) -> None:
    """Post `topic` (opened, acknowledged, resolved) to the service's chat channels, and
    edit in place every message already sent where the provider allows it (Slack)."""
    inc = d.inc
    for provider_id in list(inc.messages.values()):
        d.emit(
            NotificationRequested(
                incident_id=inc.id,
                notification_id=f"{inc.id}-n{d.inc.notification_count + 1}",
                kind="update",
                method="slack",
                previous=provider_id,
                topic=topic,
                urgency=inc.urgency,
            )
        )
    for method, address in d.ctx.service.chat:
        if method == "slack" and any(p.startswith(f"{address}:") for p in inc.messages.values()):
            continue  # its first message is edited in place above
        d.emit(
            NotificationRequested(
                incident_id=inc.id,
                notification_id=f"{inc.id}-n{d.inc.notification_count + 1}",
                kind="status",
                method=method,
                address=address,
                topic=topic,
                urgency=inc.urgency,
            )
        )
