"""check-config's on-call checks: schedule gaps and notification delays longer than the
escalation that pages the person."""

from __future__ import annotations

from datetime import UTC, datetime

from pager.config import check_config, load_config_text
from pager.config.check_oncall import personal_delays, schedule_gaps

CONFIG = """
users:
  - id: alice
    notification_rules: [{after: 0m, via: console}, {after: 10m, via: console}]
  - id: bob
    notification_rules: [{after: 0m, via: console}]
schedules:
  - id: office
    timezone: Europe/Berlin
    layers:
      - name: days
        users: [alice, bob]
        rotation: {every: 1d, handoff: "09:00", start: 2026-03-02}
        restrictions: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}]
  - id: always
    timezone: UTC
    layers:
      - name: all
        users: [bob]
        rotation: {every: 1w, handoff: "monday 00:00", start: 2026-01-05}
escalation_policies:
  - id: p
    levels:
      - targets: [{schedule: office}]
        escalate_after: 5m
      - targets: [{user: bob}]
        escalate_after: 30m
services:
  - id: s
    escalation_policy: p
channels:
  console: {}
"""


def test_gaps_are_warnings_naming_the_schedule_and_local_times() -> None:
    config = load_config_text(CONFIG)
    monday = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    problems = list(schedule_gaps(config, monday))
    assert [p.path for p in problems] == ["schedules[0]"]  # "always" has no gap
    (p,) = problems
    assert p.severity == "warning"
    assert "'office'" in p.message and "(Europe/Berlin)" in p.message
    assert "Mon 2026-03-02 01:00 to Mon 2026-03-02 09:00" in p.message  # 00:00 UTC is 01:00 CET
    assert "Mon 2026-03-02 17:00 to Tue 2026-03-03 09:00" in p.message


def test_a_rule_slower_than_the_level_that_pages_the_person_is_reported() -> None:
    config = load_config_text(CONFIG)
    problems = list(personal_delays(config))
    assert [(p.path, p.severity) for p in problems] == [
        ("users[0].notification_rules[1].after", "warning")
    ]
    assert (
        "10m is longer than escalation_policies[0].levels[0].escalate_after (5m)"
        in problems[0].message
    )
    # the last level of a policy without repeat escalates nowhere: no warning for bob there
    assert all("levels[1]" not in p.message for p in problems)
    # both run as part of check_config
    paths = [p.path for p in check_config(config)]
    assert "users[0].notification_rules[1].after" in paths and "schedules[0]" in paths
