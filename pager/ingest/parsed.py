"""What an ingest parser hands on: the integration key it was sent with, the dedup key, the
core command, and the view of the alert that content-based routing matches on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pager.core.commands import Command

__all__ = ["ParsedAlert", "ParsedChange"]


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
