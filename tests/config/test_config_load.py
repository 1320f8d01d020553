"""Loading: the CONTRACT example, YAML errors, `${ENV}` substitution, files, the digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pager.config import Config, ConfigError, Problem, load_config, load_config_text

ProblemsOf = Callable[..., list[str]]


def _completed(contract_text: str) -> str:
    """The CONTRACT example plus the users and schedule it names but leaves out."""
    data = yaml.safe_load(contract_text)
    for user in ("bob", "carol"):
        data["users"].append(
            {
                "id": user,
                "contacts": {"slack": "U0"},
                "notification_rules": [{"after": "0m", "via": "slack"}],
            }
        )
    secondary = {**data["schedules"][0], "id": "secondary", "overrides": []}
    data["schedules"].append(secondary)
    return yaml.safe_dump(data, sort_keys=False)


def test_contract_example_is_structurally_valid(
    problems: ProblemsOf, contract_text: str, contract_env: dict[str, str]
) -> None:
    """Verbatim, the example only lacks the people and the schedule it mentions (and its
    token, written before roles, is an admin by default: a warning)."""
    assert problems(contract_text, contract_env) == [
        "warning: auth.api_tokens[0].role: token 'ops' has no role, so it is an admin (it can "
        "reload, open maintenance and act as anyone): say role: viewer, responder or admin",
        "escalation_policies[0].levels[1].targets[0]: unknown user 'carol'",
        "escalation_policies[0].levels[1].targets[1]: unknown schedule 'secondary'",
        "schedules[0].layers[0].users[1]: unknown user 'bob'",
        "schedules[0].overrides[0].user: unknown user 'carol'",
    ]


def test_contract_example_loads_with_every_value(
    contract_text: str, contract_env: dict[str, str]
) -> None:
    config = load_config_text(_completed(contract_text), env=contract_env)
    assert config.server.listen == "127.0.0.1:8080"
    assert config.server.ingest_listen == "127.0.0.1:8081"
    assert config.server.public_url == "https://pager.example.com"
    assert config.data_dir == Path("pager-data")
    assert config.auth.api_tokens[0].name == "ops"
    assert config.auth.api_tokens[0].token == "9b1f0c7d2e6a4f38b5c1d9e07a3f6b24"
    assert config.auth.link_secret == "4e8a1d6c0b3f7e92a5d8c1f40b7e3a69"

    alice = config.users[0]
    assert (alice.id, alice.name, alice.timezone) == ("alice", "Alice Example", "Europe/Berlin")
    assert alice.contacts.slack == "U024BE7LH"
    assert alice.contacts.sms == alice.contacts.voice == "+15555550100"
    assert alice.contacts.email == "alice@example.com"
    assert alice.contacts.teams == "https://example.webhook.office.com/..."
    assert alice.contacts.webhook == "https://hooks.example.com/alice"
    assert [(rule.after, rule.via) for rule in alice.notification_rules] == [
        (dt.timedelta(0), "slack"),
        (dt.timedelta(minutes=1), "sms"),
        (dt.timedelta(minutes=5), "voice"),
    ]

    primary = config.schedules[0]
    assert (primary.id, primary.timezone) == ("primary", "America/New_York")
    layer = primary.layers[0]
    assert (layer.name, layer.users) == ("weekly", ("alice", "bob"))
    assert layer.rotation.every == dt.timedelta(weeks=1)
    assert (layer.rotation.handoff_weekday, layer.rotation.handoff_time) == (0, dt.time(9))
    assert layer.rotation.start == dt.date(2026, 1, 5)
    override = primary.overrides[0]
    new_york_winter = dt.timezone(dt.timedelta(hours=-5))
    assert override.user == "carol"
    assert override.start == dt.datetime(2026, 12, 24, 18, tzinfo=new_york_winter)
    assert override.end == dt.datetime(2026, 12, 26, 9, tzinfo=new_york_winter)

    policy = config.escalation_policies[0]
    assert (policy.id, policy.repeat) == ("default", 2)
    assert [(t.kind, t.id) for t in policy.levels[0].targets] == [("schedule", "primary")]
    assert [(t.kind, t.id) for t in policy.levels[1].targets] == [
        ("user", "carol"),
        ("schedule", "secondary"),
    ]
    assert [level.escalate_after for level in policy.levels] == [
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=10),
    ]

    service = config.services[0]
    assert (service.id, service.name, service.escalation_policy) == (
        "checkout",
        "Checkout API",
        "default",
    )
    assert service.ack_timeout == dt.timedelta(minutes=30)
    assert service.auto_resolve_after == dt.timedelta(hours=4)
    assert [(i.type, i.key) for i in service.integrations] == [
        ("pagerduty", "R0UT1NGKEY"),
        ("alertmanager", "am-checkout"),
        ("generic", "gen-checkout"),
    ]
    assert service.chat.slack_channel == "C0123456789"
    assert service.chat.teams == "https://example.webhook.office.com/..."

    channels = config.channels
    assert channels.slack is not None and channels.slack.api_url == "https://slack.com/api/"
    assert (channels.slack.token, channels.slack.signing_secret) == ("xoxb-1", "signing-1")
    assert channels.twilio is not None and channels.twilio.api_url == "https://api.twilio.com"
    assert channels.twilio.account_sid == "AC123"
    assert channels.twilio.auth_token == "twilio-token-1"
    assert channels.twilio.from_number == "+15555550199"
    assert channels.email is not None
    assert (channels.email.smtp_host, channels.email.smtp_port) == ("smtp.example.com", 587)
    assert (channels.email.starttls, channels.email.ssl) == (True, False)
    assert channels.email.username == "pager"
    assert channels.email.password == "smtp: pass # word"
    assert channels.email.from_ == "pager <pager@example.com>"
    assert channels.teams is not None and channels.webhook is not None
    assert channels.webhook.secret == "c27f5e0a9d1b6c384f7a2e9d0b5c8f13"
    assert channels.console is not None


def test_yaml_syntax_error_has_line_and_column(problems: ProblemsOf) -> None:
    assert problems("server:\n  listen: a: b\n") == [
        "invalid YAML at line 2, column 12: mapping values are not allowed here"
    ]
    assert problems("users:\n  - id: a\n   name: b\n") == [
        "invalid YAML at line 3, column 4: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block collection)"
    ]


def test_unsafe_yaml_tags_are_refused(problems: ProblemsOf) -> None:
    (message,) = problems("data_dir: !!python/object/apply:os.system ['true']\n")
    assert message.startswith("invalid YAML at line 1, column 11: ")


def test_empty_and_non_mapping_documents(problems: ProblemsOf) -> None:
    assert problems("") == [
        "<string> is empty: expected a mapping with keys such as server, users, services"
    ]
    assert problems("# only a comment\n") == problems("")
    assert problems("- a\n- b\n") == ["the top level must be a mapping (key: value), not a list"]
    assert problems("just words") == [
        "the top level must be a mapping (key: value), not the value 'just words'"
    ]


def test_duplicate_keys_are_problems(problems: ProblemsOf, base: dict[str, Any]) -> None:
    text = yaml.safe_dump(base) + "users: []\n"
    assert problems(text)[0].startswith("duplicate key 'users' (lines ")
    assert problems(text)[0].endswith("): write each key once")
    nested = "services:\n  - {id: a, id: b, escalation_policy: p}\n"
    assert (
        problems(nested)[0]
        == "services[0]: duplicate key 'id' (twice on line 2): write each key once"
    )


def test_unquoted_times_stay_times() -> None:
    """YAML 1.1 reads 17:00 as the number 1020 (base 60); our loader keeps it a string."""
    text = """
services:
  - id: web
    escalation_policy: default
    business_hours: {timezone: UTC, start: 08:30, end: 17:00}
escalation_policies:
  - id: default
    levels: [{targets: [{user: a}], escalate_after: 5m}]
users:
  - {id: a, notification_rules: [{after: 0m, via: console}]}
journal: {snapshot_every: 1_000, segment_size: 0x100000}
"""
    config = load_config_text(text)
    hours = config.services[0].business_hours
    assert hours is not None and (hours.start, hours.end) == (dt.time(8, 30), dt.time(17))
    assert config.journal.snapshot_every == 1000
    assert config.journal.segment_size == 2**20


def test_anchors_merge_keys_and_x_keys() -> None:
    text = """
x-rules: &rules
  - {after: 0m, via: console}
x-unused: {anything: "${NOT_SUBSTITUTED}"}
users:
  - {id: a, notification_rules: *rules}
  - {id: b, notification_rules: *rules}
escalation_policies:
  - &policy {id: p, levels: [{targets: [{user: a}], escalate_after: 5m}]}
  - {<<: *policy, id: q}
"""
    config = load_config_text(text, env={})
    assert config.users[0].notification_rules == config.users[1].notification_rules
    assert [p.id for p in config.escalation_policies] == ["p", "q"]
    assert config.escalation_policies[1].levels == config.escalation_policies[0].levels


def test_unquoted_phone_number_gets_a_hint(problems: ProblemsOf, base: dict[str, Any]) -> None:
    text = yaml.safe_dump(base).replace("sms: '+15555550100'", "sms: +15555550100")
    assert problems(text) == [
        'users[0].contacts.sms: must be an E.164 phone number in quotes, like "+15555550100": '
        "YAML reads an unquoted +number as a number"
    ]


# --- ${ENV} substitution --------------------------------------------------------------------


def test_env_substitution_fills_strings(base: dict[str, Any]) -> None:
    base["channels"]["slack"]["token"] = "xoxb-${SLACK_PART}-${SLACK_REST}"
    config = load_config_text(yaml.safe_dump(base), env={"SLACK_PART": "1", "SLACK_REST": "2"})
    assert config.channels.slack is not None
    assert config.channels.slack.token == "xoxb-1-2"


def test_env_secret_with_yaml_syntax_is_data(base: dict[str, Any]) -> None:
    """Substitution happens after parsing: `: `, `#`, quotes and newlines are just text."""
    secret = "a: b # c\n- d 'e' \"f\" ${NOT_A_VAR}"
    base["channels"]["slack"]["token"] = "${SLACK_BOT_TOKEN}"
    config = load_config_text(yaml.safe_dump(base), env={"SLACK_BOT_TOKEN": secret})
    assert config.channels.slack is not None
    assert config.channels.slack.token == secret


def test_env_values_are_parsed_by_the_field_type(base: dict[str, Any]) -> None:
    base["channels"]["email"] = {
        "smtp_host": "smtp.example.com",
        "smtp_port": "${SMTP_PORT}",
        "from": "p@example.com",
    }
    config = load_config_text(yaml.safe_dump(base), env={"SMTP_PORT": "2525"})
    assert config.channels.email is not None and config.channels.email.smtp_port == 2525


def test_env_escape_is_a_literal(base: dict[str, Any]) -> None:
    base["channels"]["slack"]["token"] = "a$${LITERAL}b$c$$d"
    config = load_config_text(yaml.safe_dump(base), env={"LITERAL": "no"})
    assert config.channels.slack is not None
    assert config.channels.slack.token == "a${LITERAL}b$c$$d"


def test_env_missing_variables_each_name_variable_and_path(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    base["channels"]["slack"]["token"] = "${SLACK_BOT_TOKEN}"
    base["channels"]["twilio"] = {
        "account_sid": "${TWILIO_SID}",
        "auth_token": "${TWILIO_TOKEN}",
        "from_number": "${TWILIO_FROM}",
    }
    base["services"][0]["integrations"][0]["key"] = "${KEY_A}-${KEY_B}"
    assert problems(base, {"TWILIO_SID": "AC1"}) == [
        "channels.slack.token: environment variable 'SLACK_BOT_TOKEN' is not set",
        "channels.twilio.auth_token: environment variable 'TWILIO_TOKEN' is not set",
        # Validation of a string with an unset variable is not reported twice (E.164 here).
        "channels.twilio.from_number: environment variable 'TWILIO_FROM' is not set",
        "services[0].integrations[0].key: environment variable 'KEY_A' is not set",
        "services[0].integrations[0].key: environment variable 'KEY_B' is not set",
    ]


def test_env_missing_variable_does_not_hide_other_problems(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    base["channels"]["slack"]["token"] = "${SLACK_BOT_TOKEN}"
    base["services"][0]["escalation_policy"] = "defualt"
    assert problems(base) == [
        "channels.slack.token: environment variable 'SLACK_BOT_TOKEN' is not set",
        "services[0].escalation_policy: unknown escalation policy 'defualt' "
        "(did you mean 'default'?)",
    ]


def test_env_missing_secret_is_not_also_judged_weak(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    """An unset variable leaves `${PAGER_API_TOKEN}` in the string; the secret checks must
    not then warn that the (absent) secret holds the word 'token' or 'secret'."""
    base.setdefault("auth", {})["api_tokens"] = [
        {"name": "ops", "token": "${PAGER_API_TOKEN}", "role": "admin"}
    ]
    base["channels"]["webhook"] = {"secret": "${WEBHOOK_SIGNING_SECRET}"}
    assert problems(base) == [
        "auth.api_tokens[0].token: environment variable 'PAGER_API_TOKEN' is not set",
        "channels.webhook.secret: environment variable 'WEBHOOK_SIGNING_SECRET' is not set",
    ]
    # set, the same secret is judged as ever
    env = {"PAGER_API_TOKEN": "token-token-token", "WEBHOOK_SIGNING_SECRET": "s" * 40}
    found = problems(base, env)
    assert len(found) == 2 and all("weak secret" in p for p in found), found


def test_env_set_but_empty_counts_as_set(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["channels"]["slack"]["token"] = "${EMPTY}"
    assert problems(base, {"EMPTY": ""}) == ["channels.slack.token: must not be empty"]


def test_env_malformed_reference(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["channels"]["slack"]["token"] = "${SLACK BOT}"
    assert problems(base) == [
        "channels.slack.token: '${SLACK BOT}' is not a ${NAME} reference: a name is letters, "
        "digits and _ in braces (write $${ for a literal ${)"
    ]


def test_env_leaves_keys_and_non_strings_alone(base: dict[str, Any]) -> None:
    base["escalation_policies"][0]["repeat"] = 3
    config = load_config_text(yaml.safe_dump(base), env={})
    assert config.escalation_policies[0].repeat == 3


def test_env_defaults_to_the_process_environment(
    base: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGER_TEST_SLACK_TOKEN", "from-process")
    base["channels"]["slack"]["token"] = "${PAGER_TEST_SLACK_TOKEN}"
    config = load_config_text(yaml.safe_dump(base))
    assert config.channels.slack is not None
    assert config.channels.slack.token == "from-process"


# --- files, errors, digest ------------------------------------------------------------------


def test_load_config_from_a_file(tmp_path: Path, base: dict[str, Any]) -> None:
    path = tmp_path / "pager.yaml"
    path.write_text(yaml.safe_dump(base))
    assert load_config(path) == load_config_text(yaml.safe_dump(base))
    assert load_config(str(path)).services[0].id == "checkout"


def test_load_config_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path / "missing.yaml")
    missing = str(tmp_path / "missing.yaml")
    assert excinfo.value.problems == (
        Problem("", f"cannot read {missing!r}: No such file or directory"),
    )
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="it is not UTF-8 text"):
        load_config(binary)


def test_config_error_lists_every_problem(base: dict[str, Any]) -> None:
    base["users"][0]["timezone"] = "Mars/Base"
    base["services"][0]["escalation_policy"] = 5
    with pytest.raises(ConfigError) as excinfo:
        load_config_text(yaml.safe_dump(base), source="pager.yaml")
    error = excinfo.value
    assert [str(problem) for problem in error.problems] == [
        "users[0].timezone: unknown time zone 'Mars/Base': use an IANA name like Europe/Berlin",
        "services[0].escalation_policy: must be a string: put 5 in quotes",
    ]
    assert error.errors == error.problems
    assert error.source == "pager.yaml"
    assert str(error).splitlines() == [
        "pager.yaml: 2 errors",
        "  users[0].timezone: unknown time zone 'Mars/Base': use an IANA name like Europe/Berlin",
        "  services[0].escalation_policy: must be a string: put 5 in quotes",
    ]


def test_warnings_do_not_stop_loading(base: dict[str, Any]) -> None:
    base["users"][1]["notification_rules"] = []
    assert load_config_text(yaml.safe_dump(base)).users[1].notification_rules == ()


def test_digest_is_stable_and_tracks_content(base: dict[str, Any]) -> None:
    config = load_config_text(yaml.safe_dump(base))
    digest = config.digest()
    assert len(digest) == 16 and int(digest, 16) >= 0
    # Key order and spelling do not matter; content does.
    reordered = dict(reversed(list(base.items())))
    reordered["escalation_policies"][0]["levels"][0]["escalate_after"] = "300s"
    assert load_config_text(yaml.safe_dump(reordered, sort_keys=False)).digest() == digest
    base["escalation_policies"][0]["repeat"] = 1
    assert load_config_text(yaml.safe_dump(base)).digest() != digest


def test_config_round_trips_through_its_json_form(
    contract_text: str, contract_env: dict[str, str]
) -> None:
    config = load_config_text(_completed(contract_text), env=contract_env)
    again = Config.model_validate(config.model_dump(mode="json", by_alias=True))
    assert again == config
    assert again.digest() == config.digest()


def test_config_is_frozen(base: dict[str, Any]) -> None:
    config = load_config_text(yaml.safe_dump(base))
    with pytest.raises(ValueError, match="frozen"):
        config.users[0].id = "mallory"  # type: ignore[misc]


def test_the_complete_example_of_the_docs_is_valid_without_a_warning(
    problems: ProblemsOf,
) -> None:
    """docs/configuration.md says its complete example passes `pager check-config` with the
    variables it names set: a newcomer copies it, so it must not even warn."""
    import re
    import secrets

    docs = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    found = re.search(r"## A complete example.*?```yaml\n(.*?)```", docs.read_text(), re.S)
    assert found, "no complete example in docs/configuration.md"
    text = found.group(1)
    env = {name: secrets.token_hex(32) for name in re.findall(r"\$\{(\w+)\}", text)}
    assert len(env) >= 10  # tokens, secrets and keys come from the environment
    assert problems(text, env) == []
