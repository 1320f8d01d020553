"""deploy/: the systemd unit passes `systemd-analyze verify` (where systemd's tools are
installed) and keeps its sandbox and reload; the Dockerfile ships what scripts/build makes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "pager.service"


def settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_the_unit_is_sandboxed_reloads_and_writes_only_its_data_folder() -> None:
    s = settings(UNIT.read_text())
    assert s["ExecStart"] == ["/usr/local/bin/pager serve --config /etc/pager/pager.yaml"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["ProtectSystem"] == ["strict"] and s["ReadWritePaths"] == ["/var/lib/pager"]
    assert s["StateDirectory"] == ["pager"] and s["WorkingDirectory"] == ["/var/lib/pager"]
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "PrivateDevices"):
        assert s[key] == ["yes"], key
    assert s["CapabilityBoundingSet"] == [""] and s["UMask"] == ["0077"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at one that does
    unit = tmp_path / "pager.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/pager", "/bin/true"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_dockerfile_ships_dist_pager() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "FROM debian:12-slim" in text
    assert "COPY --chmod=0755 dist/pager /usr/local/bin/pager" in text
    assert "USER pager" in text and "VOLUME /var/lib/pager" in text
    assert (ROOT / ".dockerignore").read_text().split() == ["*", "!dist/pager"]
    assert "dist/pager" in (ROOT / "scripts" / "build").read_text()
