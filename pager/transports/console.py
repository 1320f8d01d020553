"""The console transport: prints each notification to stdout. The demo's only channel, and
a way to see what pager would send without any provider. Every text from outside is printed
with its control characters shown as `\\xNN` (`terminal_text`), so a title can neither start
a forged line nor send the terminal an escape sequence."""

from __future__ import annotations

import sys
from typing import TextIO

from pager.core.text import terminal_text
from pager.core.vocabulary import NotificationKind

from .base import Message, Sent, Transport

__all__ = ["ConsoleTransport"]


class ConsoleTransport(Transport):
    method = "console"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    async def send(self, message: Message) -> Sent:
        inc = message.incident
        out = self.out or sys.stdout
        t = terminal_text
        title = t(inc.title)
        if message.bundle is not None:
            b = message.bundle
            services = ", ".join(f"{n} {t(name)}" for name, n in b.services())
            titles = "; ".join(
                f"{t(i.incident.title)} ({i.incident.id})" for i in b.items[: b.titles]
            )
            more = b.count - min(b.count, b.titles)
            line = (
                f"[bundle] {t(message.user_name or message.user_id or '')}: {b.count} incidents "
                f"({services}): {titles}{f'; {more} more' if more else ''} (bundle {b.id})"
            )
        elif message.kind == NotificationKind.PAGE:
            line = (
                f"[page] {t(message.user_name or message.user_id or '')}: {inc.severity.upper()} "
                f"{title} (incident {inc.id}, {t(message.service_name)}, {inc.status.value}; "
                f"short code {inc.short_code})"
            )
        else:
            line = (
                f"[{message.topic or message.kind}] {title} (incident {inc.id}): {inc.status.value}"
            )
        for name, url in message.links.items():
            line += f"\n    {name}: {t(url)}"
        out.write(line + "\n")
        out.flush()
        return Sent(provider_id=f"console-{message.notification_id}")
