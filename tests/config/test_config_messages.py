"""What the loader says about each kind of structural mistake: exact path, exact message.

Each test breaks one thing in the valid `base` configuration and compares the complete list
of problems, so a test also proves that nothing else is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

ProblemsOf = Callable[..., list[str]]


# --- unknown and missing keys -------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "key", "expected"),
    [
        ((), "servces", "unknown key 'servces' (did you mean 'services'?)"),
        (
            ("escalation_policies", 0, "levels", 1),
            "escalate_aftr",
            "escalation_policies[0].levels[1]: unknown key 'escalate_aftr' "
            "(did you mean 'escalate_after'?)",
        ),
        (("users", 0, "contacts"), "phone", "users[0].contacts: unknown key 'phone'"),
        (("users", 0), "timezon", "users[0]: unknown key 'timezon' (did you mean 'timezone'?)"),
        (
            ("schedules", 0, "layers", 0, "rotation"),
            "hand_off",
            "schedules[0].layers[0].rotation: unknown key 'hand_off' (did you mean 'handoff'?)",
        ),
        (("channels",), "slak", "channels: unknown key 'slak' (did you mean 'slack'?)"),
        (
            ("channels", "slack"),
            "tokn",
            "channels.slack: unknown key 'tokn' (did you mean 'token'?)",
        ),
        (
            ("services", 0, "integrations", 0),
            "kye",
            "services[0].integrations[0]: unknown key 'kye' (did you mean 'key'?)",
        ),
    ],
)
def test_unknown_keys_suggest_the_closest_field(
    problems: ProblemsOf,
    base: dict[str, Any],
    where: tuple[str | int, ...],
    key: str,
    expected: str,
) -> None:
    target: Any = base
    for part in where:
        target = target[part]
    target[key] = "x"
    assert problems(base) == [expected]


def test_unknown_key_suggests_yaml_aliases(problems: ProblemsOf, base: dict[str, Any]) -> None:
    """Fields named `from_` and `in_` in Python are `from` and `in` in YAML."""
    base["channels"]["email"] = {"smtp_host": "h", "frm": "p@example.com"}
    base["routing"] = [
        {
            "key": "shared",
            "type": "generic",
            "rules": [{"service": "checkout", "when": [{"field": "summary", "inn": ["a"]}]}],
        }
    ]
    assert problems(base) == [
        "routing[0].rules[0].when[0]: unknown key 'inn' (did you mean 'in'?)",
        "channels.email: missing required key 'from'",
        "channels.email: unknown key 'frm' (did you mean 'from'?)",
    ]


def test_missing_required_keys(problems: ProblemsOf, base: dict[str, Any]) -> None:
    del base["users"][0]["id"]
    del base["schedules"][0]["timezone"]
    del base["escalation_policies"][0]["levels"][0]["escalate_after"]
    del base["services"][0]["escalation_policy"]
    del base["channels"]["slack"]["signing_secret"]
    assert problems(base) == [
        "users[0]: missing required key 'id'",
        "schedules[0]: missing required key 'timezone'",
        "escalation_policies[0].levels[0]: missing required key 'escalate_after'",
        "services[0]: missing required key 'escalation_policy'",
        "channels.slack: missing required key 'signing_secret'",
    ]


# --- wrong kinds of values ----------------------------------------------------------------


def test_choices_are_listed(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][0]["notification_rules"][0]["via"] = "smss"
    base["users"][0]["notification_rules"].append({"after": "1m", "via": "pigeon"})
    base["services"][0]["integrations"][0]["type"] = "datadog"
    base["services"][0]["urgency"] = {"warning": "medium"}
    base["services"][0]["low_urgency"] = {"mode": "later"}
    assert problems(base) == [
        "users[0].notification_rules[0].via: must be one of slack, sms, voice, email, teams, "
        "webhook, console (did you mean 'sms'?)",
        "users[0].notification_rules[1].via: must be one of slack, sms, voice, email, teams, "
        "webhook, console, not 'pigeon'",
        "services[0].integrations[0].type: must be one of pagerduty, alertmanager, generic, opsgenie, "
        "not 'datadog'",
        "services[0].urgency.warning: must be one of high, low, not 'medium'",
        "services[0].low_urgency.mode: must be one of page, business_hours, never, not 'later'",
    ]


def test_unknown_severity_key(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["services"][0]["urgency"] = {"critcal": "low"}
    assert problems(base) == [
        "services[0].urgency: unknown key 'critcal' (did you mean 'critical'?)"
    ]


def test_type_mistakes(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][0]["contacts"] = ["U1"]
    base["schedules"][0]["layers"][0]["users"] = "alice"
    base["escalation_policies"][0]["repeat"] = "twice"
    base["services"][0]["name"] = 12
    base["journal"] = {"fsync": "maybe"}
    base["channels"]["console"] = None
    base["auth"] = None
    assert problems(base) == [
        "auth: must be a mapping (key: value) (it has no value)",
        "users[0].contacts: must be a mapping (key: value)",
        "schedules[0].layers[0].users: must be a list",
        "escalation_policies[0].repeat: must be a whole number",
        "services[0].name: must be a string: put 12 in quotes",
        "journal.fsync: must be true or false",
    ]


def test_empty_lists_and_bounds(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["schedules"][0]["layers"][0]["users"] = []
    base["escalation_policies"][0]["repeat"] = -1
    base["escalation_policies"][0]["levels"][1]["targets"] = []
    base["services"][0]["rate_limit"] = {"events": 0}
    base["channels"]["slack"]["token"] = "  "
    assert problems(base) == [
        "schedules[0].layers[0].users: must not be empty",
        "escalation_policies[0].repeat: must be at least 0",
        "escalation_policies[0].levels[1].targets: must not be empty",
        "services[0].rate_limit.events: must be at least 1",
        "channels.slack.token: must not be empty",
    ]


def test_ids_are_plain(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][1]["id"] = "bob smith"
    assert problems(base)[0] == (
        "users[1].id: 'bob smith' is not a valid id: use letters, digits, '.', '_' and '-', "
        "starting with a letter or digit"
    )


# --- contacts and addresses -----------------------------------------------------------------


def test_contact_formats(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][0]["contacts"] = {
        "sms": "555-0100",
        "voice": "+1 555 0100",
        "email": "alice(at)example.com",
        "teams": "ftp://example.com/hook",
        "webhook": "hooks.example.com/alice",
    }
    base["users"][0]["notification_rules"] = [{"after": "0m", "via": "console"}]
    assert problems(base) == [
        "users[0].contacts.sms: '555-0100' must be an E.164 phone number like +15555550100",
        "users[0].contacts.voice: '+1 555 0100' must be an E.164 phone number like +15555550100",
        "users[0].contacts.email: 'alice(at)example.com' does not look like an email address",
        "users[0].contacts.teams: 'ftp://example.com/hook' must be an http(s) URL",
        "users[0].contacts.webhook: 'hooks.example.com/alice' must be an http(s) URL",
    ]


def test_a_url_refused_is_shown_without_its_credentials(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    """A Teams workflow URL carries its signature in the query, a webhook URL may carry a
    password or a token: the problem (printed, logged on a reload, answered by the reload
    API) shows where the URL points, not what lets one post to it."""
    base["users"][0]["contacts"] = {
        "teams": "ftp://prod.example.com/workflows/1?api-version=1&sig=S1GN4TURE",
        "webhook": "hxxps://hook:PA55W0RD@hooks.example.com/alice?token=T0K3N",
    }
    base["users"][0]["notification_rules"] = [{"after": "0m", "via": "console"}]
    assert problems(base) == [
        "users[0].contacts.teams: 'ftp://prod.example.com/workflows/1?api-version=…&sig=…' "
        "must be an http(s) URL",
        "users[0].contacts.webhook: 'hxxps://hook:…@hooks.example.com/alice?token=…' "
        "must be an http(s) URL",
    ]


def test_a_webhook_url_refused_is_shown_without_the_secret_in_its_path(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    """A Slack incoming webhook and a legacy Teams connector carry their secret in the path
    (`/services/T.../B.../SECRET`, `/IncomingWebhook/SECRET/...`): the problem shows the
    URL's words, not its secret segments."""
    slack = "ftp://hooks.slack.com/services/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"
    teams = (
        "ftp://contoso.webhook.office.com/webhookb2/11111111-2222-3333-4444-555555555555"
        "@66666666-7777-8888-9999-000000000000/IncomingWebhook/0123456789abcdef0123456789abcdef"
        "/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    )
    base["users"][0]["contacts"] = {"teams": teams, "webhook": slack}
    base["users"][0]["notification_rules"] = [{"after": "0m", "via": "console"}]
    assert problems(base) == [
        "users[0].contacts.teams: 'ftp://contoso.webhook.office.com/…/…/IncomingWebhook/…/…' "
        "must be an http(s) URL",
        "users[0].contacts.webhook: 'ftp://hooks.slack.com/services/…/…/…' must be an http(s) URL",
    ]


# --- time values in context -----------------------------------------------------------------


def test_schedule_time_mistakes(problems: ProblemsOf, base: dict[str, Any]) -> None:
    schedule = base["schedules"][0]
    schedule["timezone"] = "America/NewYork"
    schedule["layers"][0]["rotation"] = {
        "every": "90m",
        "handoff": "funday 09:00",
        "start": "2026-13-01",
    }
    schedule["layers"][0]["restrictions"] = [
        {"start": "24:00", "end": "24:00"},
        {"days": ["mon", "fry"], "start": "9", "end": "17:00"},
        {"days": [], "start": "09:00", "end": "17:00"},
    ]
    schedule["overrides"] = [
        {"user": "bob", "start": "2026-12-24T18:00:00", "end": "2026-12-26T09:00:00-05:00"},
        {"user": "bob", "start": "2026-12-24T18:00:00-05:00", "end": "2026-12-24T18:00:00-05:00"},
    ]
    assert problems(base) == [
        "schedules[0].timezone: unknown time zone 'America/NewYork' "
        "(did you mean 'America/New_York'?)",
        "schedules[0].layers[0].rotation.every: must be a whole number of hours, "
        "like 12h, 1d or 1w",
        "schedules[0].layers[0].rotation.handoff: 'funday' is not a weekday: use "
        "monday..sunday or mon..sun (did you mean 'sunday'?)",
        "schedules[0].layers[0].rotation.start: must be a date like 2026-01-05",
        "schedules[0].layers[0].restrictions[0].start: '24:00' is not a time of day: "
        "use HH:MM, from 00:00 to 23:59",
        "schedules[0].layers[0].restrictions[1].days[1]: 'fry' is not a weekday: use "
        "monday..sunday or mon..sun (did you mean 'friday'?)",
        "schedules[0].layers[0].restrictions[1].start: '9' is not a time of day: "
        "use HH:MM, from 00:00 to 23:59",
        "schedules[0].layers[0].restrictions[2].days: must list at least one day",
        "schedules[0].overrides[0].start: must include a UTC offset, "
        "like 2026-12-24T18:00:00-05:00",
        "schedules[0].overrides[1]: end must be after start",
    ]


def test_handoff_spellings(problems: ProblemsOf, base: dict[str, Any]) -> None:
    rotation = base["schedules"][0]["layers"][0]["rotation"]
    rotation["handoff"] = "monday at 09:00"
    assert problems(base) == [
        "schedules[0].layers[0].rotation.handoff: 'monday at 09:00' is not a handoff: "
        'use "HH:MM" or "<weekday> HH:MM"'
    ]
    rotation["handoff"] = 540
    assert problems(base) == [
        "schedules[0].layers[0].rotation.handoff: must be a handoff in quotes, "
        'like "monday 09:00" or "09:00"'
    ]


def test_durations_in_context(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][0]["notification_rules"][0]["after"] = "5x"
    base["escalation_policies"][0]["levels"][0]["escalate_after"] = "0m"
    base["services"][0]["ack_timeout"] = 30
    assert problems(base) == [
        "users[0].notification_rules[0].after: '5x' is not a duration: use e.g. 30s, 5m, 2h, 1d",
        "escalation_policies[0].levels[0].escalate_after: must be longer than 0s",
        "services[0].ack_timeout: '30' is not a duration: add a unit, e.g. 30s or 30m",
    ]


# --- one-of objects and cross-field rules ---------------------------------------------------


def test_target_is_not_a_bare_id(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["escalation_policies"][0]["levels"][0]["targets"] = ["primary"]
    assert problems(base) == [
        "escalation_policies[0].levels[0].targets[0]: write a target as {user: primary} or "
        "{schedule: primary}, not a bare id"
    ]


def test_targets_have_exactly_one_key(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["escalation_policies"][0]["levels"][0]["targets"] = [
        {"user": "alice", "schedule": "primary"},
        {},
        {"usr": "alice"},
    ]
    message = "a target has exactly one key: {user: ID} or {schedule: ID}"
    assert problems(base) == [
        f"escalation_policies[0].levels[0].targets[0]: {message}",
        f"escalation_policies[0].levels[0].targets[1]: {message}",
        "escalation_policies[0].levels[0].targets[2]: unknown key 'usr' (did you mean 'user'?)",
    ]


def test_routing_conditions(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["routing"] = [
        {
            "key": "shared",
            "type": "alertmanager",
            "rules": [
                {
                    "service": "checkout",
                    "when": [
                        {"field": "labels.team", "regex": "([a-z"},
                        {"field": "labels team", "equals": "x"},
                        {"field": "summary", "equals": "x", "in": ["a"]},
                        {"field": "summary"},
                    ],
                },
                {"service": "checkout", "when": []},
            ],
        }
    ]
    assert problems(base) == [
        "routing[0].rules[0].when[0].regex: regex '([a-z' does not compile: "
        "unterminated character set at position 1",
        "routing[0].rules[0].when[1].field: 'labels team' is not a field path: "
        "use dotted names like labels.team",
        "routing[0].rules[0].when[2]: a condition has exactly one of equals, regex or in",
        "routing[0].rules[0].when[3]: a condition has exactly one of equals, regex or in",
        "routing[0].rules[1].when: must not be empty",
    ]


def test_service_rules(problems: ProblemsOf, base: dict[str, Any]) -> None:
    service = base["services"][0]
    service["low_urgency"] = {"mode": "business_hours"}
    assert problems(base) == [
        "services[0]: low_urgency mode 'business_hours' needs a business_hours section"
    ]
    service["business_hours"] = {"timezone": "UTC", "start": "17:00", "end": "09:00"}
    service["maintenance"] = [{"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}]
    assert problems(base) == [
        "services[0].business_hours: end must be after start (business hours stay within a day)",
        "services[0].maintenance[0]: end must be after start",
    ]


def test_email_channel_rules(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["channels"]["email"] = {
        "smtp_host": "smtp.example.com",
        "from": "nope",
        "smtp_port": 70000,
    }
    assert problems(base) == [
        "channels.email.smtp_port: must be at most 65535",
        "channels.email.from: 'nope' does not look like an email address "
        '(write alice@example.com or "Pager <pager@example.com>")',
    ]
    base["channels"]["email"] = {
        "smtp_host": "h",
        "from": "p@example.com",
        "ssl": True,
        "starttls": True,
        "username": "u",
    }
    assert problems(base) == ["channels.email: use starttls or ssl, not both"]
    base["channels"]["email"]["starttls"] = False
    assert problems(base) == [
        "channels.email: username and password go together: set both or neither"
    ]


def test_server_addresses(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["server"] = {
        "listen": "localhost",
        "ingest_listen": "::1:8081",
        "public_url": "pager.example.com",
    }
    assert problems(base) == [
        "server.listen: 'localhost' must be host:port, like 127.0.0.1:8080",
        "server.ingest_listen: '::1:8081': write an IPv6 address in brackets, like [::1]:8080",
        "server.public_url: 'pager.example.com' must be an http(s) URL",
    ]


def test_journal_values(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["journal"] = {"segment_size": "64XB", "snapshot_every": 0, "snapshot_interval": "0s"}
    assert problems(base) == [
        "journal.segment_size: '64XB' is not a size: use e.g. 64MiB, 500MB or 1GiB",
        "journal.snapshot_every: must be at least 1",
        "journal.snapshot_interval: must be longer than 0s",
    ]


# --- templates ------------------------------------------------------------------------------


def test_broken_templates_name_path_and_line(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["templates"] = {
        "slack": {"text": "{{ incident.title "},
        "email": {
            "subject": "ok {{ incident.title }}",
            "html": "<p>\n{% if incident.urgent %}\nurgent\n",
        },
        "voice": {"say": "{{ incident.title | no_such_filter }}"},
        "sms": {"txt": "hello"},
    }
    assert problems(base) == [
        "templates.slack.text: template does not compile: line 1: unexpected end of template, "
        "expected 'end of print statement'.",
        "templates.sms: unknown key 'txt' (did you mean 'text'?)",
        "templates.voice.say: template does not compile: line 1: No filter named 'no_such_filter'.",
        "templates.email.html: template does not compile: line 2: Unexpected end of template. "
        "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost "
        "block that needs to be closed is 'if'.",
    ]


def test_good_templates_load(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["templates"] = {
        "slack": {"text": "{{ incident.title }} {% for a in alerts %}{{ a.summary }}{% endfor %}"},
        "teams": {"title": "{{ incident.title | upper }}", "text": "plain"},
        "webhook": {},
    }
    assert problems(base) == []
