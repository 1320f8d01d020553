"""`${ENV_VAR}` in configuration strings, filled from the environment after YAML parsing.

Secrets stay out of the configuration file: it says `token: "${SLACK_BOT_TOKEN}"` and the
value comes from the environment at load time. Substitution runs on the parsed document,
string scalar by string scalar, never on the YAML text, so a secret containing `: `, `#`
or a newline is inserted as data and cannot change the document's structure. `$${X}` is
the escape for a literal `${X}`. Every unset variable is reported with its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pager.config.problems import Problem, format_path

__all__ = ["substitute_env"]

Loc = tuple[str | int, ...]

# `$${` (escape), `${NAME}` (reference) or a `${` that starts neither (malformed).
_TOKEN = re.compile(r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}|\$\{(?P<bad>[^}]{0,40}\}?)")


def substitute_env(data: Any, env: Mapping[str, str]) -> tuple[Any, list[Problem], list[Loc]]:
    """Return a copy of `data` with every `${NAME}` in its strings replaced by `env[NAME]`.

    Also returns the problems (unset variables, malformed references) and the locations
    of the strings they were found in. An unset reference is left as written (`${NAME}`),
    so that validation goes on and reports the rest of the document; the caller drops
    what validation says about those strings, which were already reported.
    """
    problems: list[Problem] = []
    bad_locs: list[Loc] = []

    def walk(value: Any, loc: Loc) -> Any:
        if isinstance(value, str):
            return substitute(value, loc)
        if isinstance(value, dict):
            return {key: walk(item, (*loc, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*loc, index)) for index, item in enumerate(value)]
        return value

    def substitute(text: str, loc: Loc) -> str:
        if "${" not in text:
            return text
        found_before = len(problems)

        def replace(match: re.Match[str]) -> str:
            name, bad = match["name"], match["bad"]
            if name is not None:
                if name in env:
                    return env[name]
                problems.append(
                    Problem(format_path(loc), f"environment variable {name!r} is not set")
                )
                return match[0]
            if bad is not None:
                problems.append(
                    Problem(
                        format_path(loc),
                        f"'${{{bad}' is not a ${{NAME}} reference: a name is letters, digits "
                        "and _ in braces (write $${ for a literal ${)",
                    )
                )
                return match[0]
            return "${"

        result = _TOKEN.sub(replace, text)
        if len(problems) > found_before:
            bad_locs.append(loc)
        return result

    return walk(data, ()), problems, bad_locs
