"""Semantic checks, `pager check-config` (`main`) and the embedded demo configuration."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from argon2 import PasswordHasher

from pager.config import Config, Problem, check_config, load_config_text, load_demo_config
from pager.config.check import CHECKS, unique_ids
from pager.config.check_command import main
from pager.config.check_secrets import DEMO_PASSWORD_HASH, weakness
from pager.config.demo import DEMO_PASSWORD, demo_config_text

ProblemsOf = Callable[..., list[str]]


def test_base_configuration_has_no_problems(problems: ProblemsOf, base: dict[str, Any]) -> None:
    assert problems(base) == []


def test_duplicate_ids(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"].append({**base["users"][0], "name": "Alice Again"})
    base["schedules"].append(base["schedules"][0])
    base["escalation_policies"].append(base["escalation_policies"][0])
    base["services"].append({**base["services"][0], "integrations": []})
    assert problems(base) == [
        "users[2].id: duplicate user id 'alice' (also users[0])",
        "schedules[1].id: duplicate schedule id 'primary' (also schedules[0])",
        "escalation_policies[1].id: duplicate escalation policy id 'default' "
        "(also escalation_policies[0])",
        "services[1].id: duplicate service id 'checkout' (also services[0])",
    ]


def test_unknown_references_suggest_close_ids(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["escalation_policies"][0]["levels"][1]["targets"] = [
        {"schedule": "primay"},
        {"user": "bbo"},
        {"user": "zed"},
    ]
    base["schedules"][0]["layers"][0]["users"] = ["alice", "alcie"]
    base["schedules"][0]["overrides"] = [
        {"user": "carol", "start": "2026-12-24T18:00:00-05:00", "end": "2026-12-26T09:00:00-05:00"}
    ]
    base["services"][0]["escalation_policy"] = "defualt"
    base["routing"] = [{"key": "shared", "type": "generic", "rules": [{"service": "chekout"}]}]
    assert problems(base) == [
        "escalation_policies[0].levels[1].targets[0]: unknown schedule 'primay' "
        "(did you mean 'primary'?)",
        "escalation_policies[0].levels[1].targets[1]: unknown user 'bbo' (did you mean 'bob'?)",
        "escalation_policies[0].levels[1].targets[2]: unknown user 'zed'",
        "schedules[0].layers[0].users[1]: unknown user 'alcie' (did you mean 'alice'?)",
        "schedules[0].overrides[0].user: unknown user 'carol'",
        "services[0].escalation_policy: unknown escalation policy 'defualt' "
        "(did you mean 'default'?)",
        "routing[0].rules[0].service: unknown service 'chekout' (did you mean 'checkout'?)",
    ]


def test_a_user_id_is_not_a_schedule(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["escalation_policies"][0]["levels"][0]["targets"] = [{"schedule": "alice"}]
    assert problems(base) == [
        "escalation_policies[0].levels[0].targets[0]: unknown schedule 'alice'"
    ]


def test_integration_keys_are_unique(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["services"][0]["integrations"].append({"type": "alertmanager", "key": "am"})
    base["services"].append(
        {
            "id": "search",
            "escalation_policy": "default",
            "integrations": [{"type": "pagerduty", "key": "am"}],
        }
    )
    base["routing"] = [{"key": "gen-checkout", "type": "generic", "rules": [{"service": "search"}]}]
    assert problems(base) == [
        "services[1].integrations[0].key: integration key already used at "
        "services[0].integrations[1].key",
        "routing[0].key: integration key already used at services[0].integrations[0].key",
    ]


def test_catch_all_rule_must_be_last(problems: ProblemsOf, base: dict[str, Any]) -> None:
    when = [{"field": "labels.team", "equals": "payments"}]
    base["routing"] = [
        {
            "key": "shared",
            "type": "alertmanager",
            "rules": [
                {"service": "checkout", "when": when},
                {"service": "checkout"},
                {"service": "checkout", "when": when},
                {"service": "checkout"},
            ],
        }
    ]
    assert problems(base) == [
        "routing[0].rules[1]: a rule without 'when' matches every alert, so the rules after "
        "it never match: move it last"
    ]


def test_notification_rules_need_a_contact(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][1]["notification_rules"] += [
        {"after": "1m", "via": "sms"},
        {"after": "2m", "via": "console"},
    ]
    base["channels"]["twilio"] = {
        "account_sid": "AC1",
        "auth_token": "t",
        "from_number": "+15555550199",
    }
    assert problems(base) == [
        "users[1].notification_rules[1].via: user 'bob' has no sms contact (contacts.sms)"
    ]


def test_notification_rules_need_a_channel(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["users"][0]["notification_rules"] += [{"after": "1m", "via": "sms"}]
    del base["channels"]["slack"]
    assert problems(base) == [
        "warning: users[0].notification_rules[0].via: notifications via slack need the "
        "channels.slack section, which is not configured",
        "warning: users[0].notification_rules[1].via: notifications via sms need the "
        "channels.twilio section, which is not configured",
        "warning: users[1].notification_rules[0].via: notifications via slack need the "
        "channels.slack section, which is not configured",
    ]


def test_user_without_rules_is_a_warning(problems: ProblemsOf, base: dict[str, Any]) -> None:
    del base["users"][1]["notification_rules"]
    assert problems(base) == [
        "warning: users[1].notification_rules: user 'bob' has no notification rules: "
        "paging them notifies nobody"
    ]


def test_other_warnings(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["services"][0]["chat"] = {"slack_channel": "C01", "teams": "https://t.example.com/x"}
    base["server"] = {"listen": "0.0.0.0:8080"}
    del base["channels"]["slack"]
    base["users"] = [
        {**user, "notification_rules": [{"after": "0m", "via": "console"}]}
        for user in base["users"]
    ]
    assert problems(base) == [
        "warning: services[0].chat.slack_channel: status updates to Slack need the "
        "channels.slack section, which is not configured",
        "warning: services[0].chat.teams: status updates to Teams need the channels.teams "
        "section, which is not configured",
        "warning: server.public_url: links in messages point at http://0.0.0.0:8080, which "
        "other machines cannot open: set public_url to the address people reach pager at",
    ]


def test_api_tokens_are_unique(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["auth"] = {
        "api_tokens": [
            {"name": "ops", "token": T1, "role": "admin"},
            {"name": "ops", "token": T2, "role": "viewer"},
            {"name": "ci", "token": T1, "role": "responder"},
        ]
    }
    assert problems(base) == [
        "auth.api_tokens[1].name: duplicate token name 'ops' (also auth.api_tokens[0])",
        "auth.api_tokens[2].token: the same token as auth.api_tokens[0]",
    ]


T1 = "5d0e8f2a71c94b36a8e1f07d3c92b6e4"  # as `openssl rand -hex 16` makes them
T2 = "e81b4c07f9a2d563b0c7e4f18a39d2c5"
T3 = "9a4f1c6e2b8d07f35e1a9c4b6d2f8e07"


def test_weak_secrets_are_warnings_that_say_how_to_make_one(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    base["auth"] = {
        "api_tokens": [
            {"name": "ok", "token": T1, "role": "admin"},
            {"name": "x", "token": "x", "role": "admin"},
            {"name": "same", "token": "a" * 40, "role": "admin"},
            {"name": "pattern", "token": "abcdabcdabcdabcd", "role": "admin"},
            {"name": "placeholder", "token": "please-changeme-now", "role": "admin"},
        ],
        "link_secret": "y",
    }
    base["channels"]["webhook"] = {"secret": "short-one"}
    advice = "make one with `openssl rand -hex 32`"
    api = "anyone who guesses it can use the API"
    out = problems(base)
    assert out == [
        f"warning: auth.api_tokens[1].token: weak secret: 1 character long (at least 16 "
        f"random ones); {api}: {advice}",
        f"warning: auth.api_tokens[2].token: weak secret: only 1 different characters; "
        f"{api}: {advice}",
        f"warning: auth.api_tokens[3].token: weak secret: about 32 bits of entropy (at least "
        f"36); {api}: {advice}",
        f"warning: auth.api_tokens[4].token: weak secret: it holds the word 'changeme', as a "
        f"placeholder does; {api}: {advice}",
        "warning: auth.link_secret: weak secret: 1 character long (at least 16 random ones); "
        f"it signs action links: {advice}",
        "warning: channels.webhook.secret: weak secret: 9 characters long (at least 16 random "
        f"ones); it signs webhooks: {advice}",
    ]
    assert not any("please-changeme-now" in line or "short-one" in line for line in out)


def test_random_secrets_of_sixteen_characters_or_more_pass() -> None:
    """Random hex and base64url strings (what `openssl rand` and password managers make),
    drawn from a seeded generator so the test is the same every run."""
    rng = random.Random(17)
    for n in (16, 24, 64):
        for alphabet in (
            string.hexdigits.lower()[:16],
            string.ascii_letters + string.digits + "-_",
        ):
            for _ in range(300):
                value = "".join(rng.choices(alphabet, k=n))
                assert weakness(value) is None, value


def test_check_config_warns_of_a_weak_token_and_still_calls_the_file_valid(
    tmp_path: Path, base: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    base["auth"] = {"api_tokens": [{"name": "ops", "token": "x", "role": "admin"}]}
    path = tmp_path / "pager.yaml"
    path.write_text(yaml.safe_dump(base))
    assert main(str(path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("warning: auth.api_tokens[0].token: weak secret: 1 character long")
    assert out[-1] == f"{path}: valid (1 warning)"


def test_api_token_roles_and_users(problems: ProblemsOf, base: dict[str, Any]) -> None:
    """A token without a role is an admin (today's behaviour), with a warning; a token's
    `user` must be a configured user."""
    base["auth"] = {
        "api_tokens": [
            {"name": "old", "token": T1},
            {"name": "bot", "token": T2, "role": "responder", "user": "nobody"},
            {"name": "wall", "token": T3, "role": "viewer"},
        ]
    }
    found = problems(base)
    assert found[0].startswith("warning: auth.api_tokens[0].role: token 'old' has no role")
    assert found[1].startswith("auth.api_tokens[1].user: unknown user 'nobody'")
    assert not any("api_tokens[2]" in p for p in found)


def test_checks_are_a_list_of_functions(base: dict[str, Any]) -> None:
    config = load_config_text(yaml.safe_dump(base))

    def everything_is_wrong(config: Config) -> list[Problem]:
        return [Problem("users", "no")]

    assert check_config(config) == []
    assert check_config(config, [*CHECKS, everything_is_wrong]) == [Problem("users", "no")]
    duplicated = config.model_copy(update={"users": config.users * 2})
    assert check_config(duplicated, [unique_ids]) == [
        Problem("users[2].id", "duplicate user id 'alice' (also users[0])"),
        Problem("users[3].id", "duplicate user id 'bob' (also users[1])"),
    ]


# --- pager check-config FILE ----------------------------------------------------------------


def test_main_valid_file(
    tmp_path: Path, base: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "pager.yaml"
    path.write_text(yaml.safe_dump(base))
    assert main(str(path)) == 0
    assert capsys.readouterr().out == f"{path}: valid\n"


def test_main_warnings_only_is_valid(
    tmp_path: Path, base: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    del base["users"][1]["notification_rules"]
    path = tmp_path / "pager.yaml"
    path.write_text(yaml.safe_dump(base))
    assert main(str(path)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "warning: users[1].notification_rules: user 'bob' has no notification rules: "
        "paging them notifies nobody",
        f"{path}: valid (1 warning)",
    ]


def test_main_prints_every_problem(
    tmp_path: Path, base: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    base["escalation_policies"][0]["levels"][1]["targets"] = [{"schedule": "primay"}]
    base["services"][0]["escalation_policy"] = "defualt"
    del base["users"][1]["notification_rules"]
    base["channels"]["slack"]["token"] = "${SLACK_BOT_TOKEN}"
    path = tmp_path / "pager.yaml"
    path.write_text(yaml.safe_dump(base))
    assert main(str(path), env={}) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "channels.slack.token: environment variable 'SLACK_BOT_TOKEN' is not set",
        "escalation_policies[0].levels[1].targets[0]: unknown schedule 'primay' "
        "(did you mean 'primary'?)",
        "services[0].escalation_policy: unknown escalation policy 'defualt' "
        "(did you mean 'default'?)",
        "warning: users[1].notification_rules: user 'bob' has no notification rules: "
        "paging them notifies nobody",
        f"{path}: not valid, 3 errors, 1 warning",
    ]
    assert captured.err == ""


def test_main_env_defaults_to_the_process_environment(
    tmp_path: Path,
    base: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base["channels"]["slack"]["token"] = "${PAGER_TEST_TOKEN}"
    path = tmp_path / "pager.yaml"
    path.write_text(yaml.safe_dump(base))
    monkeypatch.delenv("PAGER_TEST_TOKEN", raising=False)
    assert main(str(path)) == 1
    monkeypatch.setenv("PAGER_TEST_TOKEN", "xoxb")
    assert main(str(path)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{path}: valid"


def test_main_yaml_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pager.yaml"
    path.write_text("server:\n  listen: a: b\n")
    assert main(str(path)) == 1
    assert capsys.readouterr().out.splitlines() == [
        "invalid YAML at line 2, column 12: mapping values are not allowed here",
        f"{path}: not valid, 1 error",
    ]


def test_main_missing_or_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(str(missing)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"pager check-config: cannot read {missing}: No such file or directory\n"

    assert main(str(tmp_path)) == 1
    assert (
        capsys.readouterr().err == f"pager check-config: cannot read {tmp_path}: Is a directory\n"
    )

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert main(str(binary)) == 1
    assert capsys.readouterr().err == (
        f"pager check-config: cannot read {binary}: it is not UTF-8 text\n"
    )


# --- the embedded demo ----------------------------------------------------------------------


DEMO_TOKEN_WARNING = (
    "auth.api_tokens[0].token: weak secret: 10 characters long (at least 16 random ones); "
    "anyone who guesses it can use the API: make one with `openssl rand -hex 32`"
)


DEMO_PASSWORD_WARNING = (
    "users[0].password_hash: the demo's password (demo-password, printed in pager's README): "
    "anyone can sign in as this person; print a hash of your own with `pager hash-password`"
)


def test_demo_config_is_valid_and_warns_only_of_its_token_and_password() -> None:
    """The demo listens on 127.0.0.1 and prints its token; a file made from it is told to
    choose a real one."""
    config = load_demo_config()
    assert [(p.path + ": " + p.message, p.severity) for p in check_config(config)] == [
        (DEMO_TOKEN_WARNING, "warning"),
        (DEMO_PASSWORD_WARNING, "warning"),
    ]
    assert config.server.listen == "127.0.0.1:8080"
    assert config.server.public_url == "http://127.0.0.1:8080"
    assert config.data_dir == Path("pager-data")
    assert [(t.name, t.token) for t in config.auth.api_tokens] == [("demo", "demo-token")]
    (user,) = config.users
    assert user.id == "demo" and user.role == "admin"
    # the dashboard password the banner prints is the one the hash holds
    assert user.password_hash is not None
    assert PasswordHasher().verify(user.password_hash, DEMO_PASSWORD)
    assert user.password_hash == DEMO_PASSWORD_HASH  # what check-config warns of
    assert [(r.after.total_seconds(), r.via) for r in user.notification_rules] == [(0, "console")]
    (policy,) = config.escalation_policies
    assert policy.repeat == 1
    (level,) = policy.levels
    assert [(t.kind, t.id) for t in level.targets] == [("user", "demo")]
    assert level.escalate_after.total_seconds() == 300
    (service,) = config.services
    assert service.id == "demo" and service.escalation_policy == policy.id
    assert [(i.type, i.key) for i in service.integrations] == [
        ("generic", "demo-generic"),
        ("pagerduty", "demo-routing-key-0000000000000000"),
        ("alertmanager", "demo-am"),
    ]
    assert config.channels.console is not None
    assert config.channels.slack is None and config.channels.twilio is None


def test_demo_config_data_dir_override(tmp_path: Path) -> None:
    config = load_demo_config(data_dir=tmp_path / "data")
    assert config.data_dir == tmp_path / "data"
    assert load_demo_config(str(tmp_path)).data_dir == tmp_path
    assert config.services == load_demo_config().services


def test_demo_config_passes_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(demo_config_text())
    assert main(str(path), env={}) == 0
    assert capsys.readouterr().out == (
        f"warning: {DEMO_TOKEN_WARNING}\nwarning: {DEMO_PASSWORD_WARNING}\n"
        f"{path}: valid (2 warnings)\n"
    )


def test_heartbeats_name_a_service_and_are_named_once(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    base["heartbeats"] = [
        {"name": "nightly", "service": "checkout", "interval": "1d", "grace": "1h"},
        {"name": "nightly", "service": "chekout", "interval": "5m"},
    ]
    assert problems(base) == [
        "heartbeats[1].service: unknown service 'chekout' (did you mean 'checkout'?)",
        "heartbeats[1].name: heartbeat 'nightly' defined twice",
    ]
