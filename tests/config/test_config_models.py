"""The loaded models' defaults and the parsed forms they offer to the rest of pager."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from pager.config import Config, load_config_text
from pager.config.models import (
    Condition,
    EmailChannel,
    Journal,
    Restriction,
    Rotation,
    Server,
    Service,
    User,
)


def _load(data: dict[str, Any]) -> Config:
    return load_config_text(yaml.safe_dump(data))


def test_config_defaults() -> None:
    config = Config()
    assert config.server == Server(listen="127.0.0.1:8080", public_url="http://127.0.0.1:8080")
    assert config.server.ingest_listen is None
    assert config.data_dir == Path("./pager-data")
    assert config.auth.api_tokens == () and config.auth.link_secret is None
    assert not (config.users or config.schedules or config.escalation_policies)
    assert not (config.services or config.routing)
    assert config.channels.slack is None and config.channels.console is None
    assert config.templates.email.subject is None
    assert config.journal == Journal(
        segment_size=64 * 2**20,
        snapshot_every=50_000,
        snapshot_interval=dt.timedelta(minutes=5),
        fsync=True,
    )


def test_public_url_follows_listen_and_loses_its_trailing_slash() -> None:
    assert Server(listen="10.0.0.5:9000").public_url == "http://10.0.0.5:9000"
    assert Server(public_url="https://pager.example.com/").public_url == (
        "https://pager.example.com"
    )
    assert Server.model_validate({"listen": "[::1]:0"}).public_url == "http://[::1]:0"


def test_names_default_to_ids(base: dict[str, Any]) -> None:
    config = _load(base)
    assert config.users[0].name == "alice"
    assert config.schedules[0].name == "primary"
    assert config.escalation_policies[0].name == "default"
    assert config.services[0].name == "checkout"
    assert config.users[0].timezone == "UTC"
    assert User(id="zoe").name == "zoe"


def test_lookups_by_id(base: dict[str, Any]) -> None:
    config = _load(base)
    assert config.user("bob") is config.users[1]
    assert config.schedule("primary") is config.schedules[0]
    assert config.escalation_policy("default") is config.escalation_policies[0]
    assert config.service("checkout") is config.services[0]
    assert config.user("nobody") is None


def test_rotation_handoff_parsed() -> None:
    weekly = Rotation.model_validate({"every": "1w", "handoff": "Mon 09:30", "start": "2026-01-07"})
    assert weekly.handoff == "monday 09:30"
    assert (weekly.handoff_weekday, weekly.handoff_time) == (0, dt.time(9, 30))
    # 2026-01-07 is a Wednesday: the first turn starts the Monday after.
    assert weekly.first_handoff == dt.datetime(2026, 1, 12, 9, 30)
    daily = Rotation.model_validate({"every": "12h", "handoff": "18:00", "start": "2026-01-07"})
    assert (daily.handoff_weekday, daily.handoff_time) == (None, dt.time(18))
    assert daily.first_handoff == dt.datetime(2026, 1, 7, 18)
    assert daily.model_dump(mode="json") == {
        "every": "12h",
        "handoff": "18:00",
        "start": "2026-01-07",
    }


@pytest.mark.parametrize(
    ("start", "end", "offset", "length"),
    [
        ("09:00", "17:00", 9, 8),
        ("22:00", "06:00", 22, 8),
        ("00:00", "24:00", 0, 24),
        ("18:00", "24:00", 18, 6),
        ("09:00", "09:00", 9, 24),
    ],
)
def test_restriction_windows(start: str, end: str, offset: int, length: int) -> None:
    restriction = Restriction.model_validate({"start": start, "end": end})
    assert restriction.days == (0, 1, 2, 3, 4, 5, 6)
    assert restriction.start_offset == dt.timedelta(hours=offset)
    assert restriction.length == dt.timedelta(hours=length)


def test_restriction_days_are_a_sorted_set() -> None:
    restriction = Restriction.model_validate(
        {"days": ["fri", "Monday", "mon"], "start": "09:00", "end": "17:00"}
    )
    assert restriction.days == (0, 4)
    assert restriction.model_dump(mode="json")["days"] == ["monday", "friday"]


def test_notification_rules_by_urgency() -> None:
    user = User.model_validate(
        {
            "id": "a",
            "contacts": {"sms": "+15555550100"},
            "notification_rules": [
                {"after": "5m", "via": "voice", "urgency": "high"},
                {"after": "1m", "via": "sms"},
                {"after": "0m", "via": "email", "urgency": "low"},
            ],
        }
    )
    assert [rule.via for rule in user.rules_for("high")] == ["sms", "voice"]
    assert [rule.via for rule in user.rules_for("low")] == ["email", "sms"]
    assert user.contacts.has("sms") and user.contacts.has("console")
    assert not user.contacts.has("voice")


def test_service_defaults_and_urgency(base: dict[str, Any]) -> None:
    service = _load(base).services[0]
    assert service.ack_timeout is None and service.auto_resolve_after is None
    assert [service.urgency.of(s) for s in ("critical", "error", "warning", "info")] == [
        "high",
        "high",
        "low",
        "low",
    ]
    assert service.low_urgency.mode == "page"
    assert service.business_hours is None and service.maintenance == ()
    assert service.rate_limit is None  # opt-in: without it every event is accepted
    assert service.chat.slack_channel is None

    base["services"][0]["urgency"] = {"warning": "high"}
    base["services"][0]["low_urgency"] = {"mode": "business_hours"}
    base["services"][0]["business_hours"] = {"timezone": "Europe/Berlin"}
    service = _load(base).services[0]
    assert service.urgency.of("warning") == "high" and service.urgency.of("info") == "low"
    hours = service.business_hours
    assert hours is not None
    assert (hours.days, hours.start, hours.end) == ((0, 1, 2, 3, 4), dt.time(9), dt.time(17))


def test_maintenance_windows() -> None:
    service = Service.model_validate(
        {
            "id": "s",
            "escalation_policy": "p",
            "maintenance": [
                {
                    "start": "2026-03-01T22:00:00+01:00",
                    "end": "2026-03-02T02:00:00+01:00",
                    "reason": "database upgrade",
                }
            ],
        }
    )
    utc = dt.UTC
    assert service.in_maintenance(dt.datetime(2026, 3, 1, 21, 0, tzinfo=utc))
    assert not service.in_maintenance(dt.datetime(2026, 3, 2, 1, 0, tzinfo=utc))


@pytest.mark.parametrize(
    ("test", "value", "matches"),
    [
        ({"equals": "payments"}, "payments", True),
        ({"equals": "payments"}, "Payments", False),
        ({"regex": "^pay"}, "payments", True),
        ({"regex": "ments$"}, "payments-eu", False),
        ({"regex": "ment"}, "payments", True),
        ({"in": ["a", "b"]}, "b", True),
        ({"in": ["a", "b"]}, "c", False),
        ({"equals": "x"}, None, False),
    ],
)
def test_conditions_match(test: dict[str, Any], value: str | None, matches: bool) -> None:
    condition = Condition.model_validate({"field": "labels.team", **test})
    assert condition.matches(value) is matches


def test_email_channel_tls_defaults() -> None:
    plain = EmailChannel.model_validate({"smtp_host": "h", "from": "p@example.com"})
    assert (plain.smtp_port, plain.starttls, plain.ssl) == (587, True, False)
    implicit = EmailChannel.model_validate({"smtp_host": "h", "from": "p@example.com", "ssl": True})
    assert (implicit.smtp_port, implicit.starttls, implicit.ssl) == (465, False, True)
    assert implicit.timeout == dt.timedelta(seconds=10)


def test_secrets_stay_out_of_repr(contract_text: str, contract_env: dict[str, str]) -> None:
    text = contract_text.replace("users: [alice, bob]", "users: [alice]")
    data = yaml.safe_load(text)
    data["escalation_policies"][0]["levels"].pop()
    data["schedules"][0]["overrides"] = []
    config = load_config_text(yaml.safe_dump(data), env=contract_env)
    shown = repr(config)
    for name in (
        "PAGER_API_TOKEN",
        "PAGER_LINK_SECRET",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "TWILIO_TOKEN",
        "SMTP_PASSWORD",
        "WEBHOOK_SIGNING_SECRET",
    ):
        assert contract_env[name] not in shown
    assert config.channels.email is not None
    assert config.channels.email.password == contract_env["SMTP_PASSWORD"]
