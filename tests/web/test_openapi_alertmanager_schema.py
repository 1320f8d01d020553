"""The Alertmanager webhook's schema in the OpenAPI document says what ingest accepts, both
ways: a body the schema calls invalid is refused, one it calls valid is read. (schemathesis
found bodies on which they disagreed: a group without `status`, an alert without `status`
or `labels` but with a fingerprint, `truncatedAlerts: -1`, `truncatedAlerts: 9007199254740992.0`.)"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from pager.core.text import clean_json
from pager.errors import InvalidEvent
from pager.ingest.alertmanager import parse_webhook
from pager.ingest.opsgenie import parse_create
from pager.web.openapi import document


def _validator() -> Any:
    doc = document()
    schema = {"$ref": "#/components/schemas/AlertmanagerWebhook", **doc}
    return jsonschema_rs.validator_for(schema)


VALIDATOR = _validator()
ALERT = {"status": "firing", "labels": {"alertname": "Down"}}


def group(**fields: Any) -> dict[str, Any]:
    return {"version": "4", "groupKey": "g", "status": "firing", "alerts": [ALERT], **fields}


BODIES = {
    "a whole group": (group(), True),
    "an alert read by its fingerprint alone": (group(alerts=[{"fingerprint": "ab12"}]), True),
    "an alert without status, endsAt passed": (
        group(alerts=[{"labels": {"a": "b"}, "endsAt": "2026-01-01T00:00:00Z"}]),
        True,
    ),
    "labels and annotations null beside a fingerprint": (
        group(alerts=[{"fingerprint": "f", "labels": None, "annotations": None}]),
        True,
    ),
    "version as a number": (group(version=4), True),
    "group labels null": (group(groupLabels=None, commonLabels=None), True),
    "no status on the group": (
        {"version": "4", "groupKey": "g", "alerts": [ALERT]},
        False,
    ),
    "an alert with neither labels nor fingerprint": (group(alerts=[{"status": "firing"}]), False),
    "an alert with empty labels and no fingerprint": (
        group(alerts=[{"status": "firing", "labels": {}}]),
        False,
    ),
    "a fingerprint of controls only": (group(alerts=[{"fingerprint": "\x8c\x8f"}]), False),
    "truncatedAlerts below zero": (group(truncatedAlerts=-1), False),
    "alerts null": (group(alerts=None), False),
    # found at 600 examples: JSON's 2^53 written as a float is the largest integer allowed
    "truncatedAlerts 2^53 written as a float": (group(truncatedAlerts=float(2**53)), True),
    "truncatedAlerts past 2^53 as a float": (group(truncatedAlerts=float(2**53 + 2)), False),
    # a limit counts what ingest keeps: controls are dropped first
    "a fingerprint of 64 and a control": (group(alerts=[{"fingerprint": "f" * 64 + "\x01"}]), True),
    "a fingerprint of 65": (group(alerts=[{"fingerprint": "f" * 65}]), False),
    "a status that is neither": (group(status="pending"), False),
}


@pytest.mark.parametrize("name", list(BODIES))
def test_the_schema_and_ingest_agree(name: str) -> None:
    body, valid = BODIES[name]
    assert VALIDATOR.is_valid(body) is valid, f"the schema calls it {'in' * valid}valid"
    problems: list[str] = []
    try:
        parse_webhook(clean_json(body), "am-key")  # as ingest reads it: controls dropped
    except InvalidEvent as e:
        problems = e.errors
    assert (not problems) is valid, (name, problems)


def test_opsgenie_arrays_pager_does_not_read_are_any_arrays() -> None:
    """(Found at 600 examples: `visibleTo: [348213]` was taken though the document wanted
    objects.) `responders`, `visibleTo` and `actions` are kept in the alert's details as
    sent and never read: the document takes any array, as ingest does."""
    doc = document()
    validator = jsonschema_rs.validator_for({"$ref": "#/components/schemas/OpsgenieAlert", **doc})
    for body in (
        {"message": "m", "visibleTo": [348213], "responders": ["x"], "actions": [{}]},
        {"message": "m", "visibleTo": [{"type": "team"}], "actions": ["Restart"]},
    ):
        assert validator.is_valid(body), body
        parse_create(clean_json(body), "og-key")
    bad = {"message": "m", "visibleTo": {"not": "an array"}}
    assert not validator.is_valid(bad)
    with pytest.raises(InvalidEvent):
        parse_create(clean_json(bad), "og-key")
