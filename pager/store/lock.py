"""One process per data folder: a second `pager serve` on the same folder is refused, since
two writers would interleave sequence numbers and corrupt the log."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["DataDirLocked", "DirLock"]


class DataDirLocked(Exception):
    pass


class DirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "LOCK"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            finally:
                os.close(fd)
            raise DataDirLocked(
                f"data folder {self.path.parent} is in use by pid {holder}; "
                "stop that pager first, or give this one another data_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
