"""API overrides laid over the compiled rules: they win over layers and configured
overrides, the later over the earlier, skip what the configuration no longer has, and a
snapshot keeps them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from pager.config import load_config_text
from pager.config.compile import compile_rules
from pager.core.events import OverrideAdded, OverrideRemoved
from pager.core.overrides import ApiOverride, with_overrides
from pager.core.state import SystemState

from ..harness import config_text

T = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def rules():  # type: ignore[no-untyped-def]
    text = config_text("/tmp/unused", rate=10, fsync=False)
    return compile_rules(load_config_text(text, source="test"))


def test_later_override_wins_and_unknown_ones_are_skipped() -> None:
    book = rules()
    assert with_overrides(book, {}) is book
    layered = book.oncall("primary", T)
    extra = {
        "a": ApiOverride("a", "primary", "carol", T - H, T + H),
        "b": ApiOverride("b", "primary", "bob" if layered == "alice" else "alice", T, T + H),
        "c": ApiOverride("c", "gone", "carol", T - H, T + H),
        "d": ApiOverride("d", "primary", "dave", T - H, T + 2 * H),
    }
    out = with_overrides(book, extra)
    assert out.oncall("primary", T - H / 2) == "carol"
    assert out.oncall("primary", T) == extra["b"].user
    assert out.oncall("primary", T + 1.5 * H) == layered == book.oncall("primary", T + 1.5 * H)
    assert len(out.schedules["primary"].overrides) == 2
    assert book.oncall("primary", T - H / 2) == layered  # the compiled book is unchanged


def test_state_folds_overrides_and_a_snapshot_keeps_them() -> None:
    s = SystemState()
    add = OverrideAdded(override_id="ov-1", schedule_id="primary", user="carol", start=T, end=T + H)
    s.apply_event(add, 1, T)
    s.apply_event(
        OverrideAdded(override_id="ov-2", schedule_id="primary", user="bob", start=T, end=T + H),
        2,
        T,
    )
    s.apply_event(OverrideRemoved(override_id="ov-2", schedule_id="primary"), 3, T)
    assert list(s.overrides) == ["ov-1"]
    data = orjson.loads(orjson.dumps(s.to_snapshot(), option=orjson.OPT_UTC_Z))
    assert SystemState.from_snapshot(data).overrides == s.overrides
    del data["overrides"]  # a snapshot written before overrides
    assert SystemState.from_snapshot(data).overrides == {}
