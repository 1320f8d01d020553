"""`GET /a/{token}` and `POST /a/{token}`: the action links of emails and Teams cards (see
`pager.core.links` for the token).

Opening a link (GET) acts on nothing: it shows a small page naming the incident, the action
and the person, with one button that POSTs to the same address. Only the POST acts, so mail
scanners and link previews, which follow links, acknowledge nothing. Both check the token
first: a forged, altered or expired token, a used link, or one for someone who is no longer
a pager user gets 403 and changes nothing. The POST performs the action as the link's user,
via the channel that carried it (email, teams), and journals the link as used in the same
append; a second POST of the same link is refused, even after a restart. An incident that
is already resolved gets a polite page saying so (409). A bundle's link (`acknowledge_all`,
storm mode) names the bundle: it acknowledges every incident of it still triggered, each
journaled with the link's use, so it too acts once.

The pages are self-contained HTML (autoescaped), sent with `Cache-Control: no-store`,
`Referrer-Policy: no-referrer` and a strict Content-Security-Policy. Tokens are never
logged; the link's id (notification and action) is.
"""

from __future__ import annotations

import logging
from typing import Any

import jinja2
from quart import Response
from quart_trio import QuartTrio

from pager.actors.interactions import label, perform, perform_all
from pager.actors.system import System
from pager.core.links import BUNDLE_ACTION, LinkClaims, verify_link
from pager.core.model import Status
from pager.errors import LinkRefused

__all__ = ["register"]

log = logging.getLogger("pager.web.links")

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

_PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>pager: {{ heading }}</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
 button { font-size: 1.2rem; padding: .6rem 1.4rem; cursor: pointer; }
 .muted { color: #666; }
</style></head>
<body>
<h1>{{ heading }}</h1>
{% for line in lines %}<p>{{ line }}</p>
{% endfor %}{% if button %}<form method="post" action="">
<button type="submit">{{ button }}</button>
</form>{% endif %}
<p class="muted">pager</p>
</body></html>
"""
)

_VERB = {"acknowledge": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate"}


def page(status: int, heading: str, *lines: str, button: str | None = None) -> Response:
    body = _PAGE.render(heading=heading, lines=lines, button=button)
    return Response(body, status, headers=HEADERS, content_type="text/html; charset=utf-8")


def register(app: QuartTrio, system: System) -> None:
    acting: set[str] = set()  # links being used right now: a second click waits for nothing

    def check(token: str) -> LinkClaims | Response:
        """The token's claims, or the page that refuses it."""
        secret = system.config.auth.link_secret
        if not secret:
            return page(404, "Links are off", "This pager does not sign action links.")
        try:
            claims = verify_link(secret, token, system.clock.now())
        except LinkRefused as e:
            return page(403, "Link refused", e.message)
        if system.state.link_used(claims.link_id) or claims.link_id in acting:
            log.info("link %s refused: used already", claims.link_id)
            return page(403, "Link used", "This link was used already: each link acts once.")
        if claims.user_id not in system.current_rules().users:
            log.warning("link %s refused: %s is not a pager user", claims.link_id, claims.user_id)
            return page(
                403, "Link refused", "This link is for someone who is no longer a pager user."
            )
        return claims

    def who(claims: LinkClaims) -> str:
        return system.current_rules().name_of(claims.user_id)

    def facts(inc: Any) -> list[str]:
        status = str(inc.status)  # Status is a StrEnum; a summary holds the str
        by = inc.resolved_by if status == "resolved" else inc.acknowledged_by
        name = system.current_rules().name_of(by) if by else ""
        return [label(inc), f"Status: {status}" + (f" (by {name})" if by else "")]

    def bundle_confirm(claims: LinkClaims) -> Response:
        bundle = system.state.bundles.by_id.get(claims.incident_id)
        if bundle is None:
            return page(404, "No such message", "pager no longer knows this message's incidents.")
        open_ = [
            inc
            for iid in bundle.incident_ids
            if (inc := system.state.incidents.get(iid)) is not None
            and inc.status is Status.TRIGGERED
        ]
        if not open_:
            return page(
                200,
                "Nothing left to do",
                "Every incident of this message is acknowledged or resolved.",
            )
        shown = [label(inc) for inc in open_[:10]]
        if len(open_) > 10:
            shown.append(f"and {len(open_) - 10} more")
        return page(
            200,
            f"Acknowledge all {len(open_)} incidents?",
            *shown,
            f"You are acting as {who(claims)}.",
            button=f"Acknowledge all {len(open_)}",
        )

    async def bundle_act(claims: LinkClaims) -> Response:
        bundle = system.state.bundles.by_id.get(claims.incident_id)
        if bundle is None:
            return page(404, "No such message", "pager no longer knows this message's incidents.")
        via = bundle.method if bundle.method in ("email", "teams") else "email"
        acting.add(claims.link_id)
        try:
            answer = await perform_all(
                system,
                user_id=claims.user_id,
                incident_ids=bundle.incident_ids,
                via=via,
                link=claims,
            )
        finally:
            acting.discard(claims.link_id)
        if answer.done:
            return page(200, "Done", answer.text)
        return page(409, "Nothing was done", answer.text)

    @app.get("/a/<token>")
    async def link_confirm(token: str) -> Response:
        found = check(token)
        if isinstance(found, Response):
            return found
        claims = found
        if claims.action == BUNDLE_ACTION:
            return bundle_confirm(claims)
        inc = system.state.incidents.get(claims.incident_id) or system.state.archive.get(
            claims.incident_id
        )
        if inc is None:
            return page(404, "No such incident", f"pager knows no incident {claims.incident_id}.")
        verb = _VERB[claims.action]
        status = str(inc.status)
        if status == Status.RESOLVED.value:
            return page(200, "Already resolved", *facts(inc), "There is nothing left to do.")
        return page(
            200,
            f"{verb} incident #{inc.number}?",
            *facts(inc),
            f"You are acting as {who(claims)}.",
            button=f"{verb} #{inc.number}",
        )

    @app.post("/a/<token>")
    async def link_act(token: str) -> Response:
        found = check(token)
        if isinstance(found, Response):
            return found
        claims = found
        if claims.action == BUNDLE_ACTION:
            return await bundle_act(claims)
        n = system.state.notifications.by_id.get(claims.notification_id)
        via = n.method if n is not None and n.method in ("email", "teams") else "email"
        acting.add(claims.link_id)
        try:
            answer = await perform(
                system,
                user_id=claims.user_id,
                incident_id=claims.incident_id,
                action=claims.action,
                via=via,
                link=claims,
            )
        finally:
            acting.discard(claims.link_id)
        if answer.done:
            return page(200, "Done", answer.text)
        return page(409, "Nothing was done", answer.text)
