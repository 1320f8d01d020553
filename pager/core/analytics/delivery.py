"""The delivery part of a report: per contact method, the notifications requested in the
range by outcome, the success rate, the latency to the provider and to its receipt; and how
people acknowledged."""

from __future__ import annotations

from typing import Any

from .columns import is_none
from .ledger import Ledger
from .query import Query
from .stats import summary
from .vocabulary import CANCELLED, DELIVERED, FAILED, OUTCOMES, SENT, UNDELIVERED

__all__ = ["delivery_part"]


def delivery_part(led: Ledger, q: Query, rows: list[int]) -> dict[str, Any]:
    lo, hi = q.start.timestamp(), q.end.timestamp()
    want = led.names.find(q.service) if q.service is not None else None
    svc = led.incidents.cols["service"]
    n = led.notifications.cols
    methods: dict[int, dict[str, Any]] = {}
    for requested, inc, method, outcome, sent, receipt in zip(
        n["requested"], n["inc"], n["method"], n["outcome"], n["sent"], n["receipt"], strict=True
    ):
        if not lo <= requested < hi or (want is not None and svc[inc] != want):
            continue
        m = methods.get(method)
        if m is None:
            m = methods[method] = {"counts": [0] * len(OUTCOMES), "latency": [], "receipt": []}
        m["counts"][outcome] += 1
        if not is_none(sent):
            m["latency"].append(sent - requested)
            if not is_none(receipt):
                m["receipt"].append(receipt - sent)
    out = []
    for method, m in sorted(methods.items(), key=lambda kv: led.names.strings[kv[0]]):
        counts = m["counts"]
        good = counts[SENT] + counts[DELIVERED]
        settled = good + counts[UNDELIVERED] + counts[FAILED]
        out.append(
            {
                "method": led.names.strings[method],
                "requested": sum(counts),
                **{name: counts[i] for i, name in enumerate(OUTCOMES)},
                "success_rate": round(good / settled, 4) if settled else None,
                "latency_seconds": summary(m["latency"]),
                "receipt_seconds": summary(m["receipt"]),
            }
        )
    via: dict[str, int] = {}
    c = led.incidents.cols
    for row in rows:
        if not is_none(c["acked"][row]):
            name = led.names.name(c["ack_via"][row]) or "unknown"
            via[name] = via.get(name, 0) + 1
    return {
        "methods": out,
        "acknowledged_via": dict(sorted(via.items(), key=lambda kv: (-kv[1], kv[0]))),
        "cancelled": sum(m["counts"][CANCELLED] for m in methods.values()),
    }
