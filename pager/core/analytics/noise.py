"""The noise part of a report: the noisiest services, alerts (by Alertmanager's alertname,
else the alert's summary) and dedup keys; flapping keys; incidents their source resolved
within minutes while nobody acted (candidates for tuning)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .columns import is_none
from .ledger import Ledger
from .query import Query
from .vocabulary import BY_SOURCE

__all__ = ["FLAP_WINDOW", "QUICK_WINDOW", "TOP", "noise_part"]

FLAP_WINDOW = 3600.0  # opened again within an hour of the previous one resolving: flapping
QUICK_WINDOW = 300.0  # resolved by its source this soon, nobody having acted: noise
TOP = 10  # rows of each "noisiest" list


def _top(counts: dict[Any, list[Any]], key: int = 0) -> list[tuple[Any, list[Any]]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1][key], str(kv[0])))[:TOP]


def noise_part(led: Ledger, q: Query, rows: Sequence[int]) -> dict[str, Any]:
    c = led.incidents.cols
    name = led.names.strings
    svc_c = c["service"]
    by_code: dict[int, list[int]] = {}  # counted by codes, named at the end
    keys_by_code: dict[tuple[int, int], list[int]] = {}
    flap_by_code: dict[tuple[int, int], list[int]] = {}
    quick_by_code: dict[tuple[int, int], list[int]] = {}
    for svc, dedup, alerts, reopen, how, resolved, acted, opened in led.incidents.pick(
        rows, "service", "dedup", "alerts", "reopen", "how", "resolved", "acted", "opened"
    ):
        key = (svc, dedup)
        s = by_code.get(svc)
        if s is None:
            s = by_code[svc] = [0, 0]
        s[0] += 1
        s[1] += alerts
        k = keys_by_code.get(key)
        if k is None:
            k = keys_by_code[key] = [0, 0]
        k[0] += 1
        k[1] += alerts
        if reopen <= FLAP_WINDOW:  # (False for NaN: nothing before it)
            flap_by_code.setdefault(key, [0])[0] += 1
        quick = resolved - opened <= QUICK_WINDOW and (is_none(acted) or acted >= resolved)
        if how == BY_SOURCE and quick:
            quick_by_code.setdefault(key, [0])[0] += 1

    def named(counts: dict[tuple[int, int], list[int]]) -> dict[tuple[str, str], list[int]]:
        return {(name[s], name[k]): v for (s, k), v in counts.items()}

    services = {name[s]: v for s, v in by_code.items()}
    keys, flapping, quick = named(keys_by_code), named(flap_by_code), named(quick_by_code)
    # alerts by name (Alertmanager's alertname, else the alert's summary), by when they fired
    lo, hi = q.start.timestamp(), q.end.timestamp()
    want = led.names.find(q.service) if q.service is not None else None
    f = led.fires.cols
    fired: dict[tuple[int, int], list[Any]] = {}
    span = led.span(f["at"], lo, hi)
    a, b = span.start, span.stop
    for at, inc, nm in zip(f["at"][a:b], f["inc"][a:b], f["name"][a:b], strict=True):
        if not lo <= at < hi:
            continue
        svc = svc_c[inc]
        if want is not None and svc != want:
            continue
        found = fired.get((svc, nm))
        if found is None:
            found = fired[(svc, nm)] = [0, set()]
        found[0] += 1
        found[1].add(inc)
    alerts = {(name[s], name[nm] if nm >= 0 else ""): v for (s, nm), v in fired.items()}
    return {
        "services": [
            {"service": sid, "incidents": n, "alerts": a} for sid, (n, a) in _top(services)
        ],
        "alerts": [
            {"service": sid, "name": nm, "alerts": n, "incidents": len(incs)}
            for (sid, nm), (n, incs) in _top(alerts)
        ],
        "dedup_keys": [
            {"service": sid, "dedup_key": k, "incidents": n, "alerts": a}
            for (sid, k), (n, a) in _top(keys)
        ],
        "flapping": {
            "window_seconds": FLAP_WINDOW,
            "incidents": sum(v[0] for v in flapping.values()),
            "keys": [
                {"service": sid, "dedup_key": k, "reopened": n} for (sid, k), (n,) in _top(flapping)
            ],
        },
        "resolved_by_source_quickly": {
            "window_seconds": QUICK_WINDOW,
            "incidents": sum(v[0] for v in quick.values()),
            "keys": [
                {"service": sid, "dedup_key": k, "incidents": n} for (sid, k), (n,) in _top(quick)
            ],
        },
    }
