"""The lifecycle tables are the state machine: every (status, command) pair behaves as
`COMMANDS` says (refused when missing; each listed target reached, no other), and random
command sequences through `decide` and `evolve` move the status only as `COMMANDS` and
`EVENTS` say."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pager.core.commands import (
    Acknowledge,
    AddNote,
    AlertObservation,
    Command,
    Edit,
    Escalate,
    Fallback,
    NewIncident,
    Open,
    Resolve,
    ResolveAlert,
    Snooze,
    Tick,
    TriggerAlert,
    UpsertGroup,
    UseLink,
)
from pager.core.events import Event
from pager.core.incident import decide_full, evolve
from pager.core.lifecycle import COMMANDS, EVENTS, VERBS
from pager.core.model import Incident, Status
from pager.core.rules import (
    Context,
    LevelRules,
    NotifyRule,
    PolicyRules,
    ServiceRules,
    Target,
    UserRules,
)
from pager.errors import BadRequest, Conflict, TransitionRefused

T0 = datetime(2026, 3, 8, 3, 0, tzinfo=UTC)
POLICY = PolicyRules(
    "default",
    (
        LevelRules((Target("user", "alice"),), timedelta(minutes=5)),
        LevelRules((Target("user", "bob"),), timedelta(minutes=10)),
    ),
    repeat=1,
)
SVC = ServiceRules(
    "checkout",
    policy=POLICY,
    ack_timeout=timedelta(minutes=30),
    auto_resolve_after=timedelta(hours=4),
    chat=(("slack", "#ops"),),
)
USERS = {
    uid: UserRules(
        uid,
        rules=(NotifyRule(timedelta(0), "slack"), NotifyRule(timedelta(minutes=1), "sms")),
        contacts={"slack": f"@{uid}", "sms": "+15550100"},
    )
    for uid in ("alice", "bob")
}
NEW = NewIncident(
    incident_id="inc-1", number=1, service_id="checkout", dedup_key="k1", integration="generic"
)
FIRING = AlertObservation(key="k1", firing=True, summary="CPU high", severity="critical")
OPENINGS: list[Command] = [
    Open(new=NEW, first=TriggerAlert(key="k1", summary="CPU high", severity="critical")),
    Open(new=NEW, first=UpsertGroup(alerts=(FIRING,))),
    Open(
        new=NEW,
        first=UpsertGroup(
            alerts=(AlertObservation(key="k1", firing=False, summary="x", severity="critical"),)
        ),
    ),
]
# commands of every type, in variants that meet the alerts differently
COMMAND_POOL: list[Command] = [
    TriggerAlert(key="k1", summary="CPU higher", severity="critical"),
    TriggerAlert(key="k2", summary="Disk full", severity="warning"),
    ResolveAlert(key="k1", via="generic"),
    ResolveAlert(key="k2", via="generic"),
    UpsertGroup(alerts=(FIRING,)),
    UpsertGroup(alerts=(FIRING,), truncated=True),
    UpsertGroup(
        alerts=(AlertObservation(key="k1", firing=False, summary="CPU", severity="critical"),)
    ),
    Acknowledge(by="alice", via="slack"),
    Snooze(duration=timedelta(minutes=10), by="alice", via="api"),
    Resolve(by="bob", via="api"),
    Escalate(level=1, by="bob", via="api"),
    Escalate(level=2, by="bob", via="api"),
    AddNote(text="looking", by="alice", via="api"),
    Edit(title="Renamed", by="alice", via="api"),
    Fallback(user_id="alice", notification_id="inc-1-n1"),
    Tick(),
]


def ctx(at: datetime) -> Context:
    return Context(service=SVC, now=at, users=USERS)


def status_of(inc: Incident | None) -> Status | None:
    return None if inc is None else inc.status


def apply(inc: Incident | None, command: Command, at: datetime) -> Incident | None:
    """decide, then fold the events as replay would, checking each status change against
    EVENTS; returns the incident after them. Raises decide's refusals."""
    events, decided = decide_full(inc, command, ctx(at))
    for seq, ev in enumerate(events, start=1):
        before = status_of(inc)
        inc = evolve(inc, ev, seq, at)
        assert_event_moves_as_the_table_says(before, ev, inc.status)
    assert status_of(inc) == status_of(decided)
    return inc


LIFECYCLE_EVENTS = {t for row in EVENTS.values() for t in row}


def assert_event_moves_as_the_table_says(before: Status | None, ev: Event, after: Status) -> None:
    row = EVENTS[before]
    assert after == row.get(type(ev), before)
    if type(ev) in LIFECYCLE_EVENTS:
        # decide never journals a lifecycle event that the status it meets does not list
        assert type(ev) in row, f"{type(ev).__name__} met {before}"


# ------------------------------------------------------------------ every pair


def situations() -> dict[str, list[tuple[Command, int]]]:
    """Incidents in each status, built by commands at minute offsets."""
    o = OPENINGS[0]
    return {
        "triggered": [(o, 0)],
        "triggered, two alerts": [(o, 0), (COMMAND_POOL[1], 0)],
        "triggered, a group": [(OPENINGS[1], 0)],
        "acknowledged": [(o, 0), (Acknowledge(by="alice"), 1)],
        "acknowledged, two alerts": [(o, 0), (COMMAND_POOL[1], 0), (Acknowledge(), 1)],
        "snoozed": [(o, 0), (Snooze(duration=timedelta(minutes=10)), 1)],
        "resolved": [(o, 0), (Resolve(), 1)],
    }


def test_every_status_and_command_pair_is_as_the_table_says() -> None:
    observed: dict[tuple[Status | None, type], set[Status | None]] = defaultdict(set)
    refused: set[tuple[Status | None, type]] = set()
    for steps in situations().values():
        inc: Incident | None = None
        for command, minute in steps:
            inc = apply(inc, command, T0 + timedelta(minutes=minute))
        assert inc is not None
        for command in [*COMMAND_POOL, *OPENINGS]:
            for minute in (2, 45, 300):  # nothing due; ack timeout/snooze end; auto-resolve
                key = (inc.status, type(command))
                try:
                    after = apply(inc, command, T0 + timedelta(minutes=minute))
                except TransitionRefused as e:
                    assert e.status == inc.status.value
                    assert e.command == VERBS[type(command)].replace("_", " ")
                    refused.add(key)
                    continue
                except Conflict:
                    assert isinstance(command, Open)  # an incident that exists is not opened
                    refused.add(key)
                    continue
                observed[key].add(status_of(after))
    # the incident that does not exist yet: Open is all it takes
    for command in OPENINGS:
        observed[(None, Open)].add(status_of(apply(None, command, T0)))
    for command in COMMAND_POOL:
        try:
            apply(None, command, T0)
        except BadRequest:
            refused.add((None, type(command)))
        else:
            raise AssertionError(f"{type(command).__name__} without an incident")

    table = {(s, c): set(t) for s, row in COMMANDS.items() for c, t in row.items()}
    assert observed == table  # every listed target reached, no other
    for status in COMMANDS:
        for command in {type(c) for c in [*COMMAND_POOL, *OPENINGS]}:
            assert ((status, command) in refused) == (command not in COMMANDS[status])


def test_a_link_is_decided_as_its_command() -> None:
    inc = apply(None, OPENINGS[0], T0)
    inc = apply(inc, Resolve(), T0)
    link = UseLink(link_id="l1", expires_at=T0 + timedelta(days=1), command=Acknowledge())
    try:
        apply(inc, link, T0)
    except TransitionRefused as e:
        assert e.command == "acknowledge" and e.status == "resolved"
    else:
        raise AssertionError("an acknowledgement link acted on a resolved incident")


# ------------------------------------------------------------------ random sequences


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opening=st.sampled_from(OPENINGS[:2]),
    steps=st.lists(
        st.tuples(st.sampled_from(COMMAND_POOL), st.integers(min_value=0, max_value=90)),
        max_size=25,
    ),
)
def test_random_command_sequences_move_only_as_the_tables_say(
    opening: Command, steps: list[tuple[Command, int]]
) -> None:
    at = T0
    inc = apply(None, opening, at)
    assert inc is not None and inc.status is Status.TRIGGERED
    for command, minutes in steps:
        at += timedelta(minutes=minutes)
        before = inc.status
        row = COMMANDS[before]
        try:
            after = apply(inc, command, at)
        except TransitionRefused:
            assert type(command) not in row
            continue
        assert type(command) in row, f"{before} accepted {type(command).__name__}"
        assert after is not None
        assert after.status in row[type(command)], (
            f"{type(command).__name__}: {before} -> {after.status}"
        )
        inc = after
