"""Transport tests: each transport against its stand-in over real HTTP on 127.0.0.1 (or a
real SMTP server), on the real clock, each under an absolute `trio.fail_after`. Timeouts
are short (a few hundred milliseconds) so the failure cases stay fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..standins.smtp import self_signed


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made once), and its key."""
    return self_signed(tmp_path_factory.mktemp("tls"))
