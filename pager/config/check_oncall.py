"""Checks of who gets paged: schedules with nobody on call, and personal notification
delays longer than the escalation that pages the person (they would hear nothing before the
next level is paged). Both are warnings: a gap can be on purpose (a business-hours schedule
behind an always-on one), a slow rule can be a choice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pager.core import schedule as sched

from .compile import compile_schedule
from .durations import format_duration
from .models import Config
from .problems import Problem

__all__ = ["GAP_HORIZON", "personal_delays", "schedule_gaps"]

GAP_HORIZON = timedelta(days=28)
MAX_REPORTED_GAPS = 5


def schedule_gaps(config: Config, now: datetime | None = None) -> Iterator[Problem]:
    """Nobody on call in the next four weeks (warning, with the first few gaps)."""
    start = now or datetime.now(UTC)
    for i, s in enumerate(config.schedules):
        try:
            compiled = compile_schedule(s)
            holes = sched.gaps(compiled, start, start + GAP_HORIZON)
        except ValueError:
            continue  # reported by the other checks
        if not holes:
            continue
        tz = ZoneInfo(s.timezone)
        shown = ", ".join(
            f"{a.astimezone(tz):%a %Y-%m-%d %H:%M} to {b.astimezone(tz):%a %Y-%m-%d %H:%M}"
            for a, b in holes[:MAX_REPORTED_GAPS]
        )
        more = (
            f" and {len(holes) - MAX_REPORTED_GAPS} more" if len(holes) > MAX_REPORTED_GAPS else ""
        )
        yield Problem(
            f"schedules[{i}]",
            f"nobody is on call for {s.id!r} {len(holes)} time(s) in the next 4 weeks "
            f"({s.timezone}): {shown}{more}",
            "warning",
        )


def _users_of(config: Config, kind: str, ident: str) -> set[str]:
    if kind == "user":
        return {ident}
    for s in config.schedules:
        if s.id == ident:
            return {u for layer in s.layers for u in layer.users} | {o.user for o in s.overrides}
    return set()


def personal_delays(config: Config) -> Iterator[Problem]:
    """A rule whose delay is longer than the escalation level that pages its user."""
    index = {u.id: i for i, u in enumerate(config.users)}
    for p, policy in enumerate(config.escalation_policies):
        for lv, level in enumerate(policy.levels):
            last = lv == len(policy.levels) - 1 and policy.repeat == 0
            if last:
                continue  # nothing follows the last step: its delay escalates nowhere
            users: set[str] = set()
            for t in level.targets:
                users |= _users_of(config, t.kind, t.id)
            for uid in sorted(users):
                u = index.get(uid)
                if u is None:
                    continue
                for n, rule in enumerate(config.users[u].notification_rules):
                    if rule.after > level.escalate_after:
                        yield Problem(
                            f"users[{u}].notification_rules[{n}].after",
                            f"{format_duration(rule.after)} is longer than "
                            f"escalation_policies[{p}].levels[{lv}].escalate_after "
                            f"({format_duration(level.escalate_after)}), which pages {uid!r}: "
                            "the incident escalates further before this notification",
                            "warning",
                        )
