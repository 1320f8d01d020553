"""Walking an escalation policy: which level comes next and when.

A policy has levels 0..n-1 and `repeat` extra walks. Reaching level L in round R schedules
the next step `escalate_after` of level L later, unless L is the last level of the last
round, where the policy is exhausted (next_at None). Deadlines are computed from the instant
the step actually happens, so a step that fires late (after a restart) delays the rest
instead of skipping a level.
"""

from __future__ import annotations

from datetime import datetime

from .rules import PolicyRules

__all__ = ["first_step", "next_level", "next_step", "step_at_level"]


def _has_next(policy: PolicyRules, level: int, rnd: int) -> bool:
    return level + 1 < len(policy.levels) or rnd < policy.repeat


def step_at_level(
    policy: PolicyRules, level: int, rnd: int, now: datetime
) -> tuple[int, int, datetime | None]:
    """(level, round, next_at) for standing at `level` in `rnd` from `now` on."""
    next_at = now + policy.levels[level].escalate_after if _has_next(policy, level, rnd) else None
    return level, rnd, next_at


def first_step(policy: PolicyRules, now: datetime) -> tuple[int, int, datetime | None]:
    return step_at_level(policy, 0, 0, now)


def next_step(
    policy: PolicyRules, level: int, rnd: int, now: datetime
) -> tuple[int, int, datetime | None]:
    """The step after (level, rnd). Past the last level, the next round starts at level 0."""
    if level + 1 < len(policy.levels):
        return step_at_level(policy, level + 1, rnd, now)
    if rnd < policy.repeat:
        return step_at_level(policy, 0, rnd + 1, now)
    return step_at_level(policy, min(level, len(policy.levels) - 1), rnd, now)


def next_level(policy: PolicyRules | None, policy_id: str | None, level: int | None) -> int | None:
    """The level (1-based, as `Escalate` counts) a person's "escalate" moves an incident to:
    the one after the level it stands at (`level`, 0-based, on policy `policy_id`), the first
    when it stands nowhere on `policy` (never escalated, or the policy changed). None when it
    is at the last level: there is nobody further to escalate to."""
    if policy is None or not policy.levels:
        return None
    if level is None or policy_id != policy.id:
        return 1
    return level + 2 if level + 1 < len(policy.levels) else None
