"""Reading a configuration file into a `Config`, reporting every problem in one go.

Loading runs four stages: YAML parsing, `${ENV}` substitution, model validation and the
semantic checks of `check.py`. Each stage reports all it finds and loading goes on as far as
it can, so one `ConfigError` lists every problem of the file. (The semantic checks need a
structurally valid document: they run once the models validate.)

The YAML dialect is PyYAML's safe loader with two changes that remove classic traps:
YAML 1.1's base-60 numbers are off, so `end: 17:00` is the string "17:00" and not the number
1020; and a key written twice in one mapping is a problem instead of the last one silently
winning. Top-level keys starting with `x-` are ignored, as in Compose files: a place to
define YAML anchors (`x-rules: &rules [...]`) that the real sections refer to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pager.config.check import check_config
from pager.config.environment import substitute_env
from pager.config.models import Config, Store
from pager.config.problems import ConfigError, Problem, format_path
from pager.config.validation_problems import (
    did_you_mean,
    field_keys,
    problems_from_validation_error,
)

__all__ = [
    "Storage",
    "load_config",
    "load_config_text",
    "load_config_warned",
    "load_storage",
    "validate_config_text",
]

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _ConfigLoader(yaml.SafeLoader):
    """yaml.SafeLoader without YAML 1.1 base-60 numbers (`17:00` stays a string)."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    _INT,
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+)$""",
        re.X,
    ),
    list("-+0123456789"),
)
_ConfigLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration file at `path`, with `${VAR}` taken from `env` (default: the
    process environment). Raises ConfigError listing every problem, a file that cannot be
    read included. Warnings do not stop loading; `load_config_warned` returns them too."""
    return load_config_warned(path, env)[0]


def load_config_warned(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> tuple[Config, list[Problem]]:
    """`load_config`, and the warnings its checks found (what `pager serve` and a reload
    log), without checking the whole configuration a second time."""
    source = str(path)
    config, problems = validate_config_text(_read(path), source=source, env=env)
    if config is None:
        raise ConfigError(problems, source)
    return config, [problem for problem in problems if not problem.is_error]


def load_storage(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Storage:
    """Only where the configuration file at `path` keeps its log (`data_dir`, `store`), for
    the tools that read nothing else (`pager backup`, `pager replay`): the secrets the rest
    of the file takes from the environment need not be set, as where a cron job or an
    operator's shell runs without pager's environment file. Raises ConfigError for an
    unreadable file, bad YAML, or a bad `data_dir` or `store` (their own `${VAR}` unset
    included)."""
    source = str(path)
    data, problems = _parse_yaml(_read(path), source)
    errors = [problem for problem in problems if problem.is_error]
    if data is None or errors:
        raise ConfigError(problems, source)
    # a key that is no setting (`data-dir:`, another program's file) is refused, as by the
    # whole configuration's load: else the log would quietly be looked for in the default
    known = field_keys(Config)
    unknown = [
        Problem("", f"unknown key {key!r}{did_you_mean(key, known)}")
        for key in data
        if key not in known
    ]
    if unknown:
        raise ConfigError(unknown, source)
    raw = {key: data[key] for key in ("data_dir", "store") if key in data}
    raw, env_problems, env_locs = substitute_env(raw, os.environ if env is None else env)
    try:
        storage = Storage.model_validate(raw)
    except ValidationError as exc:
        problems = problems_from_validation_error(exc, Storage, skip=env_locs)
        raise ConfigError([*env_problems, *problems], source) from None
    if env_problems:
        raise ConfigError(env_problems, source)
    return storage


class Storage(BaseModel):
    """`Config.data_dir` and `Config.store` alone, validated the same way."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    data_dir: Path = Config.model_fields["data_dir"].default
    store: Store = Store()


def _read(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            [Problem("", f"cannot read {str(path)!r}: {reason}")], str(path)
        ) from None
    except UnicodeDecodeError:
        problem = Problem("", f"cannot read {str(path)!r}: it is not UTF-8 text")
        raise ConfigError([problem], str(path)) from None


def load_config_text(
    text: str, source: str = "<string>", env: Mapping[str, str] | None = None
) -> Config:
    """Like `load_config`, from the text of a configuration; `source` names it in errors."""
    config, problems = validate_config_text(text, source=source, env=env)
    if config is None:
        raise ConfigError(problems, source)
    return config


def validate_config_text(
    text: str, *, source: str = "<string>", env: Mapping[str, str] | None = None
) -> tuple[Config | None, list[Problem]]:
    """Every problem of a configuration text, warnings included, and the Config when
    there is no error (None otherwise). This is what `check-config` prints."""
    environment = os.environ if env is None else env
    data, problems = _parse_yaml(text, source)
    if data is None:
        return None, problems
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}
    data, env_problems, env_locs = substitute_env(data, environment)
    problems += env_problems
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, Config, skip=env_locs)
        return None, problems
    # A string whose variable is unset still holds `${NAME}`: what the checks say of that
    # text (a weak secret holding the word 'token', a key reused) is not about the value.
    unset = {format_path(loc) for loc in env_locs}
    problems += [problem for problem in check_config(config) if problem.path not in unset]
    if any(problem.is_error for problem in problems):
        return None, problems
    return config, problems


def _parse_yaml(text: str, source: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        problems = _duplicate_keys(node, ()) if node is not None else []
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        return None, [Problem("", _yaml_message(exc))]
    except yaml.YAMLError as exc:
        return None, [Problem("", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    if data is None:
        empty = f"{source} is empty: expected a mapping with keys such as server, users, services"
        return None, [*problems, Problem("", empty)]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the value {data!r}"
        message = f"the top level must be a mapping (key: value), not {kind}"
        return None, [*problems, Problem("", message)]
    return data, problems


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = exc.problem or "cannot be parsed"
    context = f" ({exc.context})" if exc.context else ""
    return f"invalid YAML{where}: {what}{context}"


def _duplicate_keys(node: yaml.Node, loc: tuple[str | int, ...]) -> list[Problem]:
    """Keys written twice in one mapping, anywhere in the document."""
    problems: list[Problem] = []
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, loc: tuple[str | int, ...]) -> None:
        if id(node) in seen_nodes:  # an alias: already walked where its anchor is
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    walk(value_node, loc)
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in first_line:
                    where = (
                        f"twice on line {line}"
                        if first_line[key] == line
                        else f"lines {first_line[key]} and {line}"
                    )
                    message = f"duplicate key {key!r} ({where}): write each key once"
                    problems.append(Problem(format_path(loc), message))
                else:
                    first_line[key] = line
                walk(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*loc, index))

    walk(node, loc)
    return problems
