"""The fast makers of what every alert passes along (a request to the router, its outcome, an
opening command, a record's draft; pager/core/_fast.py) make exactly what the dataclasses'
own `__init__` makes: equal values, of the class itself, still frozen, and a fresh reply slot
for every request."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from pager.actors import router
from pager.actors.messages import Ingest, Outcome, new_ingest, new_outcome
from pager.core.commands import NewIncident, Open, TriggerAlert
from pager.store.base import Draft, new_draft

T = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
ALERT = TriggerAlert(key="k", summary="disk full", severity="critical")


def _same(made: object, built: object, *, skip: tuple[str, ...] = ()) -> None:
    assert type(made) is type(built)
    for f in dataclasses.fields(built):  # type: ignore[arg-type]
        if f.name not in skip:
            assert getattr(made, f.name) == getattr(built, f.name), f.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, dataclasses.fields(built)[0].name, None)  # type: ignore[arg-type]


def test_an_ingest_request_made_fast_is_the_dataclass_with_a_reply_of_its_own() -> None:
    a = new_ingest("checkout", "k", "pagerduty", ALERT)
    b = new_ingest("checkout", "k", "pagerduty", ALERT, opens=False)
    _same(a, Ingest("checkout", "k", "pagerduty", ALERT), skip=("reply",))
    _same(b, Ingest("checkout", "k", "pagerduty", ALERT, opens=False), skip=("reply",))
    assert a.opens and not b.opens
    assert a.reply is not b.reply  # the default factory runs for each request
    a.reply.set(Outcome(None, True))
    assert a.reply.done and not b.reply.done


def test_outcome_draft_and_opening_commands_made_fast_are_the_dataclasses() -> None:
    _same(new_outcome(None, True), Outcome(None, True))
    assert new_outcome(None, False) == Outcome(None, False)
    draft = Draft("incident.opened", "inc-1", T, {"a": 1}, 1, ALERT)
    assert new_draft("incident.opened", "inc-1", T, {"a": 1}, 1, ALERT) == draft
    _same(new_draft("incident.opened", "inc-1", T, {"a": 1}, 1, ALERT), draft)
    new = NewIncident(
        incident_id="inc-7", number=7, service_id="checkout", dedup_key="k", integration="pd"
    )
    made = router._new_incident(
        incident_id="inc-7", number=7, service_id="checkout", dedup_key="k", integration="pd"
    )
    _same(made, new)
    assert made == new
    _same(router._open(new=made, first=ALERT), Open(new=new, first=ALERT))
