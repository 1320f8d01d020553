"""Copies of frozen slotted dataclasses made fast, for replay: it folds hundreds of thousands
of events a second, and a frozen dataclass sets each field of a new value through
`object.__setattr__` (its `__init__` and `dataclasses.replace` alike), which for a thirty-
field `Incident` was a third of the fold.

`maker(cls)` returns a function with the signature of `cls`'s `__init__` that makes the
same value; `copier(cls)` returns `copy(value, changes)`: `value` with `changes` (field name -> new
value), equal to `dataclasses.replace(value, **changes)`; `copier(cls, names)` returns
`copy(value, *values)`, `value` with the fields `names` set to `values` (one copier per set of
fields a fold changes: no dict of changes to build and walk). It is generated straight-line
code that fills in an instance of a twin class (`twin`: a subclass of `cls` that adds nothing
but lets its slots be set) and then makes it a `cls` (`__class__` assignment, which Python
allows between classes of the same layout): the result is an ordinary frozen instance of
`cls`. tests/core/test_fast_copy.py holds them to the dataclass's own `__init__` and
`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["copier", "maker", "twin"]

T = TypeVar("T")


def twin(cls: type) -> type:
    """The class a new `cls` is filled in as: a subclass of `cls` that adds nothing to its
    layout (no slot, no `__dict__`), whose slots may be set (`cls` is frozen) and which is
    made by calling it (without `cls`'s `__init__`). Python checks the `__class__` assignment
    from such a subclass at a glance; from a sibling class with the same slots, as the twin
    was, it compared the two classes' slot names one by one, for every value made: with the
    call of `object.__new__`, 3% of the instructions of an alert that opens an incident
    (about 28 values made, callgrind)."""
    fields = tuple(f.name for f in dataclasses.fields(cls))
    slots = tuple(getattr(cls, "__slots__", ()))
    assert slots == fields, f"{cls.__name__} must be a slotted dataclass"
    # (`__delattr__` too: Python sets a class's attribute stores from both, and the frozen
    # one of `cls` would make every store call it)
    namespace = {
        "__slots__": (),
        "__init__": object.__init__,
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
    }
    return type(f"_{cls.__name__}Filling", (cls,), namespace)


def copier(cls: type[T], names: Sequence[str] | None = None) -> Callable[..., T]:
    fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    scope: dict[str, Any] = {
        "_twin": twin(cls),
        "_cls": cls,
        "_set": setattr,
    }
    if names is None:
        # every field copied, then the changes set over them (each a slot store on the twin)
        lines = ["def copy(value, c):", "    out = _twin()"]
        lines += [f"    out.{name} = value.{name}" for name in fields]
        lines += ["    for name, v in c.items():", "        _set(out, name, v)"]
    else:
        unknown = set(names) - set(fields)
        assert not unknown and len(set(names)) == len(names), (cls.__name__, names)
        lines = [f"def copy(value, {', '.join(f'_{n}' for n in names)}):", "    out = _twin()"]
        lines += [
            f"    out.{name} = _{name}" if name in names else f"    out.{name} = value.{name}"
            for name in fields
        ]
    lines += ["    out.__class__ = _cls", "    return out"]
    exec("\n".join(lines), scope)  # noqa: S102 - code built above from the field names only
    copy: Callable[..., T] = scope["copy"]
    return copy


def maker(cls: type[T]) -> Callable[..., T]:
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    scope: dict[str, Any] = {"_twin": twin(cls), "_cls": cls}
    params, body = [], []
    keyword_only = False
    for f in fields:
        if f.kw_only and not keyword_only:
            params.append("*")
            keyword_only = True
        if f.default is not dataclasses.MISSING:
            scope[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"_f_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            body.append(f"    if {f.name} is _MISSING: {f.name} = _f_{f.name}()")
        else:
            params.append(f.name)
        body.append(f"    out.{f.name} = {f.name}")
    scope["_MISSING"] = dataclasses.MISSING
    lines = [f"def make({', '.join(params)}):", "    out = _twin()", *body]
    lines += ["    out.__class__ = _cls", "    return out"]
    exec("\n".join(lines), scope)  # noqa: S102 - code built above from the field names only
    make: Callable[..., T] = scope["make"]
    return make
