"""The `reports` section (scheduled on-call reports): off by default, where each goes is
checked against the channels configured, and bad values say what and where."""

from __future__ import annotations

from typing import Any

from pager.config import load_config_text

from .conftest import ProblemsOf


def test_no_reports_by_default(base: dict[str, Any]) -> None:
    import yaml

    assert load_config_text(yaml.safe_dump(base)).reports == ()


def test_a_weekly_report_to_the_services_channel(
    problems: ProblemsOf, base: dict[str, Any]
) -> None:
    base["services"][0]["chat"] = {"slack_channel": "C0CHECKOUT"}
    base["reports"] = [{"at": "Monday 09:00", "timezone": "Europe/Berlin", "service": "checkout",
                        "slack_channel": "service"}]  # fmt: skip
    assert problems(base) == []
    import yaml

    report = load_config_text(yaml.safe_dump(base)).reports[0]
    assert (report.at, report.weekday) == ("monday 09:00", 0)
    base["reports"][0]["at"] = "18:30"
    assert load_config_text(yaml.safe_dump(base)).reports[0].weekday is None


def test_report_problems_say_what_and_where(problems: ProblemsOf, base: dict[str, Any]) -> None:
    base["reports"] = [
        {"service": "chekout", "slack_channel": "C0OPS"},
        {"service": "checkout", "slack_channel": "service", "email": ["ops@example.com"]},
    ]
    assert problems(base) == [
        "reports[0].service: unknown service 'chekout' (did you mean 'checkout'?)",
        "reports[1].slack_channel: service 'checkout' has no chat.slack_channel to send the "
        "report to",
        "reports[1].email: a report by email needs the channels.email section, which is not "
        "configured",
    ]
    del base["channels"]
    base["reports"] = [{"slack_channel": "C0OPS"}]
    assert [p for p in problems(base) if not p.startswith("warning:")] == [
        "reports[0].slack_channel: a report to Slack needs the channels.slack section, which is "
        "not configured"
    ]
    base["channels"] = {"slack": {"token": "xoxb", "signing_secret": "s3cret"}}
    base["reports"] = [{"at": "funday 09:00", "email": ["ops@example.com"]}]
    (found,) = problems(base)
    assert found.startswith("reports[0].at: ")
    base["reports"] = [{"at": "09:00"}]
    assert problems(base) == [
        "reports[0]: a report needs slack_channel or email (where to send it)"
    ]
    base["reports"] = [{"slack_channel": "service", "email": []}]
    assert problems(base) == [
        "reports[0]: slack_channel 'service' is the report's service's own channel: name the "
        "service"
    ]
