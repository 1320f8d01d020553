"""The configuration pager runs with in the benchmarks: the shape of tests/harness.py's,
with ingest rate limits out of the way and the journal durable (fsync on)."""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["AM_KEY", "PD_KEY", "config_text", "free_port"]

PD_KEY = "R0UT1NGKEYCHECKOUT00000000000000"
AM_KEY = "am-checkout"

_CONFIG = """\
server:
  listen: 127.0.0.1:{port}
  ingest_listen: 127.0.0.1:{ingest_port}
  public_url: http://127.0.0.1:{port}
data_dir: {data_dir}
auth:
  api_tokens:
    - {{name: ops, token: "bench-token-0123456789"}}
  link_secret: bench-link-secret
users:
  - id: alice
    contacts: {{email: alice@example.com, sms: "+15555550100"}}
    notification_rules: [{{after: 0m, via: console}}]
  - id: bob
    notification_rules: [{{after: 0m, via: console}}]
  - id: carol
    notification_rules: [{{after: 0m, via: console}}]
schedules:
  - id: primary
    timezone: America/New_York
    layers:
      - name: weekly
        users: [alice, bob]
        rotation: {{every: 1w, handoff: "monday 09:00", start: 2026-01-05}}
escalation_policies:
  - id: default
    repeat: 1
    levels:
      - targets: [{{schedule: primary}}]
        escalate_after: 5m
      - targets: [{{user: carol}}]
        escalate_after: 10m
services:
  - id: checkout
    escalation_policy: default
    ack_timeout: 30m
    integrations:
      - {{type: pagerduty, key: {pd_key}}}
      - {{type: alertmanager, key: {am_key}}}
    rate_limit: {{events: 100000000, per: 1m}}
channels:
  console: {{}}
journal:
  fsync: {fsync}
"""


def config_text(data_dir: Path, *, port: int = 0, ingest_port: int = 0, fsync: bool = True) -> str:
    return _CONFIG.format(
        port=port,
        ingest_port=ingest_port,
        data_dir=data_dir,
        pd_key=PD_KEY,
        am_key=AM_KEY,
        fsync="true" if fsync else "false",
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
