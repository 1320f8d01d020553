"""Whether a service is in maintenance, the one answer the incident actor and the route test
share: its configured windows first (the first that covers the instant), then windows set
through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pager.core.rules import ServiceRules, Window
from pager.core.state import MaintenanceWindow, SystemState, maintenance_reason

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_configured_windows_first_the_first_that_covers() -> None:
    svc = ServiceRules(
        "checkout",
        maintenance=(
            Window(T - 2 * H, T - H, "over"),
            Window(T - H, T + H, "deploy"),
            Window(T - H, T + 2 * H, "later one"),
            Window(T, T + H),
        ),
    )
    assert maintenance_reason(svc, T) == "deploy"
    assert maintenance_reason(svc, T + H) == "later one"  # the end is not covered
    assert maintenance_reason(svc, T + 2 * H) is None


def test_api_windows_of_the_service_when_no_configured_one_covers() -> None:
    state = SystemState()
    state.maintenance["w1"] = MaintenanceWindow("w1", "billing", T - H, T + H, "other service")
    state.maintenance["w2"] = MaintenanceWindow("w2", "checkout", T, T + H, None)
    svc = ServiceRules("checkout", maintenance=(Window(T + H, T + 2 * H, "configured"),))
    assert maintenance_reason(svc, T - H / 2, state) is None
    assert maintenance_reason(svc, T, state) == "maintenance window"  # no reason given
    assert maintenance_reason(svc, T + H, state) == "configured"
    assert maintenance_reason(svc, T) is None  # without the state: configured windows only
