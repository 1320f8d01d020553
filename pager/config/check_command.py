"""`pager check-config FILE`: every problem of a configuration file and a summary. Apart from
pager.config.check (the checks), which pager.config.load runs: this command runs load."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pager.config.load import validate_config_text

__all__ = ["main"]


def main(path: str, env: Mapping[str, str] | None = None) -> int:
    """Print every problem of the configuration at `path` and a summary; 0 when it has
    no errors (warnings allowed), 1 otherwise. An unreadable file is one line on stderr."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"pager check-config: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"pager check-config: cannot read {path}: it is not UTF-8 text", file=sys.stderr)
        return 1
    _, problems = validate_config_text(text, source=path, env=os.environ if env is None else env)
    for problem in problems:
        print(problem)
    errors = sum(problem.is_error for problem in problems)
    warnings = len(problems) - errors
    print(_summary(path, errors, warnings))
    return 1 if errors else 0


def _summary(path: str, errors: int, warnings: int) -> str:
    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    if errors:
        text = f"{path}: not valid, {count(errors, 'error')}"
        return text + (f", {count(warnings, 'warning')}" if warnings else "")
    return f"{path}: valid" + (f" ({count(warnings, 'warning')})" if warnings else "")
