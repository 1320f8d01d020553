"""The noise part of a report: the noisiest services, alerts (by Alertmanager's alertname,
else the alert's summary) and dedup keys; flapping keys; incidents their source resolved
within minutes while nobody acted (candidates for tuning)."""

from __future__ import annotations

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


def noise_part(led: Ledger, q: Query, rows: list[int]) -> dict[str, Any]:
    c = led.incidents.cols
    name = led.names.strings
    services: dict[str, list[int]] = {}
    keys: dict[tuple[str, str], list[int]] = {}
    flapping: dict[tuple[str, str], list[int]] = {}
    quick: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        sid, dedup = name[c["service"][row]], name[c["dedup"][row]]
        s = services.setdefault(sid, [0, 0])
        s[0] += 1
        s[1] += c["alerts"][row]
        k = keys.setdefault((sid, dedup), [0, 0])
        k[0] += 1
        k[1] += c["alerts"][row]
        reopen = c["reopen"][row]
        if not is_none(reopen) and reopen <= FLAP_WINDOW:
            flapping.setdefault((sid, dedup), [0])[0] += 1
        resolved, acted = c["resolved"][row], c["acted"][row]
        if (
            c["how"][row] == BY_SOURCE
            and resolved - c["opened"][row] <= QUICK_WINDOW
            and (is_none(acted) or acted >= resolved)
        ):
            quick.setdefault((sid, dedup), [0])[0] += 1
    # alerts by name (Alertmanager's alertname, else the alert's summary), by when they fired
    lo, hi = q.start.timestamp(), q.end.timestamp()
    want = led.names.find(q.service) if q.service is not None else None
    f = led.fires.cols
    alerts: dict[tuple[str, str], list[Any]] = {}
    for at, inc, nm in zip(f["at"], f["inc"], f["name"], strict=True):
        if not lo <= at < hi:
            continue
        svc = c["service"][inc]
        if want is not None and svc != want:
            continue
        a = alerts.setdefault((name[svc], name[nm] if nm >= 0 else ""), [0, set()])
        a[0] += 1
        a[1].add(inc)
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
