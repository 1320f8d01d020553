"""The disk under the scratch folder: how long a small durable write takes, once (a probe)
or all through a measurement (a watcher in a thread), since every durable figure is bounded
by it and a shared disk's stalls show up as latency spikes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["FsyncWatcher", "percentile", "probe_fdatasync"]

_LINE = b"x" * 299 + b"\n"


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def probe_fdatasync(folder: Path, n: int) -> tuple[float, float]:
    """p50, p99 of write(300 bytes) + fdatasync in `folder`: the floor of one durable batch."""
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, _LINE)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return percentile(times, 50), percentile(times, 99)


class FsyncWatcher:
    """`with FsyncWatcher(folder) as w: ...`: a thread that does a 300-byte write +
    fdatasync in `folder` every `interval` seconds; afterwards `w.summary()`."""

    def __init__(self, folder: Path, interval: float = 0.02) -> None:
        self.path = folder / "fsync-watch"
        self.interval = interval
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsync-watch", daemon=True)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while not self._stop.wait(self.interval):
                t = time.perf_counter()
                os.write(fd, _LINE)
                os.fdatasync(fd)
                self.times.append(time.perf_counter() - t)
        finally:
            os.close(fd)

    def __enter__(self) -> FsyncWatcher:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)

    def max(self) -> float:
        """The slowest fdatasync seen (seconds; 0 without samples)."""
        return max(self.times, default=0.0)

    def summary(self) -> str:
        t = sorted(self.times)
        if not t:
            return "disk fdatasync: no samples"
        slow = sum(x > 0.1 for x in t)
        return (
            f"disk fdatasync meanwhile p50 {t[len(t) // 2] * 1e3:.2f} ms, p99 "
            f"{percentile(t, 99) * 1e3:.1f} ms, max {t[-1] * 1e3:.0f} ms"
            + (f" ({slow} stalls > 100 ms)" if slow else "")
        )
