"""The working state of one `decide` call: the events so far and the incident as they leave
it, so a command that produces several events decides each on the state the previous ones
leave. Also the steps several commands share: reaching an escalation level (and paging its
people), and whether an incident opening now may page at all."""

from __future__ import annotations

from datetime import datetime

from . import paging
from .escalation import first_step, next_step
from .events import Event, IncidentEscalated, PagingDeferred, PersonUnreachable
from .evolve import copy_incident, evolve
from .model import Incident, Page
from .rules import Context, PolicyRules

__all__ = ["Decision", "placeholder_seq", "with_seqs"]


def placeholder_seq(k: int) -> int:
    """The stand-in sequence number of the `k`-th event (from 0) a batch of decisions
    produced: negative, so it cannot be taken for a journaled one. See `with_seqs`."""
    return -(k + 1)


def with_seqs(
    decided: Incident, base: Incident | None, first_seq: int, last_seq: int
) -> Incident | None:
    """`decided` (the incident as decisions from `base` left it, with placeholder sequence
    numbers: `Decision(first=...)`) as evolving `base` through the same events journaled
    as records `first_seq`..`last_seq` gives it, or None when it cannot tell (an entry
    without a placeholder, a timeline that does not extend `base`'s).

    `evolve` uses a record's sequence number in three places only: `last_seq`, the opening
    record's `opened_seq`, and the timeline entry the event adds; everything else about
    the incident is the same whatever the numbers. So the journal's commit can take the
    decided value instead of evolving the incident a second time (SystemState.apply_decided).
    """
    count = last_seq - first_seq + 1
    kept = len(base.timeline) if base is not None else 0
    timeline = decided.timeline
    if len(timeline) < kept:
        return None
    if base is not None and kept and timeline[kept - 1] is not base.timeline[kept - 1]:
        return None
    fresh = []
    for entry in timeline[kept:]:
        k = -entry.seq - 1
        if not 0 <= k < count:
            return None
        fresh.append(entry._replace(seq=first_seq + k))
    opened = decided.opened_seq
    if opened < 0:
        if not 0 <= -opened - 1 < count:
            return None
        opened = first_seq - opened - 1
    elif base is None or opened != base.opened_seq:
        return None
    return copy_incident(
        decided,
        {"last_seq": last_seq, "opened_seq": opened, "timeline": timeline[:kept] + tuple(fresh)},
    )


class Decision:
    """`first`: when given, the events are evolved with placeholder sequence numbers
    counted from it (`placeholder_seq`), so that the journal can take the decided incident
    (`with_seqs`); else with 0."""

    def __init__(self, incident: Incident | None, ctx: Context, first: int | None = None) -> None:
        self.incident = incident
        self.ctx = ctx
        self.events: list[Event] = []
        self.first = first

    @property
    def inc(self) -> Incident:
        assert self.incident is not None
        return self.incident

    def emit(self, event: Event) -> None:
        seq = 0 if self.first is None else placeholder_seq(self.first + len(self.events))
        self.events.append(event)
        self.incident = evolve(self.incident, event, seq, self.ctx.now)

    def start_escalation(self, by: str | None = None, via: str | None = None) -> None:
        policy = self.ctx.service.policy
        if policy is None or not policy.levels:
            return
        level, rnd, next_at = first_step(policy, self.ctx.now)
        self.escalate_to(policy, level, rnd, next_at, by=by, via=via)

    def escalate_to(
        self,
        policy: PolicyRules,
        level: int,
        rnd: int,
        next_at: datetime | None,
        *,
        by: str | None = None,
        via: str | None = None,
        token_name: str | None = None,
    ) -> None:
        """Reach `level` of `policy` and page whoever it targets now."""
        targets = self.ctx.resolve_targets(policy.levels[level])
        paged, first_after = paging.pages_to_start(self, targets, rnd)
        self.emit(
            IncidentEscalated(
                incident_id=self.inc.id,
                policy_id=policy.id,
                level=level,
                round=rnd,
                next_at=next_at,
                targets=targets,
                paged=paged or None,
                first_after=first_after or None,
                by=by,
                via=via,
                token_name=token_name,
            )
        )
        paging.notify_due(self)

    def person_unreachable(self, page: Page) -> None:
        """Nobody could reach `page`'s person: journal it, and when the policy says so and
        the incident still stands at the level that paged them, escalate to the next level
        now (not when the policy is exhausted: there is nobody further)."""
        inc = self.inc
        rules = self.ctx.user(page.user_id).rules_for(inc.urgency)
        tried = tuple(dict.fromkeys(r.via for r in rules[: page.next_step]))
        self.emit(
            PersonUnreachable(
                incident_id=inc.id,
                user_id=page.user_id,
                level=page.level,
                round=page.round,
                tried=tried,
            )
        )
        policy, esc = self.ctx.service.policy, self.inc.escalation
        if (
            policy is None
            or not policy.escalate_when_unreachable
            or esc is None
            or esc.policy_id != policy.id
            or (esc.level, esc.round) != (page.level, page.round)
        ):
            return
        level, rnd, next_at = next_step(policy, esc.level, esc.round, self.ctx.now)
        if (level, rnd) != (esc.level, esc.round):  # else: the policy is exhausted
            self.escalate_to(policy, level, rnd, next_at)

    def begin_paging(self) -> None:
        """Start walking the policy now, or defer it to business hours, or stay quiet
        (maintenance, a service that pages nobody for this urgency)."""
        paging, page_at, reason = self.quiet_reason(self.inc.urgency)
        if not paging:
            return
        if page_at is not None and page_at > self.ctx.now:
            if self.inc.page_at != page_at:
                self.emit(PagingDeferred(incident_id=self.inc.id, page_at=page_at, reason=reason))
            return
        self.start_escalation()

    def quiet_reason(self, urgency: str) -> tuple[bool, datetime | None, str | None]:
        """(paging, page_at, reason) for an incident of this urgency opening now."""
        ctx, svc = self.ctx, self.ctx.service
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
