"""What an ingest parser hands on: the integration key it was sent with, the dedup key, the
core command, and the view of the alert that content-based routing matches on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pager.core._fast import maker
from pager.core.commands import Command, TriggerAlert

__all__ = ["ParsedAlert", "ParsedChange", "new_parsed_alert", "new_trigger"]


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    integration: str  # "pagerduty" | "alertmanager" | "generic"
    key: str  # the integration (routing) key
    dedup_key: str
    command: Command
    opens: bool  # a trigger may open an incident; acknowledge/resolve never do
    view: Mapping[str, Any] = field(default_factory=dict)
    generated_key: bool = False
    dropped: int = 0  # alerts of an Alertmanager group over its bound, not read


@dataclass(frozen=True, slots=True)
class ParsedChange:
    key: str
    summary: str
    source: str | None
    occurred_at: datetime | None
    links: tuple[Any, ...]
    details: Any
    view: Mapping[str, Any] = field(default_factory=dict)


# `ParsedAlert(...)` and `TriggerAlert(...)`, the same values, made without a frozen
# dataclass's `object.__setattr__` per field (pager.core._fast): one of each for every alert
# the PagerDuty, generic and Opsgenie parsers read
new_parsed_alert: Callable[..., ParsedAlert] = maker(ParsedAlert)
new_trigger: Callable[..., TriggerAlert] = maker(TriggerAlert)
