"""The `bundling` section (storm mode for people) and the escalation policy's unreachable
options: defaults, a method's throttle replaced or emptied, what the core is given, and
problems reported with their path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pager.config import load_config_text
from pager.config.compile import compile_rules
from pager.core.bundling import Throttle

from .conftest import ProblemsOf


def test_defaults_follow_goalert_for_calls_and_texts() -> None:
    rules = compile_rules(load_config_text("{}", source="test"))
    b = rules.bundling
    assert (b.after, b.window, b.titles) == (2, timedelta(minutes=1), 5)
    assert b.throttles["voice"][:2] == (
        Throttle(1, timedelta(minutes=1)),
        Throttle(3, timedelta(minutes=15)),
    )
    assert b.throttles["sms"][:2] == (
        Throttle(1, timedelta(minutes=1)),
        Throttle(5, timedelta(minutes=15)),
    )
    assert "slack" not in b.throttles
    assert b.rules("slack") == (Throttle(2, timedelta(minutes=1)),)


def test_a_method_given_replaces_its_defaults_and_an_empty_list_has_none() -> None:
    text = """
bundling:
  after: 5
  window: 30s
  throttle:
    voice: [{count: 2, per: 10m}]
    sms: []
    slack: [{count: 10, per: 1h}]
"""
    b = compile_rules(load_config_text(text, source="test")).bundling
    assert (b.after, b.window) == (5, timedelta(seconds=30))
    assert b.throttles["voice"] == (Throttle(2, timedelta(minutes=10)),)
    assert "sms" not in b.throttles
    assert b.throttles["slack"] == (Throttle(10, timedelta(hours=1)),)
    assert b.throttles["email"] == (Throttle(1, timedelta(minutes=1)),)  # untouched


def test_problems_name_their_path(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["bundling"] = {
        "after": 0,
        "window": "2d",
        "throttle": {"voice": [{"count": 3, "per": "2d"}], "pigeon": []},
    }
    found = problems(base)
    assert any(p.startswith("bundling.after:") for p in found), found
    assert any(p.startswith("bundling.window:") and "at most 1d" in p for p in found), found
    assert any(p.startswith("bundling.throttle.voice[0].per:") for p in found), found
    assert any(p.startswith("bundling.throttle") and "pigeon" in p for p in found), found


def test_unreachable_options_of_a_policy(base: dict[str, Any]) -> None:
    import yaml

    policy = base["escalation_policies"][0]
    default = compile_rules(load_config_text(yaml.safe_dump(base), source="test"))
    compiled = default.policies[policy["id"]]
    assert (compiled.escalate_when_unreachable, compiled.unreachable_after_attempts) == (True, 3)
    policy["escalate_when_unreachable"] = False
    policy["unreachable_after_attempts"] = 5
    rules = compile_rules(load_config_text(yaml.safe_dump(base), source="test"))
    compiled = rules.policies[policy["id"]]
    assert compiled.escalate_when_unreachable is False
    assert compiled.unreachable_after_attempts == 5
