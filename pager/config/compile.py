"""Compiling a loaded configuration into the core's rules (`RulesBook`): the shape the
actors decide with, built once per load or reload, never changed in place."""

from __future__ import annotations

import re

from pager.core import schedule as sched
from pager.core.bundling import BundlePolicy, Throttle
from pager.core.oncall_lookup import OncallLookup
from pager.core.routing import Condition, IntegrationRoute, RoutingRule
from pager.core.rules import (
    BusinessHours,
    LevelRules,
    NotifyRule,
    PolicyRules,
    RulesBook,
    ServiceRules,
    Target,
    UserRules,
    Window,
)

from .models import Config
from .models_schedules import Schedule as ScheduleModel

__all__ = ["compile_rules", "compile_schedule"]


def compile_schedule(s: ScheduleModel) -> sched.Schedule:
    return sched.Schedule(
        id=s.id,
        timezone=s.timezone,
        layers=tuple(
            sched.Layer(
                name=layer.name,
                users=tuple(layer.users),
                rotation=sched.Rotation(
                    every=layer.rotation.every,
                    handoff_time=layer.rotation.handoff_time,
                    handoff_weekday=layer.rotation.handoff_weekday,
                    start=layer.rotation.start,
                ),
                restrictions=tuple(
                    sched.Restriction(days=frozenset(r.days), start=r.start, end=r.end)
                    for r in layer.restrictions
                ),
            )
            for layer in s.layers
        ),
        overrides=tuple(sched.Override(o.user, o.start, o.end) for o in s.overrides),
    )


def compile_rules(config: Config) -> RulesBook:
    policies: dict[str, PolicyRules] = {}
    for p in config.escalation_policies:
        policies[p.id] = PolicyRules(
            id=p.id,
            levels=tuple(
                LevelRules(
                    targets=tuple(
                        Target("user", t.user)
                        if t.user is not None
                        else Target("schedule", t.schedule or "")
                        for t in lv.targets
                    ),
                    escalate_after=lv.escalate_after,
                )
                for lv in p.levels
            ),
            repeat=p.repeat,
            escalate_when_unreachable=p.escalate_when_unreachable,
            unreachable_after_attempts=p.unreachable_after_attempts,
        )
    services: dict[str, ServiceRules] = {}
    integrations: dict[tuple[str, str], IntegrationRoute] = {}
    for s in config.services:
        bh = s.business_hours
        services[s.id] = ServiceRules(
            id=s.id,
            name=s.name or s.id,
            policy=policies.get(s.escalation_policy),
            urgency_by_severity={
                "critical": s.urgency.critical,
                "error": s.urgency.error,
                "warning": s.urgency.warning,
                "info": s.urgency.info,
            },
            ack_timeout=s.ack_timeout,
            auto_resolve_after=s.auto_resolve_after,
            low_urgency=s.low_urgency.mode,
            business_hours=None
            if bh is None
            else BusinessHours(bh.timezone, frozenset(bh.days), bh.start, bh.end),
            maintenance=tuple(
                Window(w.start, w.end, w.reason, f"cfg-{s.id}-{i}")
                for i, w in enumerate(s.maintenance)
            ),
            chat=tuple(
                (method, str(address))
                for method, address in (("slack", s.chat.slack_channel), ("teams", s.chat.teams))
                if address
            ),
        )
        for integ in s.integrations:
            integrations[(integ.type, integ.key)] = IntegrationRoute(
                type=integ.type,
                service_id=s.id,
                rate_events=s.rate_limit.events if s.rate_limit else None,
                rate_per_seconds=s.rate_limit.per.total_seconds() if s.rate_limit else 60.0,
            )
    for rk in config.routing:
        rules = tuple(
            RoutingRule(
                service_id=r.service,
                when=tuple(
                    Condition(
                        field=c.field,
                        equals=c.equals,
                        regex=re.compile(c.regex) if c.regex is not None else None,
                        one_of=tuple(c.in_) if c.in_ is not None else None,
                    )
                    for c in (r.when or ())
                ),
            )
            for r in rk.rules
        )
        integrations[(rk.type, rk.key)] = IntegrationRoute(type=rk.type, rules=rules)
    schedules = {s.id: compile_schedule(s) for s in config.schedules}
    users = {
        u.id: UserRules(
            id=u.id,
            name=u.name or u.id,
            rules=tuple(
                sorted(
                    (NotifyRule(r.after, r.via, r.urgency) for r in u.notification_rules),
                    key=lambda r: r.after,
                )
            ),
            contacts={k: str(v) for k, v in u.contacts.model_dump(exclude_none=True).items()},
        )
        for u in config.users
    }

    b = config.bundling
    bundling = BundlePolicy(
        after=b.after,
        window=b.window,
        titles=b.titles,
        throttles={
            method: tuple(Throttle(r.count, r.per) for r in rules)
            for method, rules in b.throttle
            if rules
        },
    )
    return RulesBook(
        bundling=bundling,
        services=services,
        integrations=integrations,
        oncall=OncallLookup(schedules),
        digest=config.digest(),
        users=users,
        schedules=schedules,
        policies=policies,
    )
