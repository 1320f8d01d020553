"""The noise part of a report: the noisiest services, alerts (by Alertmanager's alertname,
else the alert's summary) and dedup keys; flapping keys; incidents their source resolved
within minutes while nobody acted (candidates for tuning)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .columns import vector
from .ledger import Ledger
from .query import Query
from .vocabulary import BY_SOURCE

__all__ = ["FLAP_WINDOW", "QUICK_WINDOW", "TOP", "noise_part"]

FLAP_WINDOW = 3600.0  # opened again within an hour of the previous one resolving: flapping
QUICK_WINDOW = 300.0  # resolved by its source this soon, nobody having acted: noise
TOP = 10  # rows of each "noisiest" list


def _top(counts: dict[Any, list[Any]], key: int = 0) -> list[tuple[Any, list[Any]]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1][key], str(kv[0])))[:TOP]


def _grouped(
    keys: npt.NDArray[np.int64], weights: npt.NDArray[Any] | None = None
) -> dict[int, list[int]]:
    """Rows grouped by key, in the order each key first appears (as a loop filling a dict
    would have them): key -> [rows, sum of `weights` over them]."""
    if not len(keys):
        return {}
    found, first, where, n = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    sums = (
        np.bincount(where, weights=weights, minlength=len(found)).astype(np.int64).tolist()
        if weights is not None
        else [0] * len(found)
    )
    listed, counts = found.tolist(), n.tolist()
    return {listed[i]: [counts[i], sums[i]] for i in np.argsort(first, kind="stable").tolist()}


class _Pairs:
    """Pairs of codes (each from -1 to `base` - 2) as one number each, and back."""

    def __init__(self, base: int) -> None:
        self.base = base

    def of(self, a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        return (a.astype(np.int64) + 1) * self.base + (b.astype(np.int64) + 1)

    def named(self, counts: dict[int, list[int]]) -> dict[tuple[int, int], list[int]]:
        base = self.base
        return {(k // base - 1, k % base - 1): v for k, v in counts.items()}


def noise_part(led: Ledger, q: Query, rows: Sequence[int]) -> dict[str, Any]:
    c = led.incidents.cols
    name = led.names.strings
    # counted by codes over the columns as vectors, named at the end
    svc, dedup, alert_n, reopen, how, resolved, acted, opened = (
        vector(c[col], rows)
        for col in ("service", "dedup", "alerts", "reopen", "how", "resolved", "acted", "opened")
    )
    by_code = _grouped(svc.astype(np.int64), alert_n)
    pairs = _Pairs(max(len(name), len(led.incident_ids)) + 2)
    key = pairs.of(svc, dedup)
    keys_by_code = pairs.named(_grouped(key, alert_n))
    flap = reopen <= FLAP_WINDOW  # (False for NaN: nothing before it)
    flap_by_code = {k: [n] for k, (n, _) in pairs.named(_grouped(key[flap])).items()}
    quick = (
        (how == BY_SOURCE)
        & (resolved - opened <= QUICK_WINDOW)
        & (np.isnan(acted) | (acted >= resolved))
    )
    quick_by_code = {k: [n] for k, (n, _) in pairs.named(_grouped(key[quick])).items()}

    def named(counts: dict[tuple[int, int], list[int]]) -> dict[tuple[str, str], list[int]]:
        return {(name[s], name[k]): v for (s, k), v in counts.items()}

    services = {name[s]: v for s, v in by_code.items()}
    keys, flapping, quick_ = named(keys_by_code), named(flap_by_code), named(quick_by_code)
    # alerts by name (Alertmanager's alertname, else the alert's summary), by when they fired
    lo, hi = q.start.timestamp(), q.end.timestamp()
    want = led.names.find(q.service) if q.service is not None else None
    f = led.fires.cols
    span = led.span(f["at"], lo, hi)
    at, inc, nm = (vector(f[col], span) for col in ("at", "inc", "name"))
    fire_svc = vector(c["service"])[inc]
    keep = (at >= lo) & (at < hi)
    if want is not None:
        keep &= fire_svc == want
    fire_key, inc = pairs.of(fire_svc[keep], nm[keep]), inc[keep].astype(np.int64)
    # the distinct incidents of each key: the distinct (key, incident), counted per key
    per = len(led.incident_ids) + 2
    keyed, k = np.unique(np.unique(fire_key * per + inc + 1) // per, return_counts=True)
    incidents = dict(zip(keyed.tolist(), k.tolist(), strict=True))
    fired = pairs.named({k: [n, incidents[k]] for k, (n, _) in _grouped(fire_key).items()})
    alerts = {(name[s], name[nm] if nm >= 0 else ""): v for (s, nm), v in fired.items()}
    return {
        "services": [
            {"service": sid, "incidents": n, "alerts": a} for sid, (n, a) in _top(services)
        ],
        "alerts": [
            {"service": sid, "name": nm, "alerts": n, "incidents": incs}
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
            "incidents": sum(v[0] for v in quick_.values()),
            "keys": [
                {"service": sid, "dedup_key": k, "incidents": n} for (sid, k), (n,) in _top(quick_)
            ],
        },
    }
