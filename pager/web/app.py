"""The web app: built by `create_app(system)` from explicit handles (no globals), served by
hypercorn's trio `serve` as a child of our supervisor's nursery (not quart-trio's
`app.nursery`, whose errors are swallowed and whose shutdown is not ours).

One port carries everything: ingest, REST, hooks, the websocket stream, operations. The
ingest paths are framework-free handlers (pager.web.ingest) also served by the lean listener.

With the PostgreSQL store the app outlives the actors (they run while this process holds
the lease): it reaches them through a function of now, gets `refuse_on_standby` for the
endpoints that change something (ingest, incident actions, heartbeats, overrides,
maintenance, Slack presses: 503 with Retry-After on a standby; what else writes is refused
by the log itself, `NotActive`), and `cluster_view` for /readyz and /metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

import trio
from quart import Response, has_request_context, request
from quart_trio import QuartTrio
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import PathConverter

from pager.actors.dispatcher import Dispatcher
from pager.actors.heartbeats import Heartbeats, heartbeat_specs
from pager.actors.leadership import ClusterView
from pager.actors.slack_responder import SlackPress
from pager.actors.supervisor import Actors, CurrentActors, current_actors
from pager.actors.system import System
from pager.core.ratelimit import Tally
from pager.errors import NotActive, PagerError, TooManyRequests, Unavailable

from . import (
    api_analytics,
    api_config,
    api_directory,
    api_heartbeats,
    api_incidents,
    api_maintenance,
    api_notifications,
    api_overrides,
    api_schedules,
    calendars,
    dashboard,
    hooks_slack,
    hooks_twilio,
    hooks_twilio_sms,
    links,
    openapi,
    ops,
    pages_analytics,
    pages_incidents,
    pages_people,
    pages_services,
    signin,
    stream,
)
from .dashboard import SigninThrottles
from .ingest import IngestEndpoints
from .raw import RawRequest, path_for_logs
from .responses import jsonify
from .sessions import Sessions

__all__ = ["MAX_BODY", "create_app"]

log = logging.getLogger("pager.web")

MAX_BODY = 4 * 1024 * 1024
STANDBY_LOG_EVERY = 10.0  # seconds between two log lines about a standby's refusals


def _always() -> None:
    return None


class PagerApp(QuartTrio):
    """quart-trio's app, whose report of a request that failed unexpectedly (a 500) names
    the path as `path_for_logs` writes it: Quart's own line has the whole path, with the
    token of an action link or a calendar feed, or an integration key, in it."""

    def log_exception(
        self,
        exception_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        if not has_request_context():
            super().log_exception(exception_info)
            return
        self.logger.error(
            "Exception on request %s %s",
            request.method,
            path_for_logs(request.path),
            exc_info=exception_info,
        )


class IngestPath(PathConverter):
    """The rest of an ingest path, whatever it holds: werkzeug's `path` stops at a newline
    (`.`), which made `/v2/alerts/a%0Ab` a bare 404 here and Opsgenie's 404 on the lean
    listener."""

    regex = "[^/][\\s\\S]*?"


def create_app(
    system: System,
    actors: Actors | CurrentActors | None = None,
    *,
    refuse_on_standby: Callable[[], None] = _always,
    cluster_view: Callable[[], ClusterView] | None = None,
    sessions: Sessions | None = None,
    throttle: SigninThrottles | None = None,
) -> QuartTrio:
    """The app over `system`; each endpoint group gets the narrow part of `actors` it uses
    (None: no actors run, as in a test of the routes alone; a function: the actors running
    now, with the PostgreSQL store). `refuse_on_standby` raises 503 on a pager that is not
    the active one, and `cluster_view` is its place among the pagers on one database.
    `sessions` keeps the dashboard's sign-ins (None: the file in `data_dir`) and `throttle`
    counts failed ones (None: in this process's memory)."""
    here = Path(__file__).parent
    app = PagerApp("pager", static_folder=str(here / "static"), static_url_path="/static")
    app.url_map.converters["ingest"] = IngestPath
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = True

    @app.before_request
    async def whole_request() -> None:
        """The request's body has arrived before anything answers (it is kept for the
        handler): answered from its headers alone (a 401 or 403), with the body still on
        its way, hypercorn dropped the connection without a `Connection: close`, and a
        keep-alive client's next request on it failed without an answer."""
        await request.get_data(cache=True, as_text=False, parse_form_data=False)

    ingest = IngestEndpoints(system, refuse_on_standby)
    system.ingest_handlers.append(ingest)

    async def serve_ingest(path: str = "") -> Response:
        req = RawRequest(
            method=request.method,
            path=request.path,
            body=await request.get_data(cache=False, as_text=False, parse_form_data=False),
            headers={k.lower(): v for k, v in request.headers.items()},
            query=request.query_string.decode("latin-1"),
            remote=request.remote_addr,
        )
        raw = await ingest(req)
        return Response(raw.body, raw.status, headers=Headers(list(raw.headers)))

    for rule in (
        "/v2/enqueue",
        "/v2/change/enqueue",
        "/integrations/<ingest:path>",
        "/generic/2010-04-15/create_event.json",
        "/v2/alerts",
        "/v2/alerts/<ingest:path>",
    ):
        app.add_url_rule(
            rule, f"ingest:{rule}", serve_ingest, methods=["POST", "GET", "PUT", "DELETE"]
        )

    now = current_actors(actors)

    def dispatcher() -> Dispatcher | None:
        running = now()
        return running.dispatcher if running is not None else None

    def heartbeats() -> Heartbeats | None:
        running = now()
        return running.heartbeats if running is not None else None

    def breakers() -> dict[str, datetime]:
        return api_notifications.open_breakers(dispatcher())

    def offer(press: SlackPress) -> bool:
        """Hand a press to the Slack responder: 503 on a standby, False while none runs."""
        refuse_on_standby()
        running = now()
        return running is not None and running.slack_responder.offer(press)

    api_incidents.register(app, system, breakers, refuse_on_standby)
    api_maintenance.register(app, system, refuse_on_standby)
    api_heartbeats.register(app, system, heartbeats, refuse_on_standby)
    api_overrides.register(app, system, refuse_on_standby)
    api_directory.register(app, system, lambda: heartbeat_specs(system))
    api_schedules.register(app, system)
    api_notifications.register(app, system, breakers)
    api_config.register(app, system)
    openapi.register(app, system)
    dash = dashboard.register(app, system, sessions, throttle)
    signin.register(app, system, dash)
    api_analytics.register(app, system, dash)
    pages_incidents.register(app, system, dash, breakers, refuse_on_standby)
    pages_people.register(app, system, dash)
    pages_services.register(app, system, dash, refuse_on_standby)
    pages_analytics.register(app, system, dash)
    stream.register(app, system, dash)
    ops.register(app, system, now, cluster_view)
    hooks_twilio.register(app, system, dispatcher)
    hooks_twilio_sms.register(app, system)
    hooks_slack.register(app, system, offer if actors is not None else None)
    links.register(app, system)
    calendars.register(app, system)
    standby_refusals = Tally(STANDBY_LOG_EVERY)

    @app.errorhandler(PagerError)
    async def pager_error(e: PagerError) -> Response:
        headers = {}
        if isinstance(e, TooManyRequests):
            headers["Retry-After"] = str(max(1, int(e.retry_after + 0.999)))
        elif isinstance(e, Unavailable):
            headers["Retry-After"] = "1"
        if isinstance(e, NotActive):  # a standby: every request in a takeover, so counted
            n = standby_refusals.add(trio.current_time())
            if n:
                log.warning(
                    "answered %d to %d request(s) since the last report (at most one line "
                    "per %g s): %s",
                    e.status_code,
                    n,
                    STANDBY_LOG_EVERY,
                    e.message,
                )
        elif e.status_code >= 500:
            log.warning(
                "%s %s answered %d: %s",
                request.method,
                path_for_logs(request.path),
                e.status_code,
                e.message,
            )
        if dashboard.is_page(request.path) and e.status_code < 500:
            page = dash.error_page(e.status_code, e.message)
            page.headers.update(headers)
            return page
        return jsonify(e.to_json(), e.status_code, headers)

    @app.errorhandler(HTTPException)
    async def http_error(e: HTTPException) -> Response:
        if isinstance(e, RequestEntityTooLarge):
            # a chunked body over the limit (a declared one is refused by the listener): the
            # rest of it is not read, so the connection ends, and the answer says so
            message = f"request body over {MAX_BODY} bytes"
            return jsonify({"status": "error", "message": message}, 413, {"Connection": "close"})
        return jsonify({"status": "error", "message": e.description or e.name}, e.code or 500)

    return app
