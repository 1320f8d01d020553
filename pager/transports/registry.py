"""Building the transports a configuration asks for: one per configured channel, plus the
console, which needs no configuration. A contact method without a configured channel gets a
transport that fails at once and for good, so the person's next method is tried."""

from __future__ import annotations

from typing import Any

from .base import DeliveryError, Message, Sent, Transport
from .console import ConsoleTransport

__all__ = ["METHODS", "MissingTransport", "build_transports"]

METHODS = ("slack", "sms", "voice", "email", "teams", "webhook", "console")


class MissingTransport(Transport):
    def __init__(self, method: str) -> None:
        self.method = method

    async def send(self, message: Message) -> Sent:
        raise DeliveryError(
            f"no {self.method} channel is configured (channels.{self.method})", permanent=True
        )


def build_transports(config: Any) -> dict[str, Transport]:
    """Every method in METHODS mapped to its transport."""
    out: dict[str, Transport] = {"console": ConsoleTransport()}
    for method in METHODS:
        out.setdefault(method, MissingTransport(method))
    return out
