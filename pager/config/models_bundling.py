"""The `bundling` section: storm mode for people (see `pager.core.bundling`). Per person and
contact method, the first `after` pages of a `window` go out one message each; the ones that
follow wait and go out together, as one message that says how many incidents it carries;
each method's `throttle` rules hold messages back further (never dropping a page: what waits
goes in the next message)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field

from pager.config.durations import PositiveDuration
from pager.config.fields import ConfigModel

__all__ = ["Bundling", "ThrottleRule", "Throttles"]

MAX_PER = dt.timedelta(days=1)  # what a lane remembers (pager.core.bundling.LANE_MEMORY)


def _at_most_a_day(value: dt.timedelta) -> dt.timedelta:
    if value > MAX_PER:
        raise ValueError("must be at most 1d")
    return value


Period = Annotated[PositiveDuration, AfterValidator(_at_most_a_day)]


class ThrottleRule(ConfigModel):
    """At most `count` messages per `per` to one person by one method."""

    count: int = Field(ge=1)
    per: Period


def _rules(*pairs: tuple[int, str]) -> tuple[ThrottleRule, ...]:
    units = {"m": 60, "h": 3600}
    return tuple(
        ThrottleRule(count=c, per=dt.timedelta(seconds=int(p[:-1]) * units[p[-1]]))
        for c, p in pairs
    )


class Throttles(ConfigModel):
    """Per contact method; a method given here replaces its defaults (`[]`: none)."""

    slack: tuple[ThrottleRule, ...] = ()
    sms: tuple[ThrottleRule, ...] = _rules((1, "1m"), (5, "15m"), (11, "1h"), (21, "3h"))
    voice: tuple[ThrottleRule, ...] = _rules((1, "1m"), (3, "15m"), (7, "1h"), (15, "3h"))
    email: tuple[ThrottleRule, ...] = _rules((1, "1m"))
    teams: tuple[ThrottleRule, ...] = ()
    webhook: tuple[ThrottleRule, ...] = ()
    console: tuple[ThrottleRule, ...] = ()


class Bundling(ConfigModel):
    after: int = Field(default=2, ge=1)
    window: Period = dt.timedelta(minutes=1)
    titles: int = Field(default=5, ge=1, le=20)
    throttle: Throttles = Throttles()
