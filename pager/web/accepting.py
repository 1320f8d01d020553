"""What both listeners share about accepting connections: the file-descriptor budget and
the accept-failure log.

Every socket, journal segment and outbound delivery connection is a descriptor of one
process, so a flood of connections to either listener could otherwise starve the pager's
own work (a page's webhook failing with "cannot connect"). At start-up `descriptor_budget`
raises the soft `RLIMIT_NOFILE` to the hard limit and says how many connections each
listener may hold so that `reserve` descriptors always stay free for delivery and the
journal. `AcceptFailures` turns a storm of `EMFILE` from `accept()` into one log line per
interval instead of one traceback per attempt.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
from typing import Final

import trio

__all__ = [
    "ACCEPT_CAPACITY_ERRNOS",
    "MAX_REJECTING",
    "AcceptFailures",
    "descriptor_budget",
    "raise_nofile_limit",
]

_log = logging.getLogger("pager.web")

#: accept() failures that mean "out of resources for now", not "the listener is broken"
#: (the same set trio.serve_listeners tolerates).
ACCEPT_CAPACITY_ERRNOS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
#: How long an accept loop pauses after such a failure.
ACCEPT_PAUSE: Final = 0.1
#: Descriptors pager itself holds besides connections (listeners, journal, logs, imports).
_BASELINE: Final = 32
#: Over-cap connections each listener may be answering 503 at one time.
MAX_REJECTING: Final = 16


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (as far as the system lets us) and
    return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            _log.warning("could not raise the open-files limit above %d", soft)
    return soft


def descriptor_budget(configured: int, *, reserve: int, listeners: int) -> int:
    """Connections one listener may hold: `configured`, or fewer when the open-files limit
    would not leave `reserve` descriptors free with every listener full (never below 1)."""
    soft = raise_nofile_limit()
    share = (soft - reserve - _BASELINE) // max(1, listeners) - MAX_REJECTING
    budget = max(1, min(configured, share))
    if budget < configured:
        _log.warning(
            "open-files limit %d: each listener holds at most %d connections "
            "(%d descriptors kept for delivery and the journal)",
            soft,
            budget,
            reserve,
        )
    return budget


class AcceptFailures:
    """Rate-limited logging of accept() running out of descriptors or memory."""

    __slots__ = ("interval", "last", "name", "suppressed")

    def __init__(self, name: str, interval: float = 10.0) -> None:
        self.name = name
        self.interval = interval
        self.last = -float("inf")
        self.suppressed = 0

    async def pause(self, exc: OSError) -> None:
        """Log `exc` (at most once per interval, with how many were left unsaid), then
        pause briefly. Re-raises an error that is not about capacity."""
        if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
            raise exc
        now = trio.current_time()
        if now - self.last >= self.interval:
            more = f" ({self.suppressed} more since the last report)" if self.suppressed else ""
            _log.error(
                "%s: accept failed: %s%s; pausing accepts", self.name, os.strerror(exc.errno), more
            )
            self.last = now
            self.suppressed = 0
        else:
            self.suppressed += 1
        await trio.sleep(ACCEPT_PAUSE)
