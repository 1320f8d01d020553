"""Opsgenie's Alert API v2 and PagerDuty's Events API v1 on the wire, on the main port and on
the lean listener alike: every answer checked field by field, a restart in between, and bad
input answered with Opsgenie's 401/422 and nothing journaled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import trio

from .test_ingest_wire import DEADLINE, LISTENERS, Pager, pager

OG = {"content-type": "application/json", "authorization": "GenieKey og-checkout"}
UUID = re.compile(r"^[0-9a-f-]{36}$")
V1 = "/generic/2010-04-15/create_event.json"


async def og(p: Pager, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    r = await p.client.request(method, p.base + path, json=body, headers=kw.get("headers", OG))
    return r


def answer_shape(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert isinstance(body["took"], float) and body["took"] >= 0
    assert isinstance(body["requestId"], str) and body["requestId"]
    return body


@pytest.mark.parametrize("listener", LISTENERS)
async def test_zabbix_flow_create_poll_acknowledge_close_by_alias(
    tmp_path: Path, listener: str
) -> None:
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            create = {
                "message": "Zabbix: CPU high on web-1",
                "alias": "zbx-42",
                "description": "CPU > 90% for 5m",
                "priority": "P4",
                "tags": ["env:prod", "zabbix"],
                "details": {"url": "http://grafana.test/d/1"},
                "entity": "web-1",
                "source": "Zabbix",
            }
            r = await og(p, "POST", "/v2/alerts", create)
            body = answer_shape(r, 202)
            assert set(body) == {"result", "took", "requestId"}
            assert body["result"] == "Request will be processed"
            request_id = body["requestId"]

            r = await og(p, "GET", f"/v2/alerts/requests/{request_id}")
            got = answer_shape(r, 200)
            data = got["data"]
            assert data["success"] is True and data["isSuccess"] is True
            assert data["action"] == "Create" and data["status"] == "Created alert"
            assert data["alertId"] == "inc-1" and data["alias"] == "zbx-42"
            assert data["integrationId"] == "opsgenie-checkout"
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", data["processedAt"])

            # the same alias while open: count up, no new incident
            seq = p.last_seq
            answer_shape(await og(p, "POST", "/v2/alerts", create), 202)
            r = await og(p, "GET", "/v2/alerts/zbx-42?identifierType=alias")
            alert = answer_shape(r, 200)["data"]
            assert alert["id"] == "inc-1" and alert["tinyId"] == "1"
            assert alert["alias"] == "zbx-42" and alert["message"] == create["message"]
            assert alert["status"] == "open" and alert["acknowledged"] is False
            assert alert["count"] == 2 and alert["priority"] == "P4"
            assert alert["tags"] == ["env:prod", "zabbix"]
            assert alert["details"] == {"url": "http://grafana.test/d/1"}
            assert alert["entity"] == "web-1" and alert["source"] == "Zabbix"
            assert alert["description"] == "CPU > 90% for 5m"
            assert "incident.opened" not in p.journaled_since(seq)
            inc = await p.incident("inc-1")
            assert inc["urgency"] == "low"  # P4 -> warning -> low by default
            assert len(await p.incidents()) == 1

            r = await og(
                p,
                "POST",
                "/v2/alerts/zbx-42/acknowledge?identifierType=alias",
                {"user": "alice", "note": "on it"},
            )
            ack_id = answer_shape(r, 202)["requestId"]
            assert (await p.incident("inc-1"))["status"] == "acknowledged"
            r = await og(p, "GET", "/v2/alerts/1?identifierType=tiny")
            assert answer_shape(r, 200)["data"]["acknowledged"] is True
            r = await og(p, "GET", f"/v2/alerts/requests/{ack_id}")
            assert answer_shape(r, 200)["data"]["action"] == "Acknowledge"

            # Alertmanager's update_alerts: PUT message and description
            r = await og(
                p,
                "PUT",
                "/v2/alerts/zbx-42/message?identifierType=alias",
                {"message": "CPU very high"},
            )
            upd = answer_shape(r, 202)["requestId"]
            r = await og(p, "PUT", "/v2/alerts/inc-1/description", {"description": "now 99%"})
            answer_shape(r, 202)
            r = await og(p, "GET", "/v2/alerts/zbx-42?identifierType=alias")
            alert = answer_shape(r, 200)["data"]
            assert alert["message"] == "CPU very high" and alert["description"] == "now 99%"
            assert (await p.incident("inc-1"))["title"] == "CPU very high"
            r = await og(p, "GET", f"/v2/alerts/requests/{upd}")
            assert answer_shape(r, 200)["data"]["status"] == "Updated alert message"
            r = await og(p, "PUT", "/v2/alerts/inc-1/message", {"message": ""})
            assert answer_shape(r, 422)["errors"] == {"message": "must not be empty"}

            r = await og(p, "POST", "/v2/alerts/zbx-42/close?identifierType=alias", {"user": "a"})
            close_id = answer_shape(r, 202)["requestId"]
            assert (await p.incident("inc-1"))["status"] == "resolved"
            r = await og(p, "GET", "/v2/alerts/inc-1")
            assert answer_shape(r, 200)["data"]["status"] == "closed"

        # after a restart the request ids still answer; the closed alias opens a new alert
        async with pager(tmp_path, listener) as p:
            r = await og(p, "GET", f"/v2/alerts/requests/{close_id}")
            data = answer_shape(r, 200)["data"]
            assert data["action"] == "Close" and data["alertId"] == "inc-1"
            r = await og(p, "GET", f"/v2/alerts/requests/{request_id}")
            assert answer_shape(r, 200)["data"]["status"] == "Created alert"
            r = await og(p, "GET", "/v2/alerts/inc-1")
            alert = answer_shape(r, 200)["data"]
            assert alert["message"] == "CPU very high" and alert["description"] == "now 99%"
            assert alert["status"] == "closed" and alert["report"]["closedBy"] == "a"
            answer_shape(await og(p, "POST", "/v2/alerts", create), 202)
            assert [i["id"] for i in await p.incidents()] == ["inc-2", "inc-1"]


@pytest.mark.parametrize("listener", LISTENERS)
async def test_bad_opsgenie_requests_answer_like_opsgenie_and_journal_nothing(
    tmp_path: Path, listener: str
) -> None:
    cases: list[tuple[str, str, Any, dict[str, str], int, str]] = [
        (
            "POST",
            "/v2/alerts",
            {"message": "x"},
            {"content-type": "application/json"},
            401,
            "Could not authenticate",
        ),
        (
            "POST",
            "/v2/alerts",
            {"message": "x"},
            {**OG, "authorization": "GenieKey nope"},
            401,
            "Could not authenticate",
        ),
        ("POST", "/v2/alerts", {"alias": "a"}, OG, 422, "message"),
        ("POST", "/v2/alerts", {"message": "x" * 131}, OG, 422, "message"),
        ("POST", "/v2/alerts", {"message": "x", "priority": "P9"}, OG, 422, "priority"),
        ("POST", "/v2/alerts", {"message": "x", "tags": ["t"] * 21}, OG, 422, "tags"),
        ("POST", "/v2/alerts", {"message": "x", "details": {"n": 1}}, OG, 422, "details.n"),
        ("POST", "/v2/alerts/nope/close?identifierType=alias", {}, OG, 404, "does not exist"),
        ("POST", "/v2/alerts/x/close?identifierType=bogus", {}, OG, 422, "identifierType"),
        ("GET", "/v2/alerts/requests/garbage", None, OG, 404, "does not exist"),
        (
            "PUT",
            "/v2/alerts/nope/message?identifierType=alias",
            {"message": "m"},
            OG,
            404,
            "does not exist",
        ),
        ("DELETE", "/v2/alerts", None, OG, 405, "use POST"),
    ]
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            seq = p.last_seq
            for method, path, body, headers, status, says in cases:
                r = await og(p, method, path, body, headers=headers)
                got = answer_shape(r, status)
                assert says in r.text, (path, r.text)
                assert UUID.match(got["requestId"])
                assert r.headers["x-request-id"] == got["requestId"]
                if status == 422:
                    assert got["message"] == (
                        "Request body is not processable. Please check the errors."
                    )
                    assert isinstance(got["errors"], dict)
            assert p.journaled_since(seq) == []
            r = await og(
                p,
                "POST",
                "/v2/alerts?apiKey=og-checkout",
                {"message": "by query"},
                headers={"content-type": "application/json"},
            )
            answer_shape(r, 202)
            assert p.journaled_since(seq)[0] == "incident.opened"


@pytest.mark.parametrize("listener", LISTENERS)
async def test_pagerduty_v1_trigger_acknowledge_resolve(tmp_path: Path, listener: str) -> None:
    key = "R0UT1NGKEYCHECKOUT00000000000000"
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            r = await p.post(
                V1,
                {
                    "service_key": key,
                    "event_type": "trigger",
                    "description": "v1 down",
                    "client": "Nagios",
                    "client_url": "http://nagios.test",
                    "details": {"a": 1},
                },
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["status"] == "success" and body["message"] == "Event processed"
            ikey = body["incident_key"]
            assert len(ikey) == 32
            [inc] = await p.incidents()
            assert inc["title"] == "v1 down" and inc["integration"] == "pagerduty"
            r = await p.post(
                V1, {"service_key": key, "event_type": "acknowledge", "incident_key": ikey}
            )
            assert r.json()["incident_key"] == ikey
            assert (await p.incident("inc-1"))["status"] == "acknowledged"
            r = await p.post(
                V1, {"service_key": key, "event_type": "resolve", "incident_key": ikey}
            )
            assert (await p.incident("inc-1"))["status"] == "resolved"

            seq = p.last_seq
            for bad, field in (
                (
                    {"service_key": "nope", "event_type": "trigger", "description": "x"},
                    "service_key",
                ),
                ({"service_key": key, "event_type": "poke", "description": "x"}, "event_type"),
                ({"service_key": key, "event_type": "trigger"}, "description"),
                ({"service_key": key, "event_type": "resolve"}, "incident_key"),
            ):
                r = await p.post(V1, bad)
                assert r.status_code == 400, r.text
                assert r.json()["status"] == "invalid event"
                assert any(e.startswith(field) for e in r.json()["errors"]), r.text
            assert p.journaled_since(seq) == []


@pytest.mark.parametrize("listener", LISTENERS)
async def test_grafana_alerting_shape(tmp_path: Path, listener: str) -> None:
    """What Grafana's Opsgenie contact point sends: labels as `k:v` tags, the rule's link in
    `details.url`, an alias from the group key; resolved closes by alias with `source`."""
    sent = {
        "message": "[FIRING:1] HighErrorRate checkout",
        "alias": "b5a3e5c6d7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
        "description": "Error rate above 5%",
        "details": {"url": "http://grafana.test/alerting/grafana/abc/view"},
        "tags": ["alertname:HighErrorRate", "team:checkout", "grafana_folder:Prod"],
        "source": "Grafana",
        "priority": "P1",
    }
    with trio.fail_after(DEADLINE):
        async with pager(tmp_path, listener) as p:
            answer_shape(await og(p, "POST", "/v2/alerts", sent), 202)
            inc = await p.incident("inc-1")
            [alert] = inc["alerts"]
            assert alert["labels"] == {
                "alertname": "HighErrorRate",
                "team": "checkout",
                "grafana_folder": "Prod",
            }
            assert alert["links"] == [{"href": sent["details"]["url"], "text": "source"}]
            assert inc["urgency"] == "high" and inc["severity"] == "critical"
            r = await og(
                p,
                "POST",
                f"/v2/alerts/{sent['alias']}/close?identifierType=alias",
                {"source": "Grafana"},
            )
            answer_shape(r, 202)
            inc = await p.incident("inc-1")
            assert inc["status"] == "resolved" and inc["resolved_by"] == "Grafana"
