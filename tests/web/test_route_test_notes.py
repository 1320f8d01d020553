"""The route test says why nobody would be paged: a maintenance window set through the API
(held in the state) counts as it would for a real alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pager.config.compile import compile_rules
from pager.core.state import MaintenanceWindow, SystemState
from pager.ingest.route_test import route_test

from ..harness import make_config, pd_trigger

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_maintenance_window_means_nobody_is_paged_and_says_why(tmp_path: Path) -> None:
    rules = compile_rules(make_config(tmp_path / "data"))
    state = SystemState()
    out = route_test(rules, pd_trigger("k1"), AT, state=state)
    assert "note" not in out
    assert any(s["kind"] == "notify" for s in out["timeline"])
    h = timedelta(hours=1)
    state.maintenance["w"] = MaintenanceWindow("w", "checkout", AT - h, AT + h, "deploy")
    out = route_test(rules, pd_trigger("k1"), AT, state=state)
    assert out["note"] == "nobody would be paged: maintenance: deploy"
    assert not any(s["kind"] == "notify" for s in out["timeline"])


def test_an_opsgenie_alert_routes_with_its_priority(tmp_path: Path) -> None:
    rules = compile_rules(make_config(tmp_path / "data"))
    body = {"message": "disk", "alias": "a1", "priority": "P5"}
    out = route_test(rules, body, AT, integration="opsgenie", key="og-checkout")
    assert out["service"]["id"] == "checkout" and out["dedup_key"] == "a1"
    assert out["integration"] == "opsgenie"


def test_a_missing_key_says_what_to_do(tmp_path: Path) -> None:
    """Without a key, a generic payload routes only when exactly one generic key exists:
    with two the answer asks which one, with none it says that no service takes it."""
    import pytest

    from pager.errors import BadRequest

    rules = compile_rules(make_config(tmp_path / "data"))  # gen-checkout and gen-payments
    with pytest.raises(BadRequest) as two:
        route_test(rules, {"title": "disk"}, AT)
    assert two.value.message == (
        "key: required: 2 generic integration keys are configured; name the one the alert "
        "is sent to"
    )
    assert route_test(rules, {"title": "disk"}, AT, key="gen-payments")["service"]["id"] == (
        "payments"
    )
    from pager.config import load_demo_config

    demo = compile_rules(load_demo_config(tmp_path / "demo"))  # no opsgenie integration
    with pytest.raises(BadRequest) as none:
        route_test(demo, {"message": "disk"}, AT, integration="opsgenie")
    assert none.value.message == (
        "key: no opsgenie integration is configured, so this opsgenie payload reaches no "
        "service (set integration if the payload is of another kind)"
    )
