"""Calendar feeds: the final shifts of a schedule, or of one person across every schedule, as
calendar events, and the secret tokens that open the feeds' URLs.

A feed's URL is `/ical/{kind}/{id}/{token}.ics` (kind `schedules` or `users`). The token is
derived, never stored:

    token = base64url(HMAC-SHA256(auth.calendar_secret,
                                  "pager-ical:" + kind + "/" + id + "/" + generation))

(base64url without padding, 43 characters). `generation` starts at 0 and is raised by a
revocation (journaled as `calendar.feed_revoked`), which turns the old URL into a 404 and
gives the feed a new one; changing `calendar_secret` revokes every feed at once. A token is
checked by computing the expected one and comparing in constant time.

The events are the shifts `pager.core.schedule.shifts` computes (layers, configured and API
overrides stacked: what paging uses), over a window of whole local days: from 7 days ago to
`weeks` weeks from today, midnights in the feed's zone (the schedule's, or the person's), so
the window and every event's start stay put through a day of fetches. Each event's UID is
a hash of the feed, the schedule, the source (layer or "override"), the person and the
start: the same shift keeps its UID from one fetch to the next, and a shift that changes
(an override cuts it) keeps it while its start stays. A schedule's feed also shows its gaps
("Nobody on call"), as the API does. Pure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, time, timedelta

from . import schedule as sched
from .ical import CalendarEvent
from .schedule_rotation import local_to_utc, wall_time, zone

__all__ = [
    "DEFAULT_WEEKS",
    "FEED_KINDS",
    "MAX_WEEKS",
    "PAST",
    "feed_key",
    "feed_token",
    "feed_window",
    "schedule_events",
    "token_matches",
    "user_events",
]

FEED_KINDS = ("schedules", "users")
DEFAULT_WEEKS = 8
MAX_WEEKS = 52
PAST = timedelta(days=7)
_CONTEXT = b"pager-ical:"


def feed_key(kind: str, ident: str) -> str:
    """How a feed is named in the journal and the state: `schedules/primary`, `users/alice`."""
    if kind not in FEED_KINDS:
        raise ValueError(f"feed kind must be one of {', '.join(FEED_KINDS)}, got {kind!r}")
    return f"{kind}/{ident}"


def feed_token(secret: str, kind: str, ident: str, generation: int) -> str:
    """The token of generation `generation` of the feed `kind`/`ident`."""
    message = _CONTEXT + f"{feed_key(kind, ident)}/{generation}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_matches(secret: str, kind: str, ident: str, generation: int, given: str) -> bool:
    """Whether `given` is the feed's current token (constant-time comparison)."""
    expected = feed_token(secret, kind, ident, generation)
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def feed_window(now: datetime, timezone: str, weeks: int) -> tuple[datetime, datetime]:
    """[local midnight 7 days before today, local midnight `weeks` weeks after tomorrow), in
    UTC; days of `timezone` (a midnight that a DST change skips is the first instant after)."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be 1 to {MAX_WEEKS}, got {weeks}")
    tz = zone(timezone)
    today = wall_time(now, tz).date()
    first = datetime.combine(today - PAST, time())
    last = datetime.combine(today + timedelta(days=7 * weeks + 1), time())
    return local_to_utc(first, tz), local_to_utc(last, tz)


def _uid(feed: str, schedule_id: str, source: str, user: str, start: datetime, domain: str) -> str:
    key = "\x00".join((feed, schedule_id, source, user, start.isoformat()))
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}"


def _source_text(source: str) -> str:
    return "override" if source == sched.OVERRIDE_SOURCE else f"layer {source}"


def schedule_events(
    schedule: sched.Schedule,
    window: tuple[datetime, datetime],
    *,
    schedule_name: str,
    user_names: Mapping[str, str],
    domain: str,
) -> list[CalendarEvent]:
    """The feed of one schedule: every final shift in `window`, and every gap, by start."""
    feed = feed_key("schedules", schedule.id)
    start, end = window
    events = []
    for s in sched.shifts(schedule, start, end):
        who = user_names.get(s.user, s.user)
        suffix = " (override)" if s.source == sched.OVERRIDE_SOURCE else ""
        events.append(
            CalendarEvent(
                uid=_uid(feed, schedule.id, s.source, s.user, s.start, domain),
                start=s.start,
                end=s.end,
                summary=f"{who} on call{suffix}",
                description=f"{who} ({s.user}) is on call for {schedule_name} "
                f"({_source_text(s.source)}).",
            )
        )
    for begin, finish in sched.gaps(schedule, start, end):
        events.append(
            CalendarEvent(
                uid=_uid(feed, schedule.id, "", "", begin, domain),
                start=begin,
                end=finish,
                summary="Nobody on call",
                description=f"Nobody is on call for {schedule_name}: pages to it reach no one.",
            )
        )
    return sorted(events, key=lambda e: (e.start, e.uid))


def user_events(
    schedules: Mapping[str, sched.Schedule],
    user_id: str,
    window: tuple[datetime, datetime],
    *,
    schedule_names: Mapping[str, str],
    domain: str,
) -> list[CalendarEvent]:
    """The feed of one person: their final shifts on every schedule in `window`, by start."""
    feed = feed_key("users", user_id)
    start, end = window
    events = []
    for sid, schedule in schedules.items():
        name = schedule_names.get(sid, sid)
        for s in sched.shifts(schedule, start, end):
            if s.user != user_id:
                continue
            suffix = " (override)" if s.source == sched.OVERRIDE_SOURCE else ""
            events.append(
                CalendarEvent(
                    uid=_uid(feed, sid, s.source, s.user, s.start, domain),
                    start=s.start,
                    end=s.end,
                    summary=f"On call: {name}{suffix}",
                    description=f"On call for {name} ({_source_text(s.source)}).",
                )
            )
    return sorted(events, key=lambda e: (e.start, e.uid))
