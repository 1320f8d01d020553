"""The `reports` section: the on-call report (docs/analytics.md) sent on a schedule to a
Slack channel and/or by email. Off by default: no section, no reports.

```yaml
reports:
  - at: "monday 09:00"       # weekly, Mondays at 09:00 in `timezone`; "09:00": daily
    timezone: Europe/Berlin
    service: checkout        # one service's report (default: every service)
    slack_channel: service   # a Slack channel id, or `service`: the service's chat.slack_channel
    email: [oncall@example.com]
```

A weekly report covers the 7 days before it is sent, a daily one the 24 hours before.
"""

from __future__ import annotations

from pydantic import model_validator

from pager.config.durations import TimeZoneName
from pager.config.fields import ConfigModel, EmailAddress, NonEmptyStr, Reference, error
from pager.config.models_schedules import Handoff, parse_handoff

__all__ = ["SERVICE_CHANNEL", "Report"]

SERVICE_CHANNEL = "service"  # slack_channel: the report's service's own chat channel


class Report(ConfigModel):
    at: Handoff = "monday 09:00"
    timezone: TimeZoneName = "UTC"
    service: Reference | None = None
    slack_channel: NonEmptyStr | None = None
    email: tuple[EmailAddress, ...] = ()

    @model_validator(mode="after")
    def _somewhere(self) -> Report:
        if self.slack_channel is None and not self.email:
            raise error("reports", "a report needs slack_channel or email (where to send it)")
        if self.slack_channel == SERVICE_CHANNEL and self.service is None:
            raise error(
                "slack_channel",
                "slack_channel 'service' is the report's service's own channel: name the service",
            )
        return self

    @property
    def weekday(self) -> int | None:
        """0 (Monday) to 6 for a weekly report, None for a daily one."""
        return parse_handoff(self.at)[0]
