"""Entry point: `python -m bench_lib [journal|ingest|escalation|notify|dashboard|analytics|all] [--quick]
[--keep] [--store jsonl|postgres]`."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .machine import describe
from .table import Table


def _say(msg: str) -> None:
    print(f"  .. {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Measure pager against its performance targets and print a table.",
    )
    p.add_argument(
        "what",
        nargs="?",
        default="all",
        choices=("journal", "ingest", "escalation", "notify", "dashboard", "analytics", "all"),
    )
    p.add_argument("--quick", action="store_true", help="a tiny run (seconds): does it still run?")
    p.add_argument(
        "--scratch",
        default=None,
        help="folder for the data folders (default: a new folder in $TMPDIR or /tmp); "
        "must be disk-backed for the durability figures to mean anything",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folder afterwards")
    p.add_argument(
        "--store",
        choices=("jsonl", "postgres"),
        default="jsonl",
        help="journal and ingest: measure the PostgreSQL store (a server the bench starts, "
        "or $PAGER_BENCH_DSN) instead of the JSON-lines log; ingest shows both",
    )
    args = p.parse_args(argv)

    root = Path(args.scratch) if args.scratch else None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pager-bench-", dir=root))
    print(describe(str(scratch)), flush=True)
    print(f"mode: {'quick (tiny, not a measurement)' if args.quick else 'full'}", flush=True)
    tables: list[Table] = []
    t0 = time.perf_counter()
    try:
        if args.what in ("journal", "all"):
            if args.store == "postgres":
                from .postgres import run_journal_postgres

                tables.append(run_journal_postgres(scratch / "journal", args.quick, _say))
            else:
                from .journal import run_journal

                tables.append(run_journal(scratch / "journal", args.quick, _say))
            print("\n" + tables[-1].render(), flush=True)
        if args.what in ("ingest", "all"):
            from .ingest import run_ingest

            if args.store == "postgres":
                from .postgres import run_ingest_postgres

                tables.append(run_ingest_postgres(scratch / "ingest", args.quick, _say))
            else:
                tables.append(run_ingest(scratch / "ingest", args.quick, _say))
            print("\n" + tables[-1].render(), flush=True)
        if args.what in ("escalation", "all"):
            from .escalation import run_escalation

            tables.append(run_escalation(scratch / "escalation", args.quick, _say))
            print("\n" + tables[-1].render(), flush=True)
        if args.what in ("notify", "all"):
            from .notify import run_notify

            tables.append(run_notify(scratch / "notify", args.quick, _say))
            print("\n" + tables[-1].render(), flush=True)
        if args.what in ("analytics", "all"):
            from .analytics import run_analytics

            tables.append(run_analytics(scratch / "analytics", args.quick, _say))
            print("\n" + tables[-1].render(), flush=True)
        if args.what in ("dashboard", "all"):
            from .dashboard import run_dashboard

            tables.append(run_dashboard(scratch / "dashboard", args.quick, _say))
            print("\n" + tables[-1].render(), flush=True)
    finally:
        if args.keep:
            print(f"\nscratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n(bench took {time.perf_counter() - t0:.0f} s)")
    if any(t.failed for t in tables):
        print("bench: SOME MEASUREMENTS HAD ERRORS (see the !!! lines above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
