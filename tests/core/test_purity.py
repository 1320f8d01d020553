"""The core is pure: importing it pulls in neither trio nor any I/O library."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_trio_and_no_io_libraries() -> None:
    code = (
        "import importlib, pkgutil, sys, pager.core\n"
        "names = [m.name for m in pkgutil.walk_packages(pager.core.__path__, 'pager.core.')]\n"
        "assert len(names) > 20, names\n"
        "for name in names: importlib.import_module(name)\n"
        "bad = [m for m in ('trio', 'httpx', 'hypercorn', 'quart', 'quart_trio', 'h11',"
        " 'socket', 'pager.store', 'pager.actors', 'pager.web') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_core_source_reads_no_clock() -> None:
    from pathlib import Path

    import pager.core

    for path in Path(pager.core.__file__).parent.rglob("*.py"):
        src = path.read_text()
        for forbidden in ("datetime.now(", ".utcnow(", "time.time(", "time.monotonic("):
            assert forbidden not in src, f"{path.name} reads the clock: {forbidden}"
