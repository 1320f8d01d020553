"""`kill -9` under a stream of ingest requests loses nothing that was acknowledged; a torn
last line is cut at start-up; a second pager on the same folder is refused; SIGTERM shuts
down cleanly. These run `pager serve` as a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import trio

from pager.store.segments import list_segments

from ..harness import auth, config_text
from .service import PagerProcess


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "pager.yaml"
    cfg.write_text(config_text(tmp_path / "data"))
    return cfg


def replay_verify(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pager", "replay", "--data-dir", str(data), "--verify"],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def all_incidents(client: httpx.AsyncClient, base: str) -> list[dict[str, object]]:
    r = await client.get(f"{base}/api/v1/incidents", params={"limit": 1000}, headers=auth())
    assert r.status_code == 200
    return r.json()["incidents"]  # type: ignore[no-any-return]


async def test_kill_9_under_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    pager = PagerProcess(write_config(tmp_path), tmp_path / "pager.log")
    acked: dict[int, list[str]] = {}
    target = 400
    with trio.fail_after(120):
        await pager.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                killed = trio.Event()

                async def worker(w: int) -> None:
                    i = 0
                    while not killed.is_set():
                        key = f"w{w}-{i}"
                        url = pager.ingest_url if w % 2 else pager.url
                        try:
                            r = await client.post(
                                f"{url}/integrations/generic/gen-checkout",
                                json={"title": f"alert {key}", "dedup_key": key},
                            )
                        except httpx.TransportError:
                            return  # the process died under this request: not acknowledged
                        if r.status_code == 202:
                            acked.setdefault(w, []).append(key)
                            if sum(map(len, acked.values())) >= target and not killed.is_set():
                                pager.kill9()
                                killed.set()
                        i += 1

                async with trio.open_nursery() as n:
                    for w in range(8):
                        n.start_soon(worker, w)
        finally:
            await pager.stop(signal.SIGKILL)

        assert sum(map(len, acked.values())) >= target
        await pager.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                incidents = await all_incidents(client, pager.url)
        finally:
            assert await pager.stop() == 0
    by_key: dict[str, list[int]] = {}
    for inc in incidents:
        by_key.setdefault(str(inc["dedup_key"]), []).append(int(inc["number"]))  # type: ignore[call-overload]
    for w, keys in acked.items():
        for k in keys:
            assert k in by_key, f"acknowledged {k} is missing after kill -9"
            assert len(by_key[k]) == 1, f"{k} is there twice"
        numbers = [by_key[k][0] for k in keys]
        assert numbers == sorted(numbers), f"worker {w}'s acknowledged events are out of order"
    out = replay_verify(tmp_path / "data")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "clean" in out.stdout


async def test_torn_last_line_is_cut_at_start_up_and_service_carries_on(tmp_path: Path) -> None:
    pager = PagerProcess(write_config(tmp_path), tmp_path / "pager.log")
    with trio.fail_after(60):
        await pager.start()
        async with httpx.AsyncClient(timeout=10) as client:
            for i in range(3):
                r = await client.post(
                    f"{pager.url}/integrations/generic/gen-checkout",
                    json={"title": f"t{i}", "dedup_key": f"k{i}"},
                )
                assert r.status_code == 202
        assert await pager.stop() == 0
        seg = list_segments(tmp_path / "data" / "events")[-1].path
        with open(seg, "ab") as f:
            f.write(b'{"v":1,"seq":99,"ts":"2026-11-27T03:00:00Z","type":"alert.trig')
        await pager.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                assert len(await all_incidents(client, pager.url)) == 3
                r = await client.post(
                    f"{pager.url}/integrations/generic/gen-checkout",
                    json={"title": "t3", "dedup_key": "k3"},
                )
                assert r.status_code == 202
                assert len(await all_incidents(client, pager.url)) == 4
        finally:
            assert await pager.stop() == 0
    log = (tmp_path / "pager.log").read_text()
    assert "cut a torn last line" in log
    out = replay_verify(tmp_path / "data")
    assert out.returncode == 0 and "clean" in out.stdout, out.stdout


async def test_second_pager_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    pager = PagerProcess(cfg, tmp_path / "pager.log")
    with trio.fail_after(60):
        await pager.start()
        try:
            out = await trio.run_process(
                [sys.executable, "-m", "pager", "serve", "--config", str(cfg)],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            assert out.returncode == 1
            err = out.stderr.decode()
            assert "in use by pid" in err and "Traceback" not in err
        finally:
            assert await pager.stop(signal.SIGINT) == 0
