"""The delivery part of a report: per contact method, the notifications requested in the
range by outcome, the success rate, the latency to the provider and to its receipt; and how
people acknowledged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .columns import vector
from .ledger import Ledger
from .query import Query
from .stats import summary
from .vocabulary import CANCELLED, DELIVERED, FAILED, OUTCOMES, SENT, UNDELIVERED

__all__ = ["delivery_part"]


def delivery_part(led: Ledger, q: Query, rows: Sequence[int]) -> dict[str, Any]:
    lo, hi = q.start.timestamp(), q.end.timestamp()
    want = led.names.find(q.service) if q.service is not None else None
    svc = led.incidents.cols["service"]
    n = led.notifications.cols
    span = led.span(n["requested"], lo, hi)
    requested, inc, methods_v, outcome, sent, receipt = (
        vector(n[c], span) for c in ("requested", "inc", "method", "outcome", "sent", "receipt")
    )
    keep = (requested >= lo) & (requested < hi)
    if want is not None:
        keep &= vector(svc)[inc] == want
    requested, methods_v, outcome = requested[keep], methods_v[keep], outcome[keep]
    sent, receipt = sent[keep], receipt[keep]
    counts_of: dict[int, list[int]] = {}
    latency_of: dict[int, list[float]] = {}
    receipt_of: dict[int, list[float]] = {}
    for m in np.unique(methods_v).tolist():
        mine = methods_v == m
        # (an outcome's count at its index, as a list's: -1 is the last)
        counts_of[m] = np.bincount(outcome[mine] % len(OUTCOMES), minlength=len(OUTCOMES)).tolist()
        was_sent = mine & ~np.isnan(sent)  # (NaN: never sent)
        # (sorted here, where it is quicker: `summary` sorts what it is given)
        latency_of[m] = np.sort(sent[was_sent] - requested[was_sent]).tolist()
        got = was_sent & ~np.isnan(receipt)
        receipt_of[m] = np.sort(receipt[got] - sent[got]).tolist()
    methods: dict[int, dict[str, Any]] = {
        m: {"counts": counts_of[m], "latency": latency_of[m], "receipt": receipt_of[m]}
        for m in counts_of
    }
    out = []
    for method, m in sorted(methods.items(), key=lambda kv: led.names.strings[kv[0]]):
        tally = m["counts"]
        good = tally[SENT] + tally[DELIVERED]
        settled = good + tally[UNDELIVERED] + tally[FAILED]
        out.append(
            {
                "method": led.names.strings[method],
                "requested": sum(tally),
                **{name: tally[i] for i, name in enumerate(OUTCOMES)},
                "success_rate": round(good / settled, 4) if settled else None,
                "latency_seconds": summary(m["latency"]),
                "receipt_seconds": summary(m["receipt"]),
            }
        )
    c = led.incidents.cols
    via_codes = vector(c["ack_via"], rows)[~np.isnan(vector(c["acked"], rows))]
    codes, k = np.unique(via_codes, return_counts=True)
    by_code = dict(zip(codes.tolist(), k.tolist(), strict=True))
    via: dict[str, int] = {}
    for code, k in by_code.items():
        name = led.names.name(code) or "unknown"
        via[name] = via.get(name, 0) + k
    return {
        "methods": out,
        "acknowledged_via": dict(sorted(via.items(), key=lambda kv: (-kv[1], kv[0]))),
        "cancelled": sum(m["counts"][CANCELLED] for m in methods.values()),
    }
