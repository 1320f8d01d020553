"""The whole state as the fold of every event so far: the read model the API answers from,
what a snapshot holds, and what start-up rebuilds.

`SystemState.apply` is the only place that changes it, one journaled record at a time, in
sequence order (the journal's commit hook calls it). Incidents inside are immutable values,
so a reader never sees one half-changed, and a snapshot can be serialized from references.

A snapshot is made in two steps: `capture()` on the event loop copies the collections (only
references: a few milliseconds at 36,000 open incidents), then `StateCapture.to_snapshot`, in
the log's worker thread, makes the snapshot from them a piece at a time (pacing.py), while the
state moves on.

Resolved incidents are archived as summaries (see archive.py): `archive` holds them, and
`incidents` holds open ones, resolved ones not yet archived, and archived ones rebuilt on
demand (`materialize`, a cache fill of the value the log already determines).

For answers from channels it also keeps: the newest incident of each short code (an SMS
reply names one: `ack K7Q`), the action links used and not yet expired (`link.used`), and
the contacts that opted out of a method (`contact.opted_out`, an SMS STOP); and the token
generation of each calendar feed whose URL was revoked (`calendar.feed_revoked`); and when
each scheduled report last went out (`report.sent`).

Past ~400 lines on purpose: each part of the state is written in four places that must
agree (its fold in `apply_event`, `capture`, `StateCapture.to_snapshot`, `from_snapshot`),
and keeping them in one module is what makes a new part a change of one file. The folds of
incidents, notifications, bundles and heartbeats live in their own modules (evolve.py,
notifications.py, bundles.py, heartbeat.py); what is left here is the bookkeeping between
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, Protocol, cast

from . import analytics
from .analytics import Ledger
from .archive import IncidentSummary, summarize, summary_from_json
from .bundles import BundleBook
from .decision import with_seqs
from .events import (
    DECODERS,
    CalendarFeedRevoked,
    ChangeRecorded,
    ConfigApplied,
    ContactOptedIn,
    ContactOptedOut,
    Event,
    HeartbeatCreated,
    HeartbeatDeleted,
    HeartbeatEvent,
    IncidentEvent,
    IncidentOpened,
    IncidentResolved,
    InteractionReceived,
    LinkUsed,
    MaintenanceEnded,
    MaintenanceStarted,
    NotificationCancelled,
    NotificationDelivered,
    NotificationEvent,
    NotificationFailed,
    NotificationRequested,
    NotificationsBundled,
    NotificationSent,
    OverrideAdded,
    OverrideRemoved,
    ReportSent,
    decode,
)
from .evolve import STEPS, evolve
from .heartbeat import Beat, HeartbeatSpec, evolve_beat
from .model import Incident, Status
from .notifications import Notification, NotificationBook
from .overrides import ApiOverride
from .pacing import Pause, joined, pieces, sorted_in_pieces, still
from .rules import ServiceRules, Window
from .snapshot_codec import incident_from_json, notification_from_json, to_datetime
from .vocabulary import NotificationKind

__all__ = ["STATE_VERSION", "StateCapture", "SystemState", "maintenance_reason"]

STATE_VERSION = 2
RECENT_CHANGES = 50
_BY_NUMBER = attrgetter("number")  # incidents and summaries, in a snapshot's order
_ID = attrgetter("id")


class RecordLike(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def event(self) -> object: ...


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    id: str
    service_id: str
    start: datetime
    end: datetime
    reason: str | None = None
    by: str | None = None

    def as_window(self) -> Window:
        return Window(self.start, self.end, self.reason, self.id)


class SystemState:
    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.archive: dict[str, IncidentSummary] = {}
        self.open_by_key: dict[tuple[str, str], str] = {}
        self.next_number = 1
        self.last_seq = 0
        self.last_ts: datetime | None = None
        self.maintenance: dict[str, MaintenanceWindow] = {}
        self.changes: dict[str, list[ChangeRecorded]] = {}
        self.config_digest: str | None = None
        self.notifications = NotificationBook()
        self.by_code: dict[str, str] = {}  # short code -> the newest incident that has it
        self.used_links: dict[str, datetime] = {}  # link id -> when it expires
        self.opted_out: dict[tuple[str, str], str] = {}  # (method, address) -> user id
        self.opt_message_sids: set[str] = set()  # messages that opted out or in: acted on
        self.beats: dict[str, Beat] = {}  # heartbeat name -> its last ping's deadlines
        self.api_heartbeats: dict[str, HeartbeatSpec] = {}  # heartbeats made through the API
        self.overrides: dict[str, ApiOverride] = {}  # schedule overrides made through the API
        self.calendar_generations: dict[str, int] = {}  # feed -> its token generation (0 if none)
        self.analytics = Ledger()  # the facts of pager.core.analytics, folded from every record
        # signed provider requests acted on (interaction.received): "provider:id" -> expiry
        self.seen_requests: dict[str, datetime] = {}
        self.bundles = BundleBook()  # storm mode: bundles, and when each lane sent
        self.reports_sent: dict[str, datetime] = {}  # scheduled report -> the last due sent

    # ------------------------------------------------------------------ fold

    def apply(self, record: RecordLike) -> None:
        # the event itself when this process journaled it (a Draft's `event`), else decoded
        event: Any = record.event
        if event is None:
            event = DECODERS[record.type](record.data)
        seq, at = record.seq, record.ts  # (apply_event, one call less: replay's hot path)
        self.analytics.apply(event, seq, at)
        fold = FOLDS.get(type(event))
        if fold is not None:
            fold(self, event, seq, at)
        else:
            self._apply_other(event, seq, at)
        self.last_seq = seq
        self.last_ts = at

    def apply_decided(
        self, records: Sequence[RecordLike], base: Incident | None, decided: Incident
    ) -> None:
        """Apply `records`, the events an incident actor decided on `base` (the incident as
        it was when it decided) and journaled in one append, taking `decided` (the incident
        as those decisions left it, with placeholder sequence numbers) instead of evolving
        the incident through them once more: the same value (`with_seqs`), for about half
        the work of an alert that opens an incident. When the incident is no longer `base`
        (another record about it came first) or anything does not fit, the records are
        applied one by one, as ever."""
        iid = decided.id
        current = self.incidents.get(iid)
        final = None
        if (
            records
            and current is base
            and (base is not None or iid not in self.archive)
            and all(
                isinstance(r.event, IncidentEvent)
                and r.event.incident_id == iid
                and r.ts == decided.updated_at
                for r in records
            )
        ):
            final = with_seqs(decided, base, records[0].seq, records[-1].seq)
        if final is None:
            for r in records:
                self.apply(r)
            return
        for r in records:
            event = cast(IncidentEvent, r.event)
            self.analytics.apply(event, r.seq, r.ts)
            self._incident_event(event, r.seq, r.ts, final)
        self.incidents[iid] = final
        self.last_seq, self.last_ts = records[-1].seq, records[-1].ts

    def apply_event(self, event: Event, seq: int, at: datetime) -> None:
        """`apply` of an event journaled as record `seq` at `at`."""
        self.analytics.apply(event, seq, at)
        fold = FOLDS.get(type(event))
        if fold is not None:
            fold(self, event, seq, at)
        else:
            self._apply_other(event, seq, at)
        self.last_seq = seq
        self.last_ts = at

    # Each incident event type's fold, by type (`FOLDS`, below): the incident's step, and
    # the bookkeeping around it that its type needs.

    def _evolved(self, event: Any, seq: int, at: datetime) -> Incident | None:
        """The incident `event` is about, after it (stored); None when it is archived and
        not rebuilt (a late delivery receipt, say): its history grows in the log, and the
        summary only needs to know where it ends."""
        iid = event.incident_id
        current = self.incidents.get(iid)
        if current is None:
            summary = self.archive.get(iid)
            if summary is not None:
                self.archive[iid] = summary._replace(last_seq=seq, updated_at=at)
                return None
            inc = evolve(None, event, seq, at)  # (it raises: never opened)
        else:
            inc = STEPS[type(event)](current, event, seq, at)
        self.incidents[iid] = inc
        return inc

    def _opened(self, event: IncidentOpened, seq: int, at: datetime) -> None:
        iid = event.incident_id
        current = self.incidents.get(iid)
        if current is None and iid in self.archive:
            self.archive[iid] = self.archive[iid]._replace(last_seq=seq, updated_at=at)
            return
        inc = self.incidents[iid] = evolve(current, event, seq, at)
        self._was_opened(inc)

    def _was_opened(self, inc: Incident) -> None:
        self.open_by_key[(inc.service_id, inc.dedup_key)] = inc.id
        self.by_code[inc.short_code] = inc.id
        if inc.number >= self.next_number:
            self.next_number = inc.number + 1

    def _resolved(self, event: IncidentResolved, seq: int, at: datetime) -> None:
        inc = self._evolved(event, seq, at)
        if inc is not None:
            self._was_resolved(inc)

    def _was_resolved(self, inc: Incident) -> None:
        key = (inc.service_id, inc.dedup_key)
        if self.open_by_key.get(key) == inc.id:
            del self.open_by_key[key]

    def _link_used(self, event: LinkUsed, seq: int, at: datetime) -> None:
        self.used_links[event.link_id] = event.expires_at
        self._evolved(event, seq, at)

    def _requested(self, event: NotificationRequested, seq: int, at: datetime) -> None:
        self.notifications.requested(event, at)
        self._evolved(event, seq, at)

    def _notification_sent(self, event: NotificationSent, seq: int, at: datetime) -> None:
        self.notifications.sent(event, at)
        self._sent(event, at)
        self._evolved(event, seq, at)

    def _notification(self, event: NotificationEvent, seq: int, at: datetime) -> None:
        self.notifications.apply(event, at)
        self._evolved(event, seq, at)

    def _apply_other(self, event: Event, seq: int, at: datetime) -> None:
        """Every other event (not an incident's, or one `FOLDS` does not name)."""
        if isinstance(event, IncidentEvent):
            self._incident_event(event, seq, at, None)
        elif isinstance(event, MaintenanceStarted):
            self.maintenance[event.window_id] = MaintenanceWindow(
                event.window_id, event.service_id, event.start, event.end, event.reason, event.by
            )
        elif isinstance(event, MaintenanceEnded):
            self.maintenance.pop(event.window_id, None)
        elif isinstance(event, ChangeRecorded):
            lst = self.changes.setdefault(event.service_id, [])
            lst.append(event)
            del lst[:-RECENT_CHANGES]
        elif isinstance(event, ConfigApplied):
            self.config_digest = event.digest
        elif isinstance(event, HeartbeatEvent):
            self._apply_heartbeat(event, at)
        elif isinstance(event, OverrideAdded):
            self.overrides[event.override_id] = ApiOverride(
                event.override_id, event.schedule_id, event.user, event.start, event.end, event.by
            )
        elif isinstance(event, OverrideRemoved):
            self.overrides.pop(event.override_id, None)
        elif isinstance(event, CalendarFeedRevoked):
            old = self.calendar_generations.get(event.feed, 0)
            self.calendar_generations[event.feed] = max(old, event.generation)
        elif isinstance(event, ContactOptedOut):
            self.opted_out[(event.method, event.address)] = event.user_id
            if event.message_sid:
                self.opt_message_sids.add(event.message_sid)
        elif isinstance(event, NotificationsBundled):
            self.bundles.bundled(event, at)
            self.notifications.bundled(event.bundle_id, event.notification_ids)
        elif isinstance(event, InteractionReceived):
            self.seen_requests[event.key] = event.expires_at
        elif isinstance(event, ReportSent):
            last = self.reports_sent.get(event.report)
            if last is None or event.due > last:
                self.reports_sent[event.report] = event.due
        elif isinstance(event, ContactOptedIn):
            self.opted_out.pop((event.method, event.address), None)
            if event.message_sid:
                self.opt_message_sids.add(event.message_sid)

    def _incident_event(
        self, event: IncidentEvent, seq: int, at: datetime, decided: Incident | None
    ) -> None:
        """One record about an incident. With `decided` (see `apply_decided`) the incident
        itself is not evolved here; everything else the record does is done."""
        iid = event.incident_id
        t = type(event)
        if t is LinkUsed:
            self.used_links[event.link_id] = event.expires_at  # type: ignore[attr-defined]
        elif isinstance(event, NotificationEvent):
            self.notifications.apply(event, at)
            if isinstance(event, NotificationSent):
                self._sent(event, at)
        if decided is not None:
            inc = decided  # what the opened/resolved bookkeeping reads never changes
        else:
            current = self.incidents.get(iid)
            if current is None and iid in self.archive:
                # archived and not rebuilt (a late delivery receipt, say): its history grows
                # in the log; the summary only needs to know where it ends (a notification
                # still in flight got its outcome above)
                self.archive[iid] = self.archive[iid]._replace(last_seq=seq, updated_at=at)
                return
            step = STEPS.get(t)  # evolve for an existing incident, without the dispatch
            if current is None or step is None:
                inc = evolve(current, event, seq, at)
            else:
                inc = step(current, event, seq, at)
            self.incidents[iid] = inc
        if t is IncidentOpened:
            self._was_opened(inc)
        elif t is IncidentResolved:
            self._was_resolved(inc)

    def _sent(self, event: NotificationSent, at: datetime) -> None:
        """A page went out: its lane counts it (a bundle once) for the throttles; so does
        a status post to a chat channel (an edit in place is not a new post)."""
        method = event.method
        if method is None:
            return
        if event.user_id is not None:
            self.bundles.sent(event.user_id, method, event.bundle_id, event.provider_id, at)
            return
        n = self.notifications.by_id.get(event.notification_id)
        if n is not None and n.kind == NotificationKind.STATUS and n.address is not None:
            self.bundles.chat_sent(method, n.address, event.bundle_id, event.provider_id, at)

    def _apply_heartbeat(self, event: HeartbeatEvent, at: datetime) -> None:
        name = event.name
        if isinstance(event, HeartbeatCreated):
            self.api_heartbeats[name] = HeartbeatSpec(
                name,
                event.service_id,
                timedelta(seconds=event.interval),
                timedelta(seconds=event.grace),
                "api",
            )
            self.beats.pop(name, None)
        elif isinstance(event, HeartbeatDeleted):
            self.api_heartbeats.pop(name, None)
            self.beats.pop(name, None)
        else:
            beat = evolve_beat(self.beats.get(name), event, at)
            if beat is not None:
                self.beats[name] = beat

    # ------------------------------------------------------------------ queries

    def open_incidents(self) -> list[Incident]:
        return [self.incidents[i] for i in self.open_by_key.values()]

    def knows(self, incident_id: str) -> bool:
        return incident_id in self.incidents or incident_id in self.archive

    def newest_first(self) -> list[Incident | IncidentSummary]:
        """Every incident (archived ones as summaries), newest first."""
        rows: list[Incident | IncidentSummary] = list(self.incidents.values())
        rows.extend(s for s in self.archive.values() if s.id not in self.incidents)
        rows.sort(key=attrgetter("number"), reverse=True)
        return rows

    def link_used(self, link_id: str) -> bool:
        return link_id in self.used_links

    def request_seen(self, key: str, now: datetime) -> bool:
        """Whether the provider request `key` ("provider:id") was acted on already (and is
        still remembered at `now`)."""
        expires = self.seen_requests.get(key)
        return expires is not None and expires > now

    def is_opted_out(self, method: str, address: str) -> bool:
        return (method, address) in self.opted_out

    def latest_page_of(self, user_id: str) -> str | None:
        """The incident of `user_id`'s most recent page: the newest one still open, else the
        newest of any (so "ack" after it resolved hears that it did)."""
        newest = None
        for n in reversed(self.notifications.by_id.values()):
            if n.kind != NotificationKind.PAGE or n.user_id != user_id:
                continue
            inc = self.incidents.get(n.incident_id)
            if inc is not None and inc.is_open:
                return n.incident_id
            newest = newest or n.incident_id
        return newest

    def maintenance_for(self, service_id: str, at: datetime) -> MaintenanceWindow | None:
        for w in self.maintenance.values():
            if w.service_id == service_id and w.as_window().covers(at):
                return w
        return None

    # ------------------------------------------------------------------ archive

    def compact(
        self,
        resolved_before: datetime,
        busy: Callable[[str], bool] | None = None,
        among: Iterable[Incident] | None = None,
    ) -> int:
        """Archive incidents resolved before `resolved_before` (and not `busy`: an actor is
        working on them): keep their summaries, drop their full values and their finished
        notifications. Returns how many. With `among` (the resolved incidents a snapshot's
        capture held, `StateCapture.resolved`), only those are looked at, each as the state
        holds it now, not every incident (some 4 ms on the event loop at 36,000 open): one
        resolved since is archived after the next snapshot."""
        if among is None:
            candidates: Iterable[Incident] = self.incidents.values()
        else:
            found = map(self.incidents.get, map(_ID, among))
            candidates = [inc for inc in found if inc is not None]
        done = [
            inc
            for inc in candidates
            if inc.status is Status.RESOLVED
            and inc.resolved_at is not None
            and inc.resolved_at < resolved_before
            and not (busy is not None and busy(inc.id))
        ]
        for inc in done:
            self.archive[inc.id] = summarize(inc)
            del self.incidents[inc.id]
            self.notifications.forget(inc.id)
        for link_id, expires in list(self.used_links.items()):
            if expires < resolved_before:  # refused as expired from now on anyway
                del self.used_links[link_id]
        for key, expires in list(self.seen_requests.items()):
            if expires < resolved_before:
                del self.seen_requests[key]
        return len(done)

    def materialize(self, inc: Incident, notifications: list[Notification]) -> None:
        """Install an archived incident rebuilt from the log (the same value a full replay
        gives), with its notifications."""
        if inc.id in self.incidents:
            return
        self.incidents[inc.id] = inc
        for n in notifications:
            self.notifications.add(n)

    # ------------------------------------------------------------------ snapshots

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-able (by orjson) form of the whole state: open incidents whole, resolved ones
        as summaries, and the notifications of open incidents or still in flight. Holds
        references to immutable values only, so it may be serialized in another thread while
        the state moves on. (`capture()`, then its `to_snapshot()`, at once.)"""
        return self.capture().to_snapshot()

    def capture(self) -> StateCapture:
        """What a snapshot of the state holds, taken quickly enough for the event loop (some
        3 ms at 36,000 open incidents): the state's collections copied as they are (C-speed
        copies of references to immutable values; the analytics ledger's columns copied,
        keeping.py), so the state may move on at once. `StateCapture.to_snapshot` makes the
        snapshot from it, in the worker thread that writes it."""
        return StateCapture(
            self.last_seq,
            self.last_ts,
            self.next_number,
            self.config_digest,
            dict(self.incidents),
            dict(self.archive),
            list(self.maintenance.values()),
            {k: list(v) for k, v in self.changes.items()},
            list(self.notifications.by_id.values()),
            dict(self.used_links),
            dict(self.opted_out),
            set(self.opt_message_sids),
            dict(self.beats),
            list(self.api_heartbeats.values()),
            list(self.overrides.values()),
            dict(self.calendar_generations),
            dict(self.reports_sent),
            analytics.capture(self.analytics),
            self.bundles.to_snapshot(),
            dict(self.seen_requests),
        )

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> SystemState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(
                f"snapshot state version {data.get('version')!r} is not {STATE_VERSION}"
            )
        s = cls()
        s.last_seq = data["last_seq"]
        s.last_ts = to_datetime(data.get("last_ts"))
        s.next_number = data["next_number"]
        s.config_digest = data.get("config_digest")
        for raw in data["incidents"]:
            inc = incident_from_json(raw)
            s.incidents[inc.id] = inc
            if inc.status is not Status.RESOLVED:
                s.open_by_key[(inc.service_id, inc.dedup_key)] = inc.id
        for row in data["archive"]:
            summary = summary_from_json(row)
            s.archive[summary.id] = summary
        for raw in data["maintenance"]:
            w = MaintenanceWindow(
                raw["id"],
                raw["service_id"],
                datetime.fromisoformat(raw["start"]),
                datetime.fromisoformat(raw["end"]),
                raw.get("reason"),
                raw.get("by"),
            )
            s.maintenance[w.id] = w
        for raw in data.get("notifications", ()):
            s.notifications.add(notification_from_json(raw))
        for sid, lst in data["changes"].items():
            s.changes[sid] = [decode(ChangeRecorded.TYPE, c) for c in lst]  # type: ignore[misc]
        # (snapshots written before these existed have none)
        for link_id, expires in data.get("used_links", ()):
            s.used_links[link_id] = datetime.fromisoformat(expires)
        for method, address, user_id in data.get("opted_out", ()):
            s.opted_out[(method, address)] = user_id
        s.opt_message_sids.update(data.get("opt_message_sids", ()))
        for name, pinged, late, down_at, down, failed in data.get("beats", ()):
            s.beats[name] = Beat(
                datetime.fromisoformat(pinged),
                datetime.fromisoformat(late),
                datetime.fromisoformat(down_at),
                down,
                failed,
            )
        for name, service_id, interval, grace in data.get("api_heartbeats", ()):
            s.api_heartbeats[name] = HeartbeatSpec(
                name, service_id, timedelta(seconds=interval), timedelta(seconds=grace), "api"
            )
        for oid, sid, user, start, end, by in data.get("overrides", ()):
            s.overrides[oid] = ApiOverride(
                oid, sid, user, datetime.fromisoformat(start), datetime.fromisoformat(end), by
            )
        s.calendar_generations.update(data.get("calendar_generations", {}))
        for report, due in data.get("reports_sent", {}).items():
            s.reports_sent[report] = datetime.fromisoformat(due)
        # (a snapshot older than analytics has none: start-up folds the log into it)
        s.analytics = analytics.from_snapshot(data.get("analytics"), s.last_seq)
        s.bundles = BundleBook.from_snapshot(data.get("bundles"))
        for key, expires in data.get("seen_requests", ()):
            s.seen_requests[key] = datetime.fromisoformat(expires)
        codes = sorted(
            [(r.number, r.short_code, r.id) for r in s.archive.values()]
            + [(i.number, i.short_code, i.id) for i in s.incidents.values()]
        )
        for _, code, iid in codes:
            s.by_code[code] = iid
        return s


@dataclass(slots=True)
class StateCapture:
    """The state as `SystemState.capture()` took it: its own copies of the collections,
    which hold immutable values only (incidents, summaries, notifications...), so the state
    moving on changes nothing here. `to_snapshot` turns it into the snapshot (and notes the
    resolved incidents it found, `resolved`, for `SystemState.compact`)."""

    last_seq: int
    last_ts: datetime | None
    next_number: int
    config_digest: str | None
    incidents: dict[str, Incident]  # open and resolved, as the state holds them
    archive: dict[str, IncidentSummary]
    maintenance: list[MaintenanceWindow]
    changes: dict[str, list[ChangeRecorded]]
    notifications: list[Notification]
    used_links: dict[str, datetime]
    opted_out: dict[tuple[str, str], str]
    opt_message_sids: set[str]
    beats: dict[str, Beat]
    api_heartbeats: list[HeartbeatSpec]
    overrides: list[ApiOverride]
    calendar_generations: dict[str, int]
    reports_sent: dict[str, datetime]
    analytics: analytics.LedgerCapture
    bundles: dict[str, Any]  # (BundleBook.to_snapshot: copies already)
    seen_requests: dict[str, datetime]
    resolved: list[Incident] | None = None  # once `to_snapshot` ran: the resolved incidents

    def to_snapshot(self, pause: Pause = still) -> dict[str, Any]:
        """`SystemState.to_snapshot()` as of the capture, the same value, built a piece at a
        time with a `pause` between pieces (pacing.py): the snapshot writer calls it in its
        worker thread, with a pause that lets the event loop have the interpreter.

        A capture makes one snapshot: it lets go of its copies of the incidents and the
        notifications here (freeing them is a few ms at 36,000 incidents, which the event
        loop would spend when it drops the capture), and a second call raises."""
        if self.resolved is not None:
            raise RuntimeError("this capture made its snapshot already")
        # (no list or set of 36,000 made that need not be: each is one more that the garbage
        # collector's next young collection scans, and in this thread that stops the loop too)
        incidents = self.incidents
        archive = dict(self.archive)
        resolved = []
        for part in pieces(incidents.values(), pause):
            for inc in part:
                if inc.status is Status.RESOLVED:
                    archive[inc.id] = summarize(inc)
                    resolved.append(inc)
        self.resolved = resolved
        opened = (inc for inc in incidents.values() if inc.status is not Status.RESOLVED)
        whole = sorted_in_pieces(opened, pause, _BY_NUMBER)

        def live(n: Notification) -> bool:  # of an open incident, or itself in flight
            inc = incidents.get(n.incident_id)
            return (inc is not None and inc.status is not Status.RESOLVED) or n.open

        last_ts = self.last_ts
        snapshot = {
            "version": STATE_VERSION,
            "last_seq": self.last_seq,
            "last_ts": last_ts,
            "next_number": self.next_number,
            "config_digest": self.config_digest,
            "incidents": whole,
            "archive": sorted_in_pieces(archive.values(), pause, _BY_NUMBER),
            "maintenance": self.maintenance,
            "changes": self.changes,
            "notifications": joined(
                list(filter(live, part)) for part in pieces(self.notifications, pause)
            ),
            "used_links": [
                [link_id, expires]
                for link_id, expires in self.used_links.items()
                if last_ts is None or expires > last_ts
            ],
            "opted_out": [[m, a, u] for (m, a), u in self.opted_out.items()],
            "opt_message_sids": sorted_in_pieces(self.opt_message_sids, pause),
            "beats": [
                [name, b.pinged_at, b.late_at, b.down_at, b.down, b.failed]
                for name, b in self.beats.items()
            ],
            "api_heartbeats": [
                [h.name, h.service_id, h.interval.total_seconds(), h.grace.total_seconds()]
                for h in self.api_heartbeats
            ],
            "overrides": [
                [o.id, o.schedule_id, o.user, o.start, o.end, o.by] for o in self.overrides
            ],
            "calendar_generations": self.calendar_generations,
            "reports_sent": self.reports_sent,
            "analytics": self.analytics.to_snapshot(pause),
            "bundles": self.bundles,
            "seen_requests": [
                [key, expires]
                for key, expires in self.seen_requests.items()
                if last_ts is None or expires > last_ts
            ],
        }
        self.incidents = {}
        pause()
        self.notifications = []
        pause()
        return snapshot


_Fold = Callable[[SystemState, Any, int, datetime], object]


def _evolving(step: Callable[[Incident, Any, int, datetime], Incident]) -> _Fold:
    """The fold of an event type that only evolves its incident (by `step`)."""

    def fold(state: SystemState, event: Any, seq: int, at: datetime) -> None:
        incidents = state.incidents
        iid = event.incident_id
        current = incidents.get(iid)
        if current is None:  # archived, or never opened (it raises)
            state._evolved(event, seq, at)
        else:
            incidents[iid] = step(current, event, seq, at)

    return fold


FOLDS: dict[type, _Fold] = {
    **{t: _evolving(step) for t, step in STEPS.items()},  # those that only evolve their incident
    IncidentOpened: SystemState._opened,
    IncidentResolved: SystemState._resolved,
    LinkUsed: SystemState._link_used,
    NotificationRequested: SystemState._requested,
    NotificationSent: SystemState._notification_sent,
    NotificationFailed: SystemState._notification,
    NotificationDelivered: SystemState._notification,
    NotificationCancelled: SystemState._notification,
}
"""Each incident event type's fold into the state, `FOLDS[type(event)](state, event, seq,
at)`: one look-up by type on the hot path of `apply` (every other event goes through
`_apply_other`)."""


def maintenance_reason(
    svc: ServiceRules, at: datetime, state: SystemState | None = None
) -> str | None:
    """Why `svc` is in maintenance at `at`, or None: the first of its configured windows that
    covers the instant, else a window set through the API (held in `state`)."""
    for w in svc.maintenance:
        if w.covers(at):
            return w.reason or "maintenance window"
    win = state.maintenance_for(svc.id, at) if state is not None else None
    return None if win is None else win.reason or "maintenance window"
