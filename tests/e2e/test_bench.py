"""`scripts/bench` stays runnable: its journal section in --quick mode prints its table and
exits 0. (The figures themselves are measured by running it, never asserted in tests.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_journal_quick_runs_and_prints_its_table(tmp_path: Path) -> None:
    out = subprocess.run(
        [str(ROOT / "scripts" / "bench"), "journal", "--quick", "--scratch", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "journal: JsonlLog durable appends, replay, start-up" in out.stdout
    assert "durable appends/s, 100 appenders" in out.stdout
    assert "start-up to ready: run_pager" in out.stdout
    assert "replay fold alone: decode+evolve into state" in out.stdout
    assert "issue 10 quoted 38,000/s" in out.stdout
    assert "was 80,000/s before issue 10 item 6" in out.stdout and "by CPU time" in out.stdout
