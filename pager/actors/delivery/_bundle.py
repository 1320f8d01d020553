"""What the lanes (`_lanes.py`) share about their messages: which of a lane's due pages
and posts are still to send (`_still_due`; a person's pages of incidents acknowledged or
resolved meanwhile are cancelled, in one append: `_cancel_moot`), and one attempt to send a
journaled bundle (`notification.bundled`) with its outcome journaled for each page it
carries (`notification.sent` / `notification.failed` with the bundle's id)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pager.core.bundles import Bundle
from pager.core.events import (
    Event,
    NotificationCancelled,
    NotificationFailed,
    NotificationSent,
)
from pager.core.model import Status
from pager.core.notifications import Notification
from pager.core.redaction import without_secrets
from pager.core.vocabulary import NotificationKind
from pager.transports.base import DeliveryError, Message, ProviderRejected, Sent

from ._base import DeliveryBase

__all__ = ["BundleDelivery", "BundleMessageFactory"]

log = logging.getLogger("pager.delivery")

BundleMessageFactory = Callable[[Bundle, int], Message | None]


class BundleDelivery(DeliveryBase):
    """The lanes' messages (set up by `DeliveryActor`)."""

    make_bundle_message: BundleMessageFactory
    bundles_sent: int
    _dropped: set[str]  # pages of incidents nobody knows: never sent

    async def _still_due(self, members: list[Notification]) -> list[Notification]:
        """Of a lane's due messages, those to send: a person's pages whose incidents are
        still triggered (`_cancel_moot`); every status post of a channel whose incident is
        known (rebuilt from the log when it was archived meanwhile)."""
        pages = [n for n in members if n.kind == NotificationKind.PAGE]
        posts = [n for n in members if n.kind != NotificationKind.PAGE]
        live = await self._cancel_moot(pages) if pages else []
        for n in posts:
            if self.state.incidents.get(n.incident_id) is not None or await self._rebuild(n):
                live.append(n)
            else:  # an incident nobody knows (logged): never sent
                self._dropped.add(n.id)
        return live

    async def _cancel_moot(self, pages: list[Notification]) -> list[Notification]:
        """The pages whose incidents are still triggered; the others are cancelled (in one
        append)."""
        cancelled: list[Event] = []
        live = []
        for n in pages:
            inc = self.state.incidents.get(n.incident_id)
            if inc is None and n.incident_id not in self.state.archive:
                log.error("notification %s is for unknown incident %s", n.id, n.incident_id)
                self._dropped.add(n.id)
            elif inc is None or inc.status is not Status.TRIGGERED:
                status = "resolved" if inc is None else inc.status.value
                cancelled.append(
                    NotificationCancelled(
                        incident_id=n.incident_id,
                        notification_id=n.id,
                        reason=f"the incident is {status}",
                    )
                )
            else:
                live.append(n)
        if cancelled:
            await self._record(*cancelled)
        return live

    async def _attempt_bundle(self, bundle_id: str, members: list[Notification]) -> bool:
        """One attempt to send a journaled bundle with those of its pages still due."""
        live = await self._still_due(members)
        if not live:
            return bool(members)
        bundle = self.state.bundles.by_id.get(bundle_id)
        attempt = max(n.attempts for n in live) + 1
        error: DeliveryError | None = None
        message = None
        if bundle is None:
            error = ProviderRejected(f"bundle {bundle_id} is no longer known", permanent=True)
        elif bundle.address is not None and self.state.is_opted_out(self.method, bundle.address):
            error = ProviderRejected(
                f"the person opted out of {self.method} (replied STOP); "
                "nothing is sent there until they reply START",
                permanent=True,
            )
        else:
            message = self.make_bundle_message(bundle, attempt)
            if message is None:
                error = ProviderRejected(
                    "nothing to send it with (unknown user or service)", permanent=True
                )
        if message is not None:
            try:
                sent = await self._send(message)
            except DeliveryError as e:
                error = e
            else:
                await self._bundle_sent(bundle_id, live, attempt, sent)
                return True
        assert error is not None
        await self._bundle_failed(bundle_id, live, attempt, error)
        return True

    async def _bundle_sent(
        self, bundle_id: str, live: list[Notification], attempt: int, sent: Sent
    ) -> None:
        self.sent += 1
        self.bundles_sent += 1
        await self._record(
            *[
                NotificationSent(
                    incident_id=n.incident_id,
                    notification_id=n.id,
                    attempt=attempt,
                    provider_id=sent.provider_id,
                    method=self.method,
                    user_id=n.user_id,
                    bundle_id=bundle_id,
                )
                for n in live
            ]
        )

    async def _bundle_failed(
        self, bundle_id: str, live: list[Notification], attempt: int, e: DeliveryError
    ) -> None:
        retry_at = self._retry_at(attempt, e, min(n.requested_at for n in live))
        final = retry_at is None
        # whatever the transport quoted, never the credentials of the URLs it posted to
        error = e.message
        for address in {n.address for n in live}:
            error = without_secrets(error, address)
        log.warning(
            "%s bundle %s (%d pages) attempt %d failed: %s%s", self.method, bundle_id,
            len(live), attempt, error,
            "" if retry_at is None else f"; retrying at {retry_at.isoformat()}",
        )  # fmt: skip
        await self._record(
            *[
                NotificationFailed(
                    incident_id=n.incident_id,
                    notification_id=n.id,
                    attempt=attempt,
                    error=error,
                    permanent=final,
                    retry_at=retry_at,
                    bundle_id=bundle_id,
                )
                for n in live
            ]
        )
        if final:
            self.failed += 1
        for n in live:
            await self._fall_back(n, attempt, final)
