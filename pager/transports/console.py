"""The console transport: prints each notification to stdout. The demo's only channel, and
a way to see what pager would send without any provider."""

from __future__ import annotations

import sys
from typing import TextIO

from .base import Message, Sent, Transport

__all__ = ["ConsoleTransport"]


class ConsoleTransport(Transport):
    method = "console"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    async def send(self, message: Message) -> Sent:
        inc = message.incident
        out = self.out or sys.stdout
        if message.kind == "page":
            line = (
                f"[page] {message.user_name or message.user_id}: {inc.severity.upper()} "
                f"{inc.title} (incident {inc.id}, {message.service_name}, {inc.status.value}; "
                f"short code {inc.short_code})"
            )
        else:
            line = f"[{message.topic or message.kind}] {inc.title} (incident {inc.id}): {inc.status.value}"
        for name, url in message.links.items():
            line += f"\n    {name}: {url}"
        out.write(line + "\n")
        out.flush()
        return Sent(provider_id=f"console-{message.notification_id}")
