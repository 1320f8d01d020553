"""What the figures were measured on: CPUs, CPU model, Python, and the disk under the
temporary folder (durable appends are only as fast as its fsync)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

__all__ = ["describe", "filesystem_of", "in_memory"]

_MEMORY_FS = frozenset({"tmpfs", "ramfs"})


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def filesystem_of(path: str) -> str:
    """'ext4 on /dev/vda' for the mount that holds `path` (best effort)."""
    best = ("", "?", "?")
    real = os.path.realpath(path)
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fstype = line.split()[:3]
            mnt = mnt.replace("\\040", " ")
            if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                best = (mnt, dev, fstype)
    except OSError:
        return "unknown filesystem"
    return f"{best[2]} on {best[1]}"


def in_memory(path: str) -> bool:
    """Whether `path` is on a memory filesystem, where fsync costs nothing."""
    return filesystem_of(path).split(" on ", 1)[0] in _MEMORY_FS


def describe(tmp_root: str) -> str:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    impl = platform.python_implementation()
    lines = [
        f"machine: nproc {nproc} | CPU {_cpu_model()} | {impl} {platform.python_version()} "
        f"({sys.executable}) | {platform.system()} {platform.release()}",
        f"scratch: {tmp_root} ({filesystem_of(tmp_root)}) | load average at start "
        f"{_loadavg()} (other work on the machine skews the figures)",
    ]
    return "\n".join(lines)
