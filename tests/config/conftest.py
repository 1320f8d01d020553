"""Shared helpers for the configuration tests.

Most tests start from `base`, a small valid configuration as a plain dict, change one
thing, and assert on the exact problem lines `problems(...)` returns (the same text
`pager check-config` prints). Configurations are built as dicts and dumped to YAML so each
test states only what it changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from pager.config.load import validate_config_text

HERE = Path(__file__).parent

CONTRACT_ENV = {
    "PAGER_API_TOKEN": "9b1f0c7d2e6a4f38b5c1d9e07a3f6b24",
    "PAGER_LINK_SECRET": "4e8a1d6c0b3f7e92a5d8c1f40b7e3a69",
    "CHECKOUT_ROUTING_KEY": "R0UT1NGKEY",
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "signing-1",
    "TWILIO_SID": "AC123",
    "TWILIO_TOKEN": "twilio-token-1",
    "SMTP_PASSWORD": "smtp: pass # word",
    "WEBHOOK_SIGNING_SECRET": "c27f5e0a9d1b6c384f7a2e9d0b5c8f13",
}

BASE: dict[str, Any] = {
    "users": [
        {
            "id": "alice",
            "contacts": {"slack": "U024BE7LH", "sms": "+15555550100"},
            "notification_rules": [{"after": "0m", "via": "slack"}],
        },
        {
            "id": "bob",
            "contacts": {"slack": "U024BE7LJ"},
            "notification_rules": [{"after": "0m", "via": "slack"}],
        },
    ],
    "schedules": [
        {
            "id": "primary",
            "timezone": "America/New_York",
            "layers": [
                {
                    "name": "weekly",
                    "users": ["alice", "bob"],
                    "rotation": {"every": "1w", "handoff": "monday 09:00", "start": "2026-01-05"},
                }
            ],
        }
    ],
    "escalation_policies": [
        {
            "id": "default",
            "levels": [
                {"targets": [{"schedule": "primary"}], "escalate_after": "5m"},
                {"targets": [{"user": "bob"}], "escalate_after": "10m"},
            ],
        }
    ],
    "services": [
        {
            "id": "checkout",
            "escalation_policy": "default",
            "integrations": [{"type": "generic", "key": "gen-checkout"}],
        }
    ],
    "channels": {"slack": {"token": "xoxb", "signing_secret": "s3cret"}},
}


@pytest.fixture
def contract_env() -> dict[str, str]:
    """Values for every `${VAR}` of the CONTRACT example."""
    return dict(CONTRACT_ENV)


@pytest.fixture
def contract_text() -> str:
    """The YAML example of CONTRACT.md, verbatim."""
    return (HERE / "contract_example.yaml").read_text()


@pytest.fixture
def base() -> dict[str, Any]:
    """A small valid configuration (two users, a schedule, a policy, a service), as a dict."""
    return copy.deepcopy(BASE)


ProblemsOf = Callable[..., list[str]]


@pytest.fixture
def problems() -> ProblemsOf:
    """`problems(dict_or_yaml_text, env={})` -> every problem, as check-config prints it."""

    def problems_of(
        document: Mapping[str, Any] | str, env: Mapping[str, str] | None = None
    ) -> list[str]:
        text = document if isinstance(document, str) else yaml.safe_dump(dict(document))
        _, found = validate_config_text(text, env={} if env is None else env)
        return [str(problem) for problem in found]

    return problems_of
