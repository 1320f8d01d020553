"""`scripts/soak` in short: three SIGKILLs of `pager serve` at random moments under
concurrent ingest, acknowledgements and deliveries to stand-ins, after which every 2xx'ed
alert is there once, every acknowledgement held, no page was lost and none was sent twice
without a kill between, and `pager replay --verify` is clean (the script checks all of it
and exits 1 otherwise). The long run (`scripts/soak --kills 100`) is not a test."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_holds_every_check(tmp_path: Path) -> None:
    out = subprocess.run(
        [str(ROOT / "scripts" / "soak"), "--kills", "3", "--quick", "--seed", "12",
         "--scratch", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "soak: 3 SIGKILLs of `pager serve` under load" in out.stdout
    for row in (
        "alerts answered 2xx that are there, once",
        "acknowledgements answered 2xx that held",
        "pages lost",
        "messages sent twice without a SIGKILL between",
        "pager replay --verify",
    ):
        line = next(ln for ln in out.stdout.splitlines() if ln.startswith(row))
        assert re.search(r"\syes(\s|$)", line), line
