"""The OpenAPI document against the app: every route the Quart app registers is described,
every described operation is served by the route it names, and the document is served at
/api/v1/openapi.json to API tokens only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trio
from quart_trio import QuartTrio
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter

from pager.errors import InvalidEvent
from pager.ingest.pagerduty import parse_alert_event
from pager.ingest.pagerduty_v1 import parse_v1_event
from pager.ingest.validate import parse_json_body
from pager.web.app import create_app
from pager.web.ingest import INGEST_PREFIXES
from pager.web.openapi import document

from ..harness import auth, make_config, running_pager

SKIP = {"HEAD", "OPTIONS"}


def _app(tmp_path: Path) -> QuartTrio:
    """The app's routes do not depend on the system it serves; any will do for url_map."""

    class Bare:
        ingest_limiter = None
        ingest_handlers: list[object] = []
        config = make_config(tmp_path)

    return create_app(Bare())  # type: ignore[arg-type]


def _endpoint(adapter: MapAdapter, path: str, method: str, websocket: bool) -> str:
    concrete = re.sub(r"\{\w+\}", "x1", path)
    endpoint, _ = adapter.match(concrete, method, websocket=websocket)
    return str(endpoint)


def test_every_route_is_described_and_every_description_is_served(tmp_path: Path) -> None:
    app = _app(tmp_path)
    adapter = app.url_map.bind("pager.test")
    described: dict[str, set[str]] = {}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            try:
                endpoint = _endpoint(adapter, path, method.upper(), bool(op.get("x-websocket")))
            except (NotFound, MethodNotAllowed) as e:
                raise AssertionError(f"{method.upper()} {path} is described, not served") from e
            described.setdefault(endpoint, set()).add(method.upper())
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods or ()) - SKIP
        assert rule.endpoint in described, f"{rule.rule} {sorted(methods)} is not described"
        if str(rule.endpoint).startswith("ingest:"):
            # the ingest catch-alls answer 405 to the methods they do not take
            assert described[rule.endpoint] <= methods, rule.rule
        else:
            assert methods <= described[rule.endpoint], (rule.rule, methods)
    # the lean listener serves the same ingest paths: each is described
    paths = document()["paths"]
    for prefix in INGEST_PREFIXES:
        assert any(p == prefix or p.startswith(prefix.rstrip("/") + "/") for p in paths), prefix


def test_request_bodies_come_from_the_models() -> None:
    doc = document()
    generic = doc["paths"]["/integrations/generic/{key}"]["post"]["requestBody"]
    ref = generic["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["required"] == ["title"]
    assert schema["properties"]["title"]["pattern"].endswith("{0,1024}(?!\\n)$")
    snooze = doc["components"]["schemas"]["IncidentSnooze"]
    assert "for" in snooze["properties"] and snooze["required"] == ["for"]


@pytest.mark.parametrize(
    ("description", "line"),
    [
        ("a" * 1024, False), ("a" * 1025, False),
        ("\u009b" * 1025, False),  # schemathesis's case: controls, which ingest drops
        ("x" + "\x01" * 2000, False), ("\r\n" * 1024, False), ("\r\n" * 1024 + "a", False),
        ("\r" * 1025, False), (" \x01 ", False), ("\x17", False),
        ("s" * 1023 + "\n\x01\r\n\t", True), ("s" * 1024 + "\n", True), ("\t\n", True),
    ],
)  # fmt: skip
def test_the_schema_of_a_text_takes_what_ingest_takes(description: str, line: bool) -> None:
    """A text's limit counts the characters pager keeps (ingest drops control characters
    first): the document's pattern and the parser agree on each of these, at the limit."""
    doc = document()["components"]["schemas"]
    if line:
        prop = doc["PagerDutyPayload"]["properties"]["summary"]
        body = {"routing_key": "k", "event_action": "trigger",
                "payload": {"summary": description, "source": "s", "severity": "info"}}  # fmt: skip
        parse: Any = parse_alert_event
    else:
        prop = doc["PagerDutyV1Trigger"]["properties"]["description"]
        body = {"service_key": "k", "event_type": "trigger", "description": description}
        parse = parse_v1_event
    in_schema = re.search(prop["pattern"], description) is not None
    try:
        parse(parse_json_body(orjson.dumps(body), "application/json"))
        taken = True
    except InvalidEvent:
        taken = False
    assert in_schema == taken, (in_schema, taken)


async def test_the_document_is_served_to_api_tokens(tmp_path: Path) -> None:
    with trio.fail_after(20):
        async with running_pager(make_config(tmp_path / "data")) as run:
            client = httpx.AsyncClient(base_url=run.urls[0])
            async with client:
                r = await client.get("/api/v1/openapi.json")
                assert r.status_code == 401
                r = await client.get(
                    "/api/v1/openapi.json", headers={"Authorization": "Bearer nope"}
                )
                assert r.status_code == 403
                r = await client.get("/api/v1/openapi.json", headers=auth())
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            assert r.json() == document()
            assert r.json()["openapi"] == "3.1.0"


async def test_an_ingest_path_with_a_newline_is_answered_alike_on_both_ports(
    tmp_path: Path,
) -> None:
    """Found by schemathesis: werkzeug's `path` converter stopped at a newline, so the main
    port answered a bare 404 where the lean listener answered Opsgenie's."""
    genie = {"Authorization": "GenieKey og-checkout"}
    with trio.fail_after(20):
        async with running_pager(make_config(tmp_path / "data")) as run:
            answers = []
            for url in (run.urls[0], run.ingest_url):
                assert url is not None
                async with httpx.AsyncClient(base_url=url) as client:
                    r = await client.post(
                        "/v2/alerts/a%0Ab/notes", json={"note": "n"}, headers=genie
                    )
                answers.append((r.status_code, sorted(r.json())))
    assert answers[0] == answers[1] == (404, ["message", "requestId", "took"])


async def test_an_integral_float_is_an_integer(tmp_path: Path) -> None:
    """Found by schemathesis: JSON Schema's integer includes 2.0, which pager refused."""
    with trio.fail_after(20):
        async with running_pager(make_config(tmp_path / "data")) as run:
            client = httpx.AsyncClient(base_url=run.urls[0], headers=auth())
            async with client:
                r = await client.post("/integrations/generic/gen-checkout", json={"title": "t"})
                assert r.status_code == 202
                iid = run.system.state.newest_first()[0].id
                r = await client.post(f"/api/v1/incidents/{iid}/escalate", json={"level": 2.0})
                assert r.status_code == 200, r.text
                assert r.json()["escalation"]["level"] == 2


@pytest.mark.parametrize(
    "raw",
    ["open", "Open", "open, resolved", "ALL", "", " ,triggered,", "acknowledged\t",
     "closed", "open,closed", "opened", "open;resolved"],
)  # fmt: skip
def test_the_status_filter_of_the_document_takes_what_the_api_takes(raw: str) -> None:
    from pager.core.model import statuses_for

    params = document()["paths"]["/api/v1/incidents"]["get"]["parameters"]
    pattern = next(p for p in params if p["name"] == "status")["schema"]["pattern"]
    try:
        statuses_for(raw)
        taken = True
    except ValueError:
        taken = False
    assert bool(re.search(pattern, raw)) == taken
