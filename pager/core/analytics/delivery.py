"""The delivery part of a report: per contact method, the notifications requested in the
range by outcome, the success rate, the latency to the provider and to its receipt; and how
people acknowledged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .columns import is_none
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
    counts_of: dict[int, list[int]] = {}
    latency_of: dict[int, list[float]] = {}
    receipt_of: dict[int, list[float]] = {}
    span = led.span(n["requested"], lo, hi)
    a, b = span.start, span.stop
    for requested, inc, method, outcome, sent, receipt in zip(
        n["requested"][a:b], n["inc"][a:b], n["method"][a:b], n["outcome"][a:b],
        n["sent"][a:b], n["receipt"][a:b], strict=True,
    ):  # fmt: skip
        if not lo <= requested < hi or (want is not None and svc[inc] != want):
            continue
        counts = counts_of.get(method)
        if counts is None:
            counts = counts_of[method] = [0] * len(OUTCOMES)
            latency_of[method], receipt_of[method] = [], []
        counts[outcome] += 1
        if sent == sent:  # (NaN: never sent)
            latency_of[method].append(sent - requested)
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
    by_code: dict[int, int] = {}
    for acked, code in led.incidents.pick(rows, "acked", "ack_via"):
        if not is_none(acked):
            by_code[code] = by_code.get(code, 0) + 1
    via: dict[str, int] = {}
    for code, k in by_code.items():
        name = led.names.name(code) or "unknown"
        via[name] = via.get(name, 0) + k
    return {
        "methods": out,
        "acknowledged_via": dict(sorted(via.items(), key=lambda kv: (-kv[1], kv[0]))),
        "cancelled": sum(m["counts"][CANCELLED] for m in methods.values()),
    }
