"""What is wrong with a configuration, said so that a person can find it and fix it.

Every stage of loading (YAML, `${ENV}` substitution, model validation, semantic checks)
reports `Problem`s: a path into the document (`escalation_policies[0].levels[1].targets[0]`)
and a message. They are collected, never stopped at the first, and raised together as one
`ConfigError`, so fixing a file takes one round instead of one round per mistake.

    Exception
     └── ConfigError        (.problems: every Problem, errors and warnings)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Literal

__all__ = ["ConfigError", "Problem", "Severity", "format_path"]

Severity = Literal["error", "warning"]

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def format_path(loc: Sequence[str | int]) -> str:
    """`("escalation_policies", 0, "levels", 1)` -> `escalation_policies[0].levels[1]`.

    Integers are list indexes; keys that are not plain names are quoted (`["a b"]`).
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration.

    `path` is where (empty for the document as a whole), `message` what, and `severity`
    whether it stops pager from starting (`error`) or is only worth knowing (`warning`).
    """

    path: str
    message: str
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{where}{self.message}"


class ConfigError(Exception):
    """A configuration that cannot be used; `problems` lists everything found, warnings
    included, in the order they were found."""

    def __init__(self, problems: Iterable[Problem], source: str = "<config>") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        super().__init__(self._describe())

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.is_error)

    def _describe(self) -> str:
        errors = len(self.errors)
        warnings = len(self.problems) - errors
        summary = f"{self.source}: {errors} error{'' if errors == 1 else 's'}"
        if warnings:
            summary += f", {warnings} warning{'' if warnings == 1 else 's'}"
        return "\n".join([summary, *(f"  {problem}" for problem in self.problems)])
