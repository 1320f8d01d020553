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

from datetime import datetime

from ._fast import maker
from .decision import Decision
from .escalation import first_step, next_step
from .events import (
    NOBODY,
    Attribution,
    IncidentEscalated,
    NotificationRequested,
    PagingDeferred,
    PersonUnreachable,
    UserPaged,
)
from .model import Page, Status
from .rules import PolicyRules
from .vocabulary import NotificationKind

__all__ = [
    "begin_paging",
    "escalate_to",
    "fallback",
    "notify_due",
    "pages_to_start",
    "person_unreachable",
    "quiet_reason",
    "start_escalation",
    "status_update",
]

# the events of every page, made without a frozen dataclass's `object.__setattr__` per
# field (pager.core._fast): the same values
_incident_escalated = maker(IncidentEscalated)
_notification_requested = maker(NotificationRequested)


def start_escalation(d: Decision, attribution: Attribution = NOBODY) -> None:
    """Reach the first level of the service's policy (if it has one)."""
    policy = d.ctx.service.policy
    if policy is None or not policy.levels:
        return
    level, rnd, next_at = first_step(policy, d.ctx.now)
    escalate_to(d, policy, level, rnd, next_at, attribution)


def escalate_to(
    d: Decision,
    policy: PolicyRules,
    level: int,
    rnd: int,
    next_at: datetime | None,
    attribution: Attribution = NOBODY,
) -> None:
    """Reach `level` of `policy` and page whoever it targets now."""
    targets = d.ctx.resolve_targets(policy.levels[level])
    paged, first_after = pages_to_start(d, targets, rnd)
    d.emit(
        _incident_escalated(
            incident_id=d.inc.id,
            policy_id=policy.id,
            level=level,
            round=rnd,
            next_at=next_at,
            targets=targets,
            paged=paged or None,
            first_after=first_after or None,
            attribution=attribution,
        )
    )
    notify_due(d)


def person_unreachable(d: Decision, page: Page) -> None:
    """Nobody could reach `page`'s person: journal it, and when the policy says so and
    the incident still stands at the level that paged them, escalate to the next level
    now (not when the policy is exhausted: there is nobody further)."""
    inc = d.inc
    rules = d.ctx.user(page.user_id).rules_for(inc.urgency)
    tried = tuple(dict.fromkeys(r.via for r in rules[: page.next_step]))
    d.emit(
        PersonUnreachable(
            incident_id=inc.id,
            user_id=page.user_id,
            level=page.level,
            round=page.round,
            tried=tried,
        )
    )
    policy, esc = d.ctx.service.policy, d.inc.escalation
    if (
        policy is None
        or not policy.escalate_when_unreachable
        or esc is None
        or esc.policy_id != policy.id
        or (esc.level, esc.round) != (page.level, page.round)
    ):
        return
    level, rnd, next_at = next_step(policy, esc.level, esc.round, d.ctx.now)
    if (level, rnd) != (esc.level, esc.round):  # else: the policy is exhausted
        escalate_to(d, policy, level, rnd, next_at)


def begin_paging(d: Decision) -> None:
    """Start walking the policy now, or defer it to business hours, or stay quiet
    (maintenance, a service that pages nobody for this urgency)."""
    paging, page_at, reason = quiet_reason(d, d.inc.urgency)
    if not paging:
        return
    if page_at is not None and page_at > d.ctx.now:
        if d.inc.page_at != page_at:
            d.emit(PagingDeferred(incident_id=d.inc.id, page_at=page_at, reason=reason))
        return
    start_escalation(d)


def quiet_reason(d: Decision, urgency: str) -> tuple[bool, datetime | None, str | None]:
    """(paging, page_at, reason) for an incident of this urgency opening now."""
    ctx, svc = d.ctx, d.ctx.service
    if ctx.maintenance is not None:
        return False, None, f"maintenance: {ctx.maintenance}"
    if urgency == "low":
        if svc.low_urgency == "never":
            return False, None, "low urgency: this service pages nobody for it"
        if svc.low_urgency == "business_hours" and svc.business_hours is not None:
            at = svc.business_hours.next_start(ctx.now)
            if at > ctx.now:
                return True, at, f"low urgency: paging from {at.isoformat()}"
    return True, None, None


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
        _notification_requested(
            incident_id=inc.id,
            notification_id=f"{inc.id}-n{inc.notification_count + 1}",
            kind=NotificationKind.PAGE,
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
        person_unreachable(d, page)


def status_update(d: Decision, topic: str) -> None:
    """Post `topic` (opened, acknowledged, resolved) to the service's chat channels, and
    edit in place every message already sent where the provider allows it (`ctx.edits`)."""
    inc = d.inc
    edits = d.ctx.edits
    if edits is not None:
        for provider_id in list(inc.messages.values()):
            d.emit(
                _notification_requested(
                    incident_id=inc.id,
                    notification_id=f"{inc.id}-n{d.inc.notification_count + 1}",
                    kind=NotificationKind.UPDATE,
                    method=edits.method,
                    previous=provider_id,
                    topic=topic,
                    urgency=inc.urgency,
                )
            )
    for method, address in d.ctx.service.chat:
        if (
            edits is not None
            and method == edits.method
            and any(edits.posted_to(p, address) for p in inc.messages.values())
        ):
            continue  # its first message is edited in place above
        d.emit(
            _notification_requested(
                incident_id=inc.id,
                notification_id=f"{inc.id}-n{d.inc.notification_count + 1}",
                kind=NotificationKind.STATUS,
                method=method,
                address=address,
                topic=topic,
                urgency=inc.urgency,
            )
        )
