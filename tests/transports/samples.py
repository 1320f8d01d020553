"""Sample incidents and messages for the transport tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pager.core.model import Alert, Incident, Status, short_code
from pager.transports.base import Message

PUBLIC_URL = "https://pager.example.test"
EPOCH = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
SHORT_TIMEOUT = timedelta(milliseconds=300)


def incident(**changes: Any) -> Incident:
    alert = Alert(
        key="disk",
        status="firing",
        summary="db-1 disk full",
        severity="critical",
        source="db-1",
        first_seen=EPOCH,
        last_seen=EPOCH,
        links=({"href": "https://grafana.example.test/d/disk", "text": "Disk dashboard"},),
    )
    inc = Incident(
        id="inc-7",
        number=7,
        short_code=short_code(7),
        service_id="checkout",
        dedup_key="disk",
        integration="pagerduty",
        title="db-1 disk full",
        severity="critical",
        urgency="high",
        status=Status.TRIGGERED,
        created_at=EPOCH,
        updated_at=EPOCH,
        alerts={"disk": alert},
    )
    return replace(inc, **changes)


def message(method: str, address: str | None, **changes: Any) -> Message:
    base = Message(
        notification_id="inc-7-n1",
        kind="page",
        method=method,
        address=address,
        incident=incident(),
        service_name="Checkout API",
        user_id="alice",
        user_name="Alice Example",
        links={"acknowledge": f"{PUBLIC_URL}/a/tok-ack", "resolve": f"{PUBLIC_URL}/a/tok-res"},
        public_url=PUBLIC_URL,
    )
    return replace(base, **changes)
