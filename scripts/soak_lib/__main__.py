"""Entry point: `python -m soak_lib [--kills N] [--seed S] [--quick] [--scratch DIR] [--keep]`."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .run import Plan, soak


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="scripts/soak",
        description="Kill pager with SIGKILL at random moments under concurrent ingest, "
        "acknowledgements and deliveries to provider stand-ins; check that every 2xx'ed "
        "event is there once, every acknowledgement held, no page was lost and none was sent "
        "twice without a crash between; print a table.",
    )
    p.add_argument("--kills", type=int, default=20, help="how many SIGKILLs (default 20)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    p.add_argument("--quick", action="store_true", help="shorter stretches of load between kills")
    p.add_argument(
        "--scratch",
        default=None,
        help="folder for the data folder (default: a new folder in $TMPDIR or /tmp); "
        "must be disk-backed for the durability checks to mean anything",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folder afterwards")
    args = p.parse_args(argv)
    if args.kills < 1:
        p.error("--kills: at least 1")
    seed = args.seed if args.seed is not None else int(time.time())
    root = Path(args.scratch) if args.scratch else None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pager-soak-", dir=root))
    print(f"scratch: {scratch}; seed {seed} (repeat with --seed {seed})", flush=True)
    t0 = time.perf_counter()
    try:
        table = soak(scratch, Plan.of(args.kills, args.quick), seed)
        print("\n" + table.render(), flush=True)
    finally:
        if args.keep:
            print(f"\nscratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"\n(soak took {time.perf_counter() - t0:.0f} s)")
    if table.failed or any(r.met is False for r in table.rows):
        print("soak: SOME CHECKS FAILED (see the table and the !!! lines)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
