"""`POST /api/v1/route-test` (the dry run) and `POST /api/v1/config/reload` over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from pager.config import load_config

from ..harness import auth, config_text, pd_trigger, running_pager


async def test_route_test_answers_service_policy_and_who_when(tmp_path: Path) -> None:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    with trio.fail_after(30):
        async with running_pager(load_config(cfg)) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            body = {"payload": pd_trigger("k1"), "at": "2026-03-02T03:00:00Z"}
            r = await client.post(f"{base}/api/v1/route-test", json=body, headers=auth())
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["service"] == {"id": "checkout", "name": "checkout"}
            assert out["policy"] == "default"
            notify = [
                (s["after"], s["user"], s["method"])
                for s in out["timeline"]
                if s["kind"] == "notify"
            ]
            # Monday 03:00 UTC is Sunday night in New York: bob's week (turn 7)
            assert notify[:3] == [("+0m00s", "bob", "console"), ("+5m00s", "carol", "console"),
                                  ("+15m00s", "bob", "console")]  # fmt: skip
            # routing by content on the shared Alertmanager key
            am = {
                "version": "4", "groupKey": "g", "status": "firing", "receiver": "r",
                "groupLabels": {"alertname": "Down"}, "commonLabels": {"team": "payments"},
                "commonAnnotations": {}, "alerts": [{"status": "firing", "labels": {"alertname": "Down", "team": "payments"},
                "annotations": {}, "startsAt": "2026-03-02T03:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f1"}],
            }  # fmt: skip
            r = await client.post(
                f"{base}/api/v1/route-test",
                json={"payload": am, "key": "shared-am"},
                headers=auth(),
            )
            assert r.json()["service"]["id"] == "payments"
            r = await client.post(
                f"{base}/api/v1/route-test", json={"payload": {"nope": 1}}, headers=auth()
            )
            assert r.status_code == 400
            # nothing was journaled by the dry runs
            assert run.system.state.incidents == {}


TWILIO = """  console: {}
  twilio: {account_sid: AC00000000000000000000000000000000, auth_token: t, from_number: "+15555550100"}
"""
NEW_SMS = '\ntemplates:\n  sms:\n    text: "NEW {{ incident.title }}"\n'


async def test_reload_swaps_valid_config_refuses_invalid_and_keeps_incidents(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "pager.yaml"
    text = TWILIO.join(config_text(tmp_path / "data").split("  console: {}\n"))
    cfg.write_text(text)
    with trio.fail_after(30):
        async with (
            running_pager(load_config(cfg), config_path=str(cfg)) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            r = await client.post(
                f"{base}/integrations/generic/gen-checkout", json={"title": "t", "dedup_key": "k"}
            )
            assert r.status_code == 202
            old = run.system.rules.digest
            # invalid: refused, nothing changes
            cfg.write_text(text.replace("escalation_policy: default", "escalation_policy: defualt"))
            r = await client.post(f"{base}/api/v1/config/reload", headers=auth())
            assert r.status_code == 400
            assert any("did you mean 'default'" in p for p in r.json()["problems"])
            assert run.system.rules.digest == old
            # valid: a new integration key works at once, the open incident is still there
            cfg.write_text(text.replace("key: gen-payments", "key: gen-payments-2"))
            r = await client.post(f"{base}/api/v1/config/reload", headers=auth())
            assert r.status_code == 200 and r.json()["status"] == "reloaded"
            # the test file's own warnings (its link secret says 'secret') come with it
            known = r.json()["warnings"]
            assert any(w.startswith("warning: auth.link_secret: weak secret") for w in known)
            # a reload answers (and logs) the new file's warnings, as check-config prints them
            weak = text.replace(
                "    - {name: ops, token:",
                "    - {name: cron, token: short1}\n    - {name: ops, token:",
            )
            assert weak != text
            cfg.write_text(weak.replace("key: gen-payments", "key: gen-payments-2"))
            r = await client.post(f"{base}/api/v1/config/reload", headers=auth())
            assert r.status_code == 200
            short = "warning: auth.api_tokens[0].token: weak secret: 6 characters"
            assert not any(w.startswith(short) for w in known)
            assert any(w.startswith(short) for w in r.json()["warnings"])
            cfg.write_text(text.replace("key: gen-payments", "key: gen-payments-2"))
            r = await client.post(f"{base}/api/v1/config/reload", headers=auth())
            assert r.status_code == 200 and r.json()["warnings"] == known
            assert run.system.rules.digest != old
            r = await client.post(
                f"{base}/integrations/generic/gen-payments-2", json={"title": "p"}
            )
            assert r.status_code == 202
            r = await client.post(f"{base}/integrations/generic/gen-payments", json={"title": "p"})
            assert r.status_code == 404
            r = await client.get(
                f"{base}/api/v1/incidents", params={"status": "open"}, headers=auth()
            )
            assert len(r.json()["incidents"]) == 2
            applied = [rec for rec in run.system.log.read_from(1) if rec.type == "config.applied"]
            assert [a.data["digest"] for a in applied][-1] == run.system.rules.digest
            # templates too: the SMS transport renders through the system's renderer, whose
            # templates the reload swapped
            renderer = run.system.renderer
            assert renderer.custom("sms", "text") is None
            cfg.write_text(text + NEW_SMS)
            r = await client.post(f"{base}/api/v1/config/reload", headers=auth())
            assert r.status_code == 200, r.text
            assert run.system.renderer is renderer
            assert renderer.custom("sms", "text") == "NEW {{ incident.title }}"
            assert run.actors.dispatcher is not None
            assert run.actors.dispatcher.actors["sms"].transport.renderer is renderer  # type: ignore[attr-defined]
