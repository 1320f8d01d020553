"""Pydantic's validation errors, rewritten as problems a person editing YAML understands.

Pydantic says `Extra inputs are not permitted` at `('levels', 1, 'escalate_aftr')` and
`Input should be 'critical', 'error', 'warning' or 'info'`; the person fixing the file wants
`levels[1]: unknown key 'escalate_aftr' (did you mean 'escalate_after'?)` and `must be one
of critical, error, warning, info`. To suggest the right key, this module walks the model
classes along the error's location to find which model (and so which field names) the key
was checked against. Errors raised by our own validators already carry their final message.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pager.config.problems import Problem, format_path

__all__ = ["did_you_mean", "field_keys", "problems_from_validation_error"]

Loc = tuple[str | int, ...]

_TYPE_MESSAGES = {
    "model_type": "must be a mapping (key: value)",
    "model_attributes_type": "must be a mapping (key: value)",
    "dict_type": "must be a mapping (key: value)",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "date_type": "must be a date like 2026-01-05",
    "date_parsing": "must be a date like 2026-01-05",
    "date_from_datetime_parsing": "must be a date like 2026-01-05",
    "date_from_datetime_inexact": "must be a date like 2026-01-05, without a time",
    "datetime_type": "must be a date and time with a UTC offset, like 2026-12-24T18:00:00-05:00",
    "datetime_parsing": (
        "must be a date and time with a UTC offset, like 2026-12-24T18:00:00-05:00"
    ),
    "datetime_from_date_parsing": (
        "must be a date and time with a UTC offset, like 2026-12-24T18:00:00-05:00"
    ),
    "timezone_aware": "must include a UTC offset, like 2026-12-24T18:00:00-05:00",
    "path_type": "must be a path",
    "string_too_short": "must not be empty",
}


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when `word` is close to one of `choices`, else ``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def problems_from_validation_error(
    exc: ValidationError, root: type[BaseModel], *, skip: Iterable[Loc] = ()
) -> list[Problem]:
    """One Problem per error of `exc`, raised validating `root`.

    Errors at or below a location in `skip` are dropped: those values were already
    reported (an unset environment variable), and a second message about them would only
    distract.
    """
    skipped = tuple(skip)
    problems = []
    for details in exc.errors(include_url=False):
        loc: Loc = tuple(details["loc"])
        if any(loc[: len(prefix)] == prefix for prefix in skipped):
            continue
        if _counts_dropped_items(details):
            continue
        problems.append(_problem(details, loc, root))
    return problems


def _counts_dropped_items(details: ErrorDetails) -> bool:
    """A list long enough as written is only "too short" because items in it failed, and
    those items have their own problems."""
    if details["type"] != "too_short":
        return False
    written, minimum = details["input"], (details.get("ctx") or {}).get("min_length", 0)
    return isinstance(written, list | tuple) and len(written) >= minimum


def _problem(details: ErrorDetails, loc: Loc, root: type[BaseModel]) -> Problem:
    kind = details["type"]
    value = details["input"]
    ctx = details.get("ctx") or {}
    if kind == "missing":
        return Problem(format_path(loc[:-1]), f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        keys = field_keys(model) if model is not None else ()
        return Problem(
            format_path(loc[:-1]), f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], keys)}"
        )
    path = format_path(loc)
    if kind in ("literal_error", "enum"):  # a Literal, or a StrEnum (pager.core.vocabulary)
        return Problem(path, _literal_message(root, loc, value, ctx))
    if kind == "too_short" and ctx.get("min_length") == 1:
        return Problem(path, "must not be empty")
    if kind == "too_short":
        return Problem(path, f"must list at least {ctx.get('min_length')} items")
    bounds = {"greater_than_equal": "at least", "greater_than": "greater than",
              "less_than_equal": "at most", "less_than": "less than"}  # fmt: skip
    if kind in bounds:
        limit = next(iter(ctx.values()), "")
        return Problem(path, f"must be {bounds[kind]} {limit}")
    if kind in _TYPE_MESSAGES:
        return Problem(path, _type_message(kind, value))
    # Our own validators raise PydanticCustomError with the final wording.
    return Problem(path, _lower_first(details["msg"]))


def _type_message(kind: str, value: Any) -> str:
    message = _TYPE_MESSAGES[kind]
    if value is None:
        return f"{message} (it has no value)"
    if kind != "string_type":
        return message
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{message}: put {value!r} in quotes"
    if isinstance(value, bool | dt.date):
        return f"{message}: put it in quotes"
    return message


def _literal_message(root: type[BaseModel], loc: Loc, value: Any, ctx: dict[str, Any]) -> str:
    choices = _literal_choices(root, loc)
    if not choices:
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
    message = f"must be one of {', '.join(choices)}"
    hint = did_you_mean(value, choices)
    if hint:
        return message + hint
    if isinstance(value, str | int | float):
        return f"{message}, not {value!r}"
    return message


def _lower_first(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


# --- walking the model classes along a location -------------------------------------------


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` down to the type that holds the structure."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def field_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts in YAML: each field's alias, or else its name."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _annotation_at(root: type[BaseModel], loc: Sequence[str | int]) -> Any:
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        if _is_model(annotation):
            fields = {field.alias or name: field for name, field in
                      annotation.model_fields.items()}  # fmt: skip
            field = fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
            continue
        origin, args = get_origin(annotation), get_args(annotation)
        if origin in (list, tuple, Sequence) and isinstance(part, int) and args:
            annotation = args[0]
        elif origin is dict and len(args) == 2:
            annotation = args[1]
        else:
            return None
    return _unwrap(annotation)


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    annotation = _annotation_at(root, loc)
    return annotation if _is_model(annotation) else None


def _literal_choices(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    annotation = _annotation_at(root, loc)
    if get_origin(annotation) is Literal:
        return [str(arg) for arg in get_args(annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    return []
