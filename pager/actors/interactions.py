"""Acting on a person's answer from a channel — a Slack button, an SMS reply, a key pressed
in a call, an email or Teams link — once the channel's hook has verified the request and
knows which pager user sent it: the command, `by` that user and `via` that channel, goes
through the router like any other request, and the person gets one sentence back saying
what happened, or politely why nothing did (the incident is already resolved, the policy
has no further level, pager is busy).

Who is a pager user is the hook's business (a Slack user id, a phone number, a signed
link); an answer from anyone else never reaches `perform`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import trio

from pager.core.archive import IncidentSummary
from pager.core.commands import Acknowledge, Command, Escalate, Resolve, Snooze, UseLink
from pager.core.escalation import next_level
from pager.core.links import LinkClaims
from pager.core.model import Incident, Status
from pager.core.rules import RulesBook
from pager.core.vocabulary import NotificationKind
from pager.errors import PagerError, TransitionRefused, Unavailable
from pager.transports.base import Message

from .messages import Act
from .system import System

__all__ = [
    "ACTIONS",
    "VIA",
    "Answer",
    "label",
    "message_of",
    "perform",
    "perform_all",
    "user_with_contact",
]

log = logging.getLogger("pager.interactions")

ACTIONS = ("acknowledge", "resolve", "snooze", "escalate")
VIA = {"slack": "Slack", "sms": "SMS", "voice": "phone", "email": "email", "teams": "Teams"}
_DONE = {
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "snooze": "snoozed",
    "escalate": "escalated",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of an answer: `done` when the action was taken now, `text` one sentence
    for the person, `incident` as it stands afterwards (None when there is none);
    `replayed` when the request had been acted on already (see `perform`'s `claim`)."""

    done: bool
    text: str
    incident: Incident | None = None
    replayed: bool = False


def user_with_contact(rules: RulesBook, method: str, address: str) -> str | None:
    """The pager user whose contact for `method` is `address` (a Slack user id, an E.164
    number), or None."""
    if not address:
        return None
    for user in rules.users.values():
        if user.contacts.get(method) == address:
            return user.id
    return None


def label(inc: Incident | IncidentSummary) -> str:
    """How answers name an incident: `#12 (K7Q) "db-1 disk full"`."""
    title = inc.title if len(inc.title) <= 60 else inc.title[:59] + "..."
    return f'#{inc.number} ({inc.short_code}) "{title}"'


def message_of(
    system: System,
    inc: Incident,
    kind: NotificationKind = NotificationKind.UPDATE,
    topic: str | None = None,
) -> Message:
    """The incident as a transport message (for Slack blocks, the words of a call)."""
    rules = system.current_rules()
    svc = rules.services.get(inc.service_id)
    return Message(
        notification_id="",
        kind=kind,
        method="slack",
        address=None,
        incident=inc,
        service_name=(svc.name or svc.id) if svc else inc.service_id,
        topic=topic,
        public_url=str(system.config.server.public_url),
        names=rules.names_of(inc.acknowledged_by, inc.resolved_by),
    )


def _already(inc: Incident | IncidentSummary, rules: RulesBook) -> str:
    status = str(inc.status)  # Status is a StrEnum; a summary holds the str
    who = inc.resolved_by if status == "resolved" else inc.acknowledged_by
    return f"{label(inc)} is already {status}" + (f" (by {rules.name_of(who)})" if who else "")


async def perform(
    system: System,
    *,
    user_id: str,
    incident_id: str,
    action: str,
    via: str,
    snooze: timedelta | None = None,
    link: LinkClaims | None = None,
    claim: Callable[[], Awaitable[bool]] | None = None,
) -> Answer:
    """Perform `action` (acknowledge, resolve, snooze for `snooze`, escalate to the next
    level) on `incident_id` as `user_id` via `via`; with `link`, as that signed link's one
    use. `claim` is awaited just before pager acts (not when there is nothing to do): it
    journals the request's id so that a replay of it acts on nothing, and says False when
    the request was acted on already. Never raises PagerError: every outcome is an Answer
    (LogUnavailable from `claim` propagates: nothing was done)."""
    rules = system.current_rules()
    name = rules.name_of(user_id)
    state = system.state
    current: Incident | IncidentSummary | None = state.incidents.get(incident_id)
    if current is None:
        current = state.archive.get(incident_id)
    if current is None:
        return Answer(False, f"There is no incident {incident_id}.")
    status = str(current.status)
    if status == Status.RESOLVED.value:
        log.info("%s %s %s via %s: already resolved", user_id, action, incident_id, via)
        return Answer(
            False, _already(current, rules) + ": nothing to do.", state.incidents.get(incident_id)
        )
    assert isinstance(current, Incident)
    if action == "acknowledge" and current.status is Status.ACKNOWLEDGED:
        return Answer(False, _already(current, rules) + ".", current)
    command: Command
    if action == "acknowledge":
        command = Acknowledge(by=user_id, via=via)
    elif action == "resolve":
        command = Resolve(by=user_id, via=via)
    elif action == "snooze" and snooze is not None:
        command = Snooze(duration=snooze, by=user_id, via=via)
    elif action == "escalate":
        policy = rules.service(current.service_id).policy
        esc = current.escalation
        level = next_level(policy, esc.policy_id if esc else None, esc.level if esc else None)
        if level is None:
            return Answer(
                False,
                f"{label(current)} is at the last level of its escalation policy: "
                "there is nobody further to escalate to.",
                current,
            )
        command = Escalate(level=level, by=user_id, via=via)
    else:
        return Answer(False, f"pager cannot {action} an incident.", current)
    if link is not None:
        assert isinstance(command, Acknowledge | Resolve | Escalate)
        command = UseLink(link_id=link.link_id, expires_at=link.expires_at, command=command)
    if claim is not None and not await claim():
        return Answer(False, "This answer was received already.", current, replayed=True)
    try:
        outcome = await system.submit(Act(incident_id, command))
    except TransitionRefused:
        now = state.incidents.get(incident_id) or current
        log.info(
            "%s %s %s via %s: refused, it is %s", user_id, action, incident_id, via, now.status
        )
        return Answer(False, _already(now, rules) + ": nothing to do.", now)
    except Unavailable:
        return Answer(False, "pager is busy: nothing was done. Please try again.", current)
    except PagerError as e:
        log.warning("%s %s %s via %s failed: %s", user_id, action, incident_id, via, e.message)
        return Answer(False, f"Nothing was done: {e.message}", current)
    after = outcome.incident or current
    log.info("%s %s %s via %s", user_id, _DONE[action], incident_id, via)
    return Answer(True, _done_text(action, after, name, via), after)


ALL_AT_ONCE = 16  # acknowledgements of a bundle in flight at once


async def perform_all(
    system: System,
    *,
    user_id: str,
    incident_ids: Sequence[str],
    via: str,
    link: LinkClaims | None = None,
    claim: Callable[[], Awaitable[bool]] | None = None,
) -> Answer:
    """Acknowledge every incident of `incident_ids` (a bundle's, or every one paged to the
    person) that is still triggered, each as `user_id` via `via` — the "Acknowledge all" of
    a bundle; with `link`, each as that signed link's use. `claim` as in `perform`. Never
    raises PagerError: the Answer counts what was done."""
    rules = system.current_rules()
    name = rules.name_of(user_id)
    state = system.state
    todo = [
        iid
        for iid in dict.fromkeys(incident_ids)
        if (inc := state.incidents.get(iid)) is not None and inc.status is Status.TRIGGERED
    ]
    if not todo:
        return Answer(False, f"All {len(incident_ids)} were acknowledged or resolved already.")
    if claim is not None and not await claim():
        return Answer(False, "This answer was received already.", replayed=True)
    done: list[str] = []
    refused: list[str] = []
    failed: list[str] = []
    limiter = trio.CapacityLimiter(ALL_AT_ONCE)

    async def one(iid: str) -> None:
        command: Command = Acknowledge(by=user_id, via=via)
        if link is not None:
            assert isinstance(command, Acknowledge)
            command = UseLink(link_id=link.link_id, expires_at=link.expires_at, command=command)
        async with limiter:
            try:
                outcome = await system.submit(Act(iid, command))
            except TransitionRefused:
                refused.append(iid)  # resolved meanwhile
                return
            except PagerError as e:
                log.warning("%s acknowledge %s via %s failed: %s", user_id, iid, via, e.message)
                failed.append(iid)
                return
        (done if outcome.changed else refused).append(iid)

    async with trio.open_nursery() as nursery:
        for iid in todo:
            nursery.start_soon(one, iid)
    log.info("%s acknowledged %d incidents at once via %s", user_id, len(done), via)
    text = f"{_count(len(done))} acknowledged by {name} via {VIA.get(via, via)}"
    already = len(incident_ids) - len(todo) + len(refused)
    if already:
        text += f"; {already} already acknowledged or resolved"
    if failed:
        text += f"; {len(failed)} could not be (pager is busy): try again"
    return Answer(bool(done), text + ".")


def _count(n: int) -> str:
    return "1 incident" if n == 1 else f"{n} incidents"


def _done_text(action: str, inc: Incident, name: str, via: str) -> str:
    text = f"{label(inc)} {_DONE[action]} by {name} via {VIA.get(via, via)}"
    if action == "snooze" and inc.snoozed_until is not None:
        text += f" until {_hhmm(inc.snoozed_until)}"
    elif action == "escalate" and inc.escalation is not None:
        text += f" to level {inc.escalation.level + 1}"
    return text + "."


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M UTC")
