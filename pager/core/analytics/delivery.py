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
    counts_of: dict[int, list[int]] = {}
    latency_of: dict[int, list[float]] = {}
    receipt_of: dict[int, list[float]] = {}
    req_c, inc_c, method_c, outcome_c = n["requested"], n["inc"], n["method"], n["outcome"]
    sent_c, receipt_c = n["sent"], n["receipt"]
    for i in led.span(req_c, lo, hi):
        requested = req_c[i]
        if not lo <= requested < hi or (want is not None and svc[inc_c[i]] != want):
            continue
        method = method_c[i]
        counts = counts_of.get(method)
        if counts is None:
            counts = counts_of[method] = [0] * len(OUTCOMES)
            latency_of[method], receipt_of[method] = [], []
        counts[outcome_c[i]] += 1
        sent = sent_c[i]
        if sent == sent:  # (NaN: never sent)
            latency_of[method].append(sent - requested)
            receipt = receipt_c[i]
            if receipt == receipt:
                receipt_of[method].append(receipt - sent)
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
