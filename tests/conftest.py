"""Fixtures shared across the test packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from .standins.smtp import self_signed


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made once), and its key: for the SMTP
    server's STARTTLS."""
    return self_signed(tmp_path_factory.mktemp("tls"))
