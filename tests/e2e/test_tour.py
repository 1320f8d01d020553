"""The README's five-minute tour, run as written: its commands are read from README.md (the
code blocks between the `<!-- tour:... -->` markers), run by bash in order against a fresh
demo with curl failing on any HTTP error, then run a second time against the same data
folder; and the tour leaves nothing in the folder it runs in but the data folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from .service import PagerProcess

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = """set -eu  # not pipefail: `| head` ends the writer early, by design
curl() { command curl --fail-with-body --max-time 20 "$@"; echo; }
"""


def tour_blocks(readme: str) -> dict[str, str]:
    """The tour's shell code by section: `running` (pager up) and `stopped` (after Ctrl-C)."""
    out: dict[str, str] = {}
    parts = re.split(r"<!-- tour:(\w+) -->", readme)
    for name, text in zip(parts[1::2], parts[2::2], strict=True):
        if name == "end":
            continue
        blocks = re.findall(r"(?:^(?: {4}.*)?\n)+", text, flags=re.M)
        code = [textwrap.dedent(b) for b in blocks if b.strip()]
        out[name] = "\n".join(code)
    return out


def test_the_tour_is_in_the_readme() -> None:
    blocks = tour_blocks((ROOT / "README.md").read_text())
    assert set(blocks) == {"running", "stopped"}
    assert "/acknowledge -d '{}'" in blocks["running"]  # curl's default Content-Type
    assert "pager stream" in blocks["running"] and "config/reload" in blocks["running"]
    assert "pager show $ID" in blocks["running"]  # the REST client
    assert "replay --verify" in blocks["stopped"]


def bash(script: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    script = script.replace("http://127.0.0.1:8080", url)
    env = {**os.environ, "PAGER_URL": url}
    return subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not Path(sys.prefix, "bin", "pager").exists(), reason="needs the venv")
async def test_the_readme_tour_runs_as_written_twice(tmp_path: Path) -> None:
    blocks = tour_blocks((ROOT / "README.md").read_text())
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the tour's .venv/bin/pager and python
    with trio.fail_after(240):
        for run in (1, 2):
            pager = PagerProcess(
                None, tmp_path / "pager.log", extra=("--listen", "127.0.0.1:0"), cwd=tmp_path
            )
            await pager.start()
            try:
                done = await trio.to_thread.run_sync(bash, blocks["running"], tmp_path, pager.url)
            finally:
                code = await pager.stop(signal.SIGINT)
            assert done.returncode == 0, f"run {run}: {done.stdout}\n{done.stderr}"
            assert code == 0
            assert '"status":"reloaded"' in done.stdout
            assert "incident.opened" in done.stdout  # the stream printed events
            assert '"status":"resolved"' in done.stdout
            assert "SEVERITY  SERVICE" in done.stdout  # the client's incidents table
            assert " noted: Disk full on db-1" in done.stdout  # the client's note

            done = await trio.to_thread.run_sync(bash, blocks["stopped"], tmp_path, pager.url)
            assert done.returncode == 0, f"run {run}: {done.stdout}\n{done.stderr}"
            assert "clean" in done.stdout and "incident.resolved" in done.stdout
            assert "Broken pipe" not in done.stderr
            assert sorted(p.name for p in tmp_path.iterdir()) == [
                ".venv",
                "pager-data",
                "pager.log",
            ]
