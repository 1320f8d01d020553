"""Which API token acted: every action through the REST API journals the token's name
(`token_name`, never its secret) beside `by`, the incident's timeline shows it (and says it in
the text when the token is not the one named in `by`), and it survives a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from pager.config import Config
from pager.config.models import ApiToken
from pager.core.state import SystemState
from pager.store.snapshots import read_snapshot, write_snapshot

from ..harness import auth, make_config, running_pager

CI_SECRET = "ci-7f3a9c2e5b8d1046af"


def with_ci_token(data: Path) -> Config:
    config = make_config(data)
    tokens = (*config.auth.api_tokens, ApiToken(name="ci", token=CI_SECRET))
    return config.model_copy(update={"auth": config.auth.model_copy(update={"api_tokens": tokens})})


CI = {"Authorization": f"Bearer {CI_SECRET}"}


async def test_the_acting_token_is_journaled_and_shown_never_its_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = with_ci_token(data)
    with trio.fail_after(30):
        async with running_pager(config) as run, httpx.AsyncClient() as client:
            base = run.urls[0]
            r = await client.post(
                f"{base}/integrations/generic/gen-checkout", json={"title": "t", "dedup_key": "k"}
            )
            assert r.status_code == 202
            inc = f"{base}/api/v1/incidents/inc-1"
            r = await client.post(f"{inc}/acknowledge", json={"by": "alice"}, headers=CI)
            assert r.status_code == 200, r.text
            r = await client.post(f"{inc}/notes", json={"text": "looking"}, headers=auth())
            assert r.status_code == 200
            r = await client.post(f"{inc}/escalate", json={"level": 2, "by": "bob"}, headers=CI)
            assert r.status_code == 200
            # an open incident is kept in snapshots: the token goes through one too
            snap = write_snapshot(
                tmp_path, 1, run.system.clock.now(), run.system.state.to_snapshot()
            )
            restored = SystemState.from_snapshot(read_snapshot(snap).state)
            kept = restored.incidents["inc-1"].timeline
            assert [t.token_name for t in kept if t.via == "api"] == ["ci", "ops", "ci"]
            r = await client.post(f"{inc}/resolve", headers=CI)
            assert r.status_code == 200
            timeline = r.json()["timeline"]
            acted = [
                (e["kind"], e["by"], e.get("token_name")) for e in timeline if e["via"] == "api"
            ]
            assert acted == [
                ("incident.acknowledged", "alice", "ci"),
                ("incident.note_added", "ops", "ops"),
                ("incident.escalated", "bob", "ci"),
                ("incident.resolved", "ci", "ci"),
            ]
            texts = {e["kind"]: e["text"] for e in timeline}
            assert texts["incident.acknowledged"] == "Acknowledged by alice via api (API token ci)"
            assert texts["incident.note_added"] == "looking"
            assert texts["incident.resolved"] == "Resolved by ci via api"
            assert all("token_name" not in e for e in timeline if e["via"] != "api")

            r = await client.post(
                f"{base}/api/v1/services/checkout/maintenance",
                json={"for": "1h", "by": "carol"},
                headers=CI,
            )
            assert r.status_code == 201
            r = await client.delete(f"{base}/api/v1/maintenance/{r.json()['id']}", headers=auth())
            assert r.status_code == 200
            r = await client.post(
                f"{base}/api/v1/schedules/primary/overrides",
                json={
                    "user": "carol",
                    "start": "2026-12-24T18:00:00Z",
                    "end": "2026-12-25T18:00:00Z",
                },
                headers=CI,
            )
            assert r.status_code == 201, r.text
            records = {
                r.type: r.data
                for r in run.system.log.read_from(1)
                if r.type.startswith(("incident.", "maintenance.", "schedule."))
            }
            assert records["incident.acknowledged"]["token_name"] == "ci"
            assert records["incident.acknowledged"]["by"] == "alice"
            assert records["maintenance.started"]["token_name"] == "ci"
            assert records["maintenance.started"]["by"] == "carol"
            assert records["maintenance.ended"]["token_name"] == "ops"
            assert records["schedule.override_added"]["token_name"] == "ci"
            assert "token_name" not in records["incident.opened"]
        journal = b"".join(p.read_bytes() for p in sorted((data / "events").iterdir()))
        assert CI_SECRET.encode() not in journal
        assert b'"token_name":"ci"' in journal

        async with running_pager(config) as run, httpx.AsyncClient() as client:
            r = await client.get(f"{run.urls[0]}/api/v1/incidents/inc-1", headers=auth())
            after = [
                (e["kind"], e.get("token_name")) for e in r.json()["timeline"] if e["via"] == "api"
            ]
            assert after == [(k, t) for k, _, t in acted]
