"""Which service an alert belongs to.

An integration key either belongs to one service, or is a shared key whose rules route each
alert by its content: the first rule whose conditions all match wins, and a rule without
conditions catches everything. Fields are dotted paths into the alert as its integration
sends it (`labels.team` for Alertmanager, `payload.source` or `custom_details.region` for
PagerDuty, `details.team` for the generic webhook).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Condition", "IntegrationRoute", "RoutingRule", "field_value"]


def field_value(view: Mapping[str, Any], path: str) -> Any:
    cur: Any = view
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    equals: str | None = None
    regex: re.Pattern[str] | None = None
    one_of: tuple[str, ...] | None = None

    def matches(self, view: Mapping[str, Any]) -> bool:
        v = field_value(view, self.field)
        if v is None:
            return False
        s = v if isinstance(v, str) else str(v)
        if self.equals is not None:
            return s == self.equals
        if self.regex is not None:
            return self.regex.search(s) is not None
        if self.one_of is not None:
            return s in self.one_of
        return True


@dataclass(frozen=True, slots=True)
class RoutingRule:
    service_id: str
    when: tuple[Condition, ...] = ()

    def matches(self, view: Mapping[str, Any]) -> bool:
        return all(c.matches(view) for c in self.when)


@dataclass(frozen=True, slots=True)
class IntegrationRoute:
    """Where alerts sent with one integration key go."""

    type: str  # "pagerduty" | "alertmanager" | "generic"
    service_id: str | None = None  # the key belongs to this service
    rules: tuple[RoutingRule, ...] = ()  # or it is shared and routes by content
    rate_events: int | None = None  # the service's opt-in rate_limit (None: every event)
    rate_per_seconds: float = 60.0

    def route(self, view: Mapping[str, Any]) -> str | None:
        if self.service_id is not None:
            return self.service_id
        for rule in self.rules:
            if rule.matches(view):
                return rule.service_id
        return None
