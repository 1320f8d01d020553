"""The configuration pager runs with in the benchmarks: tests/harness.py's, with the journal
durable (fsync on) and no per-key rate limit, as pager runs by default (the limit is opt-in)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # tests/harness.py is importable from the repository's root
    sys.path.insert(0, str(REPO))

from tests.harness import config_text as harness_config_text  # noqa: E402

__all__ = ["AM_KEY", "PD_KEY", "config_text", "free_port"]

PD_KEY = "R0UT1NGKEYCHECKOUT00000000000000"
AM_KEY = "am-checkout"


def config_text(data_dir: Path, *, port: int = 0, ingest_port: int = 0, fsync: bool = True) -> str:
    """tests/harness.py's configuration, on the given ports, without a per-key rate limit (the
    default: every alert that can be made durable is accepted)."""
    text = harness_config_text(data_dir, fsync=fsync)
    for old, new in (
        ("listen: 127.0.0.1:0\n", f"listen: 127.0.0.1:{port}\n"),
        ("ingest_listen: 127.0.0.1:0\n", f"ingest_listen: 127.0.0.1:{ingest_port}\n"),
        ("public_url: http://pager.test\n", f"public_url: http://127.0.0.1:{port}\n"),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
