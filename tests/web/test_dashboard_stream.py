"""The stream for browsers: the websocket takes the dashboard's session cookie, but only
from pager's own Origin; an ended session or a foreign Origin is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from ..harness import pd_trigger, running_pager
from .dashboard_helpers import dashboard_config, sign_in, stream_handshake


async def test_stream_with_the_session_cookie_and_origin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(30):
        async with (
            running_pager(dashboard_config(tmp_path / "data")) as run,
            httpx.AsyncClient() as client,
        ):
            base = run.urls[0]
            ws = base.replace("http://", "ws://") + "/api/v1/stream?since=1"
            await sign_in(client, base, "bob")  # a viewer may watch
            cookie = f"pager_session={client.cookies['pager_session']}"
            good = [("Cookie", cookie), ("Origin", base)]
            async with open_websocket_url(ws, extra_headers=good) as sock:
                r = await client.post(f"{base}/v2/enqueue", json=pd_trigger("ws-1"))
                assert r.status_code == 202
                seen = [orjson.loads(await sock.get_message())]
                while seen[-1]["type"] != "incident.opened":
                    seen.append(orjson.loads(await sock.get_message()))
                assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
            # public_url's origin is pager's own too
            ok = [("Cookie", cookie), ("Origin", "http://pager.test")]
            async with open_websocket_url(ws, extra_headers=ok) as sock:
                assert orjson.loads(await sock.get_message())["seq"] == 1
            for headers, status in [
                ({"Cookie": cookie, "Origin": "http://evil.example"}, 403),
                ({"Cookie": cookie}, 403),  # no Origin: not a browser on our page
                ({"Cookie": "pager_session=made-up", "Origin": base}, 401),
                ({"Origin": base}, 401),  # neither a cookie nor a token
                ({"Cookie": cookie, "Origin": base}, 101),  # the same, accepted
            ]:
                assert await stream_handshake(base, headers) == status, headers
            # a made-up session from made-up Origins: 401, and none of them takes a place
            # among the refusals logged once per Origin (a bounded set: people signed in
            # behind a misconfigured proxy must still get their warning)
            caplog.clear()
            for i in range(3):
                made_up = {"Cookie": "pager_session=made-up", "Origin": f"http://x{i}.example"}
                assert await stream_handshake(base, made_up) == 401
            assert not [r for r in caplog.records if "refused" in r.getMessage()]
            # signed in, from a foreign Origin: logged, once
            foreign = {"Cookie": cookie, "Origin": "http://other.example"}
            for _ in range(2):
                assert await stream_handshake(base, foreign) == 403
            said = [r.getMessage() for r in caplog.records if "other.example" in r.getMessage()]
            assert len(said) == 1 and "refused: Origin 'http://other.example'" in said[0], said
