"""The delivery actor, one per contact method: `_base` sends each notification with
retries, backoff, pacing and a circuit breaker; `_lanes` sends a person's pages (and a chat
channel's status posts) one message at a time, bundling them in a storm; `_bundle` sends a
bundle and cancels the pages of incidents settled meanwhile (see each module)."""

from ._base import AttemptLimit, Fallback, MessageFactory
from ._bundle import BundleMessageFactory
from ._lanes import DeliveryActor

__all__ = ["AttemptLimit", "BundleMessageFactory", "DeliveryActor", "Fallback", "MessageFactory"]
