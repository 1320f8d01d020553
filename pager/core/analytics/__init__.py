"""Analytics and on-call health from the event log: MTTA and MTTR, escalations, noise,
delivery, and the human cost of being on call (pages and interruptions in each person's own
business, off and sleep hours).

`Ledger` is the fold (the read model keeps one up to date, one record at a time, and
snapshots it); `report(ledger, Query, Directory)` answers for a time range; `incident_rows`
and `people_rows` are the CSV tables; `render_text` the table `pager report` prints.
"""

from .columns import encode_column
from .keeping import LedgerCapture, capture, from_snapshot, frozen, recount, to_snapshot
from .ledger import Ledger
from .metrics import BUCKETS, Aggregates, Histogram
from .query import MAX_RANGE, Directory, Query
from .report import incident_rows, report

__all__ = [
    "BUCKETS",
    "MAX_RANGE",
    "Aggregates",
    "Directory",
    "Histogram",
    "Ledger",
    "LedgerCapture",
    "Query",
    "capture",
    "encode_column",
    "from_snapshot",
    "frozen",
    "incident_rows",
    "recount",
    "report",
    "to_snapshot",
]
