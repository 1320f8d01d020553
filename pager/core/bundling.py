"""Storm mode for people and chat channels: when are the pages due for one person by one
contact method (or the status posts due for one chat channel) sent, and how many go in one
message. Pure: the instants come in as arguments.

Every page is still requested, journaled and acted on per incident; what changes is how many
messages reach the person. Each (person, method) is a *lane*. A lane sends a message when
every one of its rules allows one — `bundling.after` messages per `bundling.window` (the
first pages of a quiet lane go out at once, one each), and the method's throttle rules
(default, in the spirit of GoAlert's: a call or a text at most once a minute, 3 calls and 5
texts per 15 minutes) — and that message carries every page of the lane that is due by then:
one page alone, several as one bundle ("37 incidents for you ..."). Nothing is dropped: what
a rule holds back goes in the next message.

A service's chat channel (`chat.slack_channel`, a Teams channel) is a lane too: its status
posts (an incident opened, acknowledged, resolved) go out alone while the channel is quiet,
and past `bundling.after` per `bundling.window` as one post that says how many incidents, on
which services, by topic ("12 incidents opened on Checkout API"). A channel has no person's
throttles: only `after` per `window` holds its posts back (`BundlePolicy.chat_rules`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "DEFAULT_THROTTLES",
    "LANE_MEMORY",
    "TOPICS",
    "BundlePolicy",
    "Throttle",
    "next_send_at",
    "services_of",
    "topics_of",
]

TOPICS = ("opened", "acknowledged", "resolved")
"""The topics of status posts, in the order a channel's bundle counts them."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most `count` messages per `per` (a sliding window)."""

    count: int
    per: timedelta


def _rules(*pairs: tuple[int, timedelta]) -> tuple[Throttle, ...]:
    return tuple(Throttle(c, p) for c, p in pairs)


_MIN, _QUARTER, _HOUR = timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=1)
DEFAULT_THROTTLES: Mapping[str, tuple[Throttle, ...]] = {
    # GoAlert's alert-notification limits, without its smoothing, and its 1 per minute per
    # phone number or address
    "voice": _rules((1, _MIN), (3, _QUARTER), (7, _HOUR), (15, 3 * _HOUR)),
    "sms": _rules((1, _MIN), (5, _QUARTER), (11, _HOUR), (21, 3 * _HOUR)),
    "email": _rules((1, _MIN)),
}
LANE_MEMORY = timedelta(days=1)
"""How long a lane remembers its messages: the longest `per` a throttle may have."""


@dataclass(frozen=True, slots=True)
class BundlePolicy:
    """`after` messages per `window` on every lane, then the method's `throttles`; a bundle
    lists the first `titles` incidents by title."""

    after: int = 2
    window: timedelta = timedelta(minutes=1)
    titles: int = 5
    throttles: Mapping[str, tuple[Throttle, ...]] = field(
        default_factory=lambda: dict(DEFAULT_THROTTLES)
    )

    def rules(self, method: str) -> tuple[Throttle, ...]:
        return (Throttle(self.after, self.window), *self.throttles.get(method, ()))

    def chat_rules(self) -> tuple[Throttle, ...]:
        """A chat channel's lane: `after` posts per `window`, no person's throttles."""
        return (Throttle(self.after, self.window),)


def next_send_at(rules: Iterable[Throttle], sent: Sequence[datetime], now: datetime) -> datetime:
    """The first instant from `now` on at which a lane whose messages went out at `sent`
    (oldest first, all before or at `now`) may send one more under every rule."""
    at = now
    for rule in rules:
        if rule.count <= 0:
            continue
        recent = [t for t in sent if t > at - rule.per]
        if len(recent) >= rule.count:
            # wait until enough of them are older than `per`: the one that leaves room
            at = max(at, recent[len(recent) - rule.count] + rule.per)
    # a later rule moving `at` on only lets earlier rules' windows hold fewer messages
    return at


def services_of(names: Iterable[str]) -> list[tuple[str, int]]:
    """How many incidents of each service, most first (then in order of appearance)."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    order = {name: i for i, name in enumerate(counts)}
    return sorted(counts.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def topics_of(topics: Iterable[str | None]) -> list[tuple[str, int]]:
    """How many of each topic (opened, acknowledged, resolved, in that order; any other
    after them, in order of appearance), leaving out None."""
    counts: dict[str, int] = {}
    for topic in topics:
        if topic is not None:
            counts[topic] = counts.get(topic, 0) + 1
    order = {t: i for i, t in enumerate(TOPICS)}
    seen = {t: i for i, t in enumerate(counts)}
    return sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(TOPICS)), seen[kv[0]]))
