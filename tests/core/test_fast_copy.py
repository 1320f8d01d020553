"""The fast constructors and copies of replay (pager/core/_fast.py) and the generated event
decoders make exactly what the dataclasses' own `__init__` and `dataclasses.replace` make:
equal values, of the class itself, still frozen."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pager.core._fast import copier, maker
from pager.core.events import (
    EVENT_TYPES,
    Attribution,
    IncidentAcknowledged,
    IncidentEscalated,
    NotificationRequested,
    decode,
    encode,
)
from pager.core.model import Alert, EscalationState, Incident, Page, Status, TimelineEntry
from pager.core.notifications import Notification
from pager.core.vocabulary import AlertStatus, NotificationKind

T = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def incident() -> Incident:
    return Incident(
        id="inc-1",
        number=1,
        short_code="MTA",
        service_id="checkout",
        dedup_key="k",
        integration="generic",
        title="CPU",
        severity="critical",
        urgency="high",
        status=Status.TRIGGERED,
        created_at=T,
        updated_at=T,
        history=(TimelineEntry(1, T, "incident.opened", "Opened"),),
    )


def test_a_copy_is_dataclasses_replace_and_stays_frozen() -> None:
    inc = incident()
    changes = {"status": Status.ACKNOWLEDGED, "acknowledged_by": "alice", "last_seq": 9}
    fast = copier(Incident)(inc, changes)
    assert type(fast) is Incident
    assert fast == dataclasses.replace(inc, **changes)  # type: ignore[arg-type]
    assert fast.alerts is inc.alerts and inc.status is Status.TRIGGERED  # the original stays
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.title = "changed"  # type: ignore[misc]


def test_a_copy_of_named_fields_is_dataclasses_replace() -> None:
    inc = incident()
    copy = copier(Incident, ("last_seq", "status", "acknowledged_by"))
    fast = copy(inc, 9, Status.ACKNOWLEDGED, "alice")
    assert type(fast) is Incident
    assert fast == dataclasses.replace(
        inc, last_seq=9, status=Status.ACKNOWLEDGED, acknowledged_by="alice"
    )
    assert fast.history is inc.history and inc.status is Status.TRIGGERED
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.title = "changed"  # type: ignore[misc]
    with pytest.raises(AssertionError):
        copier(Incident, ("colour",))  # a field the class does not have


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (Page, ("alice", T, 0, 0, 1, None), {}),
        (EscalationState, ("default", 1, 0, T), {}),
        (Alert, ("k", AlertStatus.FIRING, "CPU", "critical", None, T, T), {"count": 2}),
        (
            Notification,
            ("inc-1-n1", "inc-1", NotificationKind.PAGE, "sms", "+1", "alice", None, 0, None, T),
            {},
        ),
        (Incident, (), dataclasses.asdict(incident()) | {"history": ()}),
    ],
)
def test_a_made_value_is_the_constructors(cls: type, args: tuple, kwargs: dict) -> None:
    made = maker(cls)(*args, **kwargs)
    assert type(made) is cls and made == cls(*args, **kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(cls)[0].name, "x")


def test_defaults_are_the_dataclasses_and_factories_give_fresh_values() -> None:
    made = maker(Incident)(
        id="i", number=1, short_code="X", service_id="s", dedup_key="k", integration="g",
        title="t", severity="info", urgency="low", status=Status.TRIGGERED, created_at=T,
        updated_at=T,
    )  # fmt: skip
    assert made.pages == {} and made.messages == {} and made.paging is True
    required = {f.name: getattr(made, f.name) for f in dataclasses.fields(made) if f.name in (
        "id", "number", "short_code", "service_id", "dedup_key", "integration", "title",
        "severity", "urgency", "status", "created_at", "updated_at")}  # fmt: skip
    assert maker(Incident)(**required).pages is not made.pages  # a fresh dict each time
    assert made == Incident(**{f.name: getattr(made, f.name) for f in dataclasses.fields(made)})


def test_the_generated_decoders_make_what_the_classes_make() -> None:
    ack = IncidentAcknowledged(
        incident_id="inc-1", attribution=Attribution("alice", "slack"), ack_timeout_at=T
    )
    esc = IncidentEscalated(
        incident_id="inc-1", policy_id="p", level=0, round=1, next_at=T + timedelta(minutes=5),
        targets=("alice",), paged=("alice",), first_after=(0.0,),
    )  # fmt: skip
    req = NotificationRequested(
        incident_id="inc-1", notification_id="inc-1-n1", kind=NotificationKind.PAGE,
        method="sms", address="+1", user_id="alice", step=0,
    )  # fmt: skip
    for ev in (ack, esc, req):
        again = decode(ev.TYPE, orjson.loads(orjson.dumps(encode(ev))))
        assert type(again) is type(ev) and again == ev
    assert type(decode(req.TYPE, encode(req)).kind) is NotificationKind  # type: ignore[attr-defined]


def test_a_decoder_refuses_what_the_class_would() -> None:
    with pytest.raises(TypeError):
        decode("incident.acknowledged", {"incident_id": "inc-1", "colour": "red"})
    with pytest.raises(KeyError):
        decode("incident.acknowledged", {"by": "alice"})  # no incident_id
    with pytest.raises(KeyError):
        decode("notification.requested", {
            "incident_id": "i", "notification_id": "n", "kind": "carrier pigeon", "method": "sms",
        })  # fmt: skip
    with pytest.raises(ValueError):
        decode("incident.snoozed", {"incident_id": "i", "until": "not an instant"})
    assert set(EVENT_TYPES) >= {"incident.opened", "notification.sent", "heartbeat.pinged"}
