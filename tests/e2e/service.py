"""Running `pager serve` as a real process, for tests that kill it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import trio

__all__ = ["PagerProcess"]

_RUNNING = re.compile(rb"pager is running on (http://\S+)(?: \(ingest also on (http://\S+)\))?")


class PagerProcess:
    def __init__(
        self,
        config_path: Path | None,
        log_path: Path,
        *,
        extra: tuple[str, ...] = (),
        cwd: Path | None = None,
        preexec_fn: Callable[[], None] | None = None,
        program: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`config_path` None runs the demo; `extra` goes after `serve`; `program` replaces
        `python -m pager` (dist/pager), `env` the environment."""
        self.config_path = config_path
        self.extra = extra
        self.cwd = cwd
        self.log_path = log_path
        self.preexec_fn = preexec_fn  # runs in the child before pager (e.g. setrlimit)
        self.program = program or [sys.executable, "-m", "pager"]
        self.env = env
        self.proc: trio.Process | None = None
        self.url = ""
        self.ingest_url: str | None = None

    async def start(self) -> None:
        stderr = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            config = [] if self.config_path is None else ["--config", str(self.config_path)]
            self.proc = await trio.lowlevel.open_process(
                [*self.program, "serve", *config, *self.extra],
                stdout=subprocess.PIPE,
                cwd=self.cwd,
                stderr=stderr,
                env={**(os.environ if self.env is None else self.env), "PYTHONUNBUFFERED": "1"},
                preexec_fn=self.preexec_fn,
            )
        finally:
            stderr.close()
        assert self.proc.stdout is not None
        buf = b""
        with trio.fail_after(60):  # dist/pager unpacks itself first
            while True:
                chunk = await self.proc.stdout.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"pager exited before it ran: {self.log_path.read_text()}")
                buf += chunk
                m = _RUNNING.search(buf)
                if m:
                    self.url = m.group(1).decode()
                    self.ingest_url = m.group(2).decode() if m.group(2) else None
                    return

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        with trio.fail_after(30):
            code = await self.proc.wait()
        if self.proc.stdout is not None:
            await self.proc.stdout.aclose()
        return code
