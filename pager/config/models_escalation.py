"""The `escalation_policies` section: whom to page, level after level, until someone acks.

A policy is a list of levels; each level pages its targets (users, or whoever is on call on
a schedule) and, if nobody acknowledges within `escalate_after`, the next level is paged.
After the last level the policy starts over `repeat` more times. Whether the targets exist
is checked in `check.py`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from pager.config.durations import PositiveDuration
from pager.config.fields import ConfigModel, Identifier, NonEmptyStr, Reference, error
from pager.config.models_people import fill_name_from_id

__all__ = ["EscalationLevel", "EscalationPolicy", "Target", "TargetKind"]

TargetKind = Literal["user", "schedule"]


class Target(ConfigModel):
    """One object with exactly one key: `{user: alice}` or `{schedule: primary}`."""

    user: Reference | None = None
    schedule: Reference | None = None

    @model_validator(mode="before")
    @classmethod
    def not_a_bare_id(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise error(
                "target",
                f"write a target as {{user: {data}}} or {{schedule: {data}}}, not a bare id",
            )
        return data

    @model_validator(mode="after")
    def exactly_one_key(self) -> Target:
        if (self.user is None) == (self.schedule is None):
            raise error(
                "target",
                "a target has exactly one key: {user: ID} or {schedule: ID}",
            )
        return self

    @property
    def kind(self) -> TargetKind:
        return "user" if self.user is not None else "schedule"

    @property
    def id(self) -> str:
        """The id of the user or schedule this target names."""
        ident = self.user if self.user is not None else self.schedule
        assert ident is not None  # exactly_one_key
        return ident


class EscalationLevel(ConfigModel):
    """Page every target; escalate to the next level when nobody acks within the delay."""

    targets: tuple[Target, ...] = Field(min_length=1)
    escalate_after: PositiveDuration


class EscalationPolicy(ConfigModel):
    """Levels walked in order, then `repeat` more times from the first (default 0).

    A paged person is unreachable when every notification of their page failed for good,
    or was tried `unreachable_after_attempts` times (its retries go on, and their next
    contact method is tried at once); with `escalate_when_unreachable` the incident then
    moves to the next level at once instead of waiting for `escalate_after`."""

    id: Identifier
    name: NonEmptyStr = ""  # filled in from the id before validation
    repeat: int = Field(default=0, ge=0)
    levels: tuple[EscalationLevel, ...] = Field(min_length=1)
    escalate_when_unreachable: bool = True
    unreachable_after_attempts: int = Field(default=3, ge=1)

    @model_validator(mode="before")
    @classmethod
    def default_name_to_id(cls, data: Any) -> Any:
        return fill_name_from_id(data)
