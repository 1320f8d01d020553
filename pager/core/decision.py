"""The working state of one `decide` call: the events so far and the incident as they leave
it, so a command that produces several events decides each on the state the previous ones
leave. Also the steps several commands share: reaching an escalation level (and paging its
people), and whether an incident opening now may page at all."""

from __future__ import annotations

from datetime import datetime

from . import paging
from .escalation import first_step, next_step
from .events import Event, IncidentEscalated, PagingDeferred, PersonUnreachable
from .evolve import evolve
from .model import Incident, Page
from .rules import Context, PolicyRules

__all__ = ["Decision"]


class Decision:
    def __init__(self, incident: Incident | None, ctx: Context) -> None:
        self.incident = incident
        self.ctx = ctx
        self.events: list[Event] = []

    @property
    def inc(self) -> Incident:
        assert self.incident is not None
        return self.incident

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self.incident = evolve(self.incident, event, 0, self.ctx.now)

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
