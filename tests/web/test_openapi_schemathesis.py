"""schemathesis against a running `pager serve` on loopback, over every operation of the OpenAPI
document: no 5xx, every answer (status, content type, body, headers) as the document says, and
nothing journaled by a request that was refused.

Bounded and repeatable: a few examples per operation, derandomized, no shrinking; the whole
module takes well under a minute. The REST API gets a valid token and Opsgenie a valid key,
so the generated requests reach the handlers, not only the authentication.
"""

from __future__ import annotations

import copy
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from pager.web.openapi import document

from ..harness import TOKEN
from .dashboard_helpers import PASSWORDS, csrf_of, dashboard_text

# What pager journals on its own, after an answer: deliveries and escalation of incidents an
# earlier (accepted) request opened, timers. A refused request journals none of the others.
LATER = ("notification.", "incident.escalated", "incident.user_paged", "incident.paging_deferred")
# Keys of the test configuration, as examples, so generated events reach a real service.
EXAMPLES = {
    "key": ["gen-checkout", "am-checkout"],
    "service_id": ["checkout"],
    "sid": ["primary"],
}
# Rules across fields that the document states in words, not in JSON Schema (an override's
# end after its start and within 366 days, a dry run's integration told by its payload,
# instants between the years 1970 and 9000, an analytics range):
# on these, a request the schema allows may be refused, and the check that it is accepted
# is left out; every other check runs.
CROSS_FIELD = {
    "POST /api/v1/schedules/{sid}/overrides",
    "POST /api/v1/route-test",
    "POST /api/v1/services/{service_id}/maintenance",
    "GET /api/v1/schedules/{sid}/shifts",
    "GET /api/v1/oncall",
    "GET /api/v1/incidents",
    # from before to and at most 400 days apart, tz an IANA zone, service a known one
    "GET /api/v1/analytics",
    "GET /api/v1/analytics/incidents.csv",
    "GET /api/v1/analytics/people.csv",
    "GET /analytics",
}
# Keys a body must name to be accepted: the served document cannot list them (credentials),
# the test's copy does, so that what it calls valid is valid for this configuration.
ONLY = {
    "by": ["alice", "bob"],
    "user": ["alice", "bob"],
    "service": ["checkout"],
    "routing_key": ["R0UT1NGKEYCHECKOUT00000000000000"],
    "service_key": ["R0UT1NGKEYCHECKOUT00000000000000"],
}
# Bodies where a key of ONLY is the sender's free text (an Opsgenie alert's `user` is
# whoever the sending tool says), not one of pager's names.
FREE_TEXT = ("Opsgenie",)
MAX_EXAMPLES = int(os.environ.get("PAGER_SCHEMATHESIS_EXAMPLES", "8"))


def _with_examples(doc: dict[str, Any]) -> dict[str, Any]:
    """The served document with the test configuration's names as examples."""
    doc = copy.deepcopy(doc)
    for item in doc["paths"].values():
        for op in item.values():
            for p in op.get("parameters", ()):
                if p["name"] in EXAMPLES:
                    p["schema"] = {**p["schema"], "examples": EXAMPLES[p["name"]]}
    for title, schema in doc["components"]["schemas"].items():
        for name, prop in schema.get("properties", {}).items():
            if name in ONLY and not title.startswith(FREE_TEXT):
                schema["properties"][name] = {"type": "string", "enum": ONLY[name]}
            elif name in EXAMPLES:
                prop["examples"] = EXAMPLES[name]
    return doc


CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "mode": "all",
            "database": "none",
            # the test adds the credentials (below); pager ignores query parameters it does
            # not know, as HTTP APIs do: neither is "invalid data" here
            "with-security-parameters": False,
            "allow-extra-parameters": False,
        },
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(_with_examples(document()), config=CONFIG)


class Pager:
    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.events = self.data / "events"
        path = root / "pager.yaml"
        # generated keys are wrong keys: without a budget for them, a deep run
        # (PAGER_SCHEMATHESIS_EXAMPLES in the hundreds) would meet the per-address throttle
        # of unknown keys, whose Alertmanager answer is a 503 by design
        text = dashboard_text(self.data)
        text = text.replace(
            "  listen: 127.0.0.1:0\n", "  listen: 127.0.0.1:0\n  unknown_key_misses: 0\n", 1
        )
        assert "unknown_key_misses: 0" in text
        path.write_text(text)
        with open(root / "stderr.log", "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pager", "serve", "--config", str(path)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.url = self._wait_running()
        self.session = self._sign_in("carol")  # an admin: every page and form is reachable

    def _sign_in(self, user: str) -> str:
        with httpx.Client(base_url=self.url) as client:
            r = client.get("/login")
            r = client.post(
                "/login", data={"user": user, "password": PASSWORDS[user], "csrf": csrf_of(r.text)}
            )
            assert r.status_code == 303, r.text
            return str(client.cookies["pager_session"])

    def _wait_running(self) -> str:
        assert self.proc.stdout is not None
        buf = b""
        deadline = time.monotonic() + 30
        while b"pager is running on " not in buf or not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, buf
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            chunk = os.read(self.proc.stdout.fileno(), 4096) if ready else b""
            assert chunk, f"pager exited: {buf!r}"
            buf += chunk
        line = buf.split(b"pager is running on ", 1)[1].split()[0]
        return line.decode().rstrip("/")

    def records(self) -> list[dict[str, Any]]:
        out = []
        for seg in sorted(self.events.glob("*.jsonl")):
            out += [orjson.loads(line) for line in seg.read_bytes().splitlines() if line]
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            assert self.proc.stdout is not None
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def pager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pager]:
    running = Pager(tmp_path_factory.mktemp("schemathesis"))
    try:
        yield running
    finally:
        running.stop()
    stderr = (running.data.parent / "stderr.log").read_text()
    assert "Traceback" not in stderr, stderr[-4000:]


def _credentials(case: Case, pager: Pager) -> dict[str, str]:
    security = {name for req in case.operation.definition.raw.get("security", []) for name in req}
    if "session" in security:
        return {"Cookie": f"pager_session={pager.session}"}
    if "bearer" in security:
        return {"Authorization": f"Bearer {TOKEN}"}
    if "genieKey" in security:
        return {"Authorization": "GenieKey og-checkout"}
    return {}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: Case, pager: Pager) -> None:
    headers = {**_credentials(case, pager), **(case.headers or {})}
    before = len(pager.records())
    response = case.call(base_url=pager.url, headers=headers, timeout=10)
    # a websocket: a plain GET is rightly refused (its own tests open real websockets)
    websocket = bool(case.operation.definition.raw.get("x-websocket"))
    # a dashboard form is refused (403) without the CSRF token of the page that carried it,
    # which no generated body has: every other check runs on them
    form = case.operation.definition.raw.get("tags") == ["dashboard"] and case.method == "POST"
    lenient = websocket or form or case.operation.label in CROSS_FIELD
    case.validate_response(
        response, excluded_checks=[positive_data_acceptance] if lenient else None
    )
    if response.status_code >= 400:
        new = pager.records()[before:]
        acted = [r["type"] for r in new if not r["type"].startswith(LATER)]
        assert not acted, f"a refused request ({response.status_code}) journaled {acted}"
