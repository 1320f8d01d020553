"""The delivery actor, one per contact method: `_base` sends each notification with
retries, backoff, pacing and a circuit breaker; `_lanes` sends a person's pages (and a chat
channel's status posts) one message at a time, bundling them in a storm (see each module)."""

from ._base import AttemptLimit, Fallback, MessageFactory
from ._lanes import BundleMessageFactory, DeliveryActor

__all__ = ["AttemptLimit", "BundleMessageFactory", "DeliveryActor", "Fallback", "MessageFactory"]
