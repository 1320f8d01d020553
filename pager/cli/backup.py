"""`pager backup --to DIR`: a consistent copy of a data folder, also while pager runs on it
(pager/store/backup.py says how). The folder is `--data-dir`, else the `data_dir` of
`--config` or $PAGER_CONFIG (only that key is read: the file's `${VAR}` secrets need not be
set), else ./pager-data, as `pager serve` would use. Restoring is starting pager on the copy
(`pager serve --config FILE --data-dir DIR`), or putting it in place of the folder while
pager is stopped."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

__all__ = ["add_backup"]


def cmd_backup(args: argparse.Namespace) -> int:
    from pager.core.events import SCHEMA_VERSION
    from pager.store.backup import BackupError, backup
    from pager.store.base import LogDamaged, LogTooNew

    config = args.config or os.environ.get("PAGER_CONFIG")
    if args.data_dir:
        src = Path(args.data_dir)
    elif config:
        from pager.config.load import load_storage

        storage = load_storage(config)  # only that: the file's secrets need not be set
        if storage.store.type == "postgres":
            raise SystemExit(
                f"pager backup: {config} keeps the event log in PostgreSQL; pager backup copies "
                "a JSON-lines data folder. Back the database up with its own tools (pg_dump of "
                "the pager_* tables, or base backups and WAL archiving): docs/high-availability.md"
            )
        src = storage.data_dir
    else:
        src = Path("pager-data")
    dest = Path(args.to)
    try:
        r = backup(src, dest, minimal=args.minimal, newest_schema=SCHEMA_VERSION)
    except BackupError as e:
        raise SystemExit(f"pager backup: {e}") from None
    except LogTooNew as e:  # as serve and replay refuse it; the copy is not checked
        raise SystemExit(f"pager backup: {e} ({dest} holds an unchecked copy)") from None
    except LogDamaged as e:
        raise SystemExit(f"pager backup: the copy in {dest} does not read back: {e}") from None
    except OSError as e:
        raise SystemExit(f"pager backup: {e.filename or dest}: {e.strerror or e}") from None
    snap = f"snapshot at record {r.snapshot_seq}" if r.snapshot_seq else "no snapshot"
    print(
        f"backed up {src} to {dest}: {snap}, records {r.first_seq}..{r.last_seq}, "
        f"{r.files} files, {r.bytes / 1e6:,.1f} MB (fsynced and read back); "
        f"restore with: pager serve{f' --config {config}' if config else ''} --data-dir {dest}"
    )
    return 0


def add_backup(sub: Any, common: argparse.ArgumentParser) -> None:
    b = sub.add_parser(
        "backup",
        parents=[common],
        help="copy a data folder consistently, also while pager runs on it",
        description="Copy a data folder consistently, also while pager runs on it: the newest "
        "whole snapshot, then the log (events/ and archive/), each file fsynced, then read back.",
    )
    b.add_argument("--to", required=True, metavar="DIR", help="a new or empty folder")
    b.add_argument("--data-dir", metavar="DIR", help="the data folder (default: see --config)")
    b.add_argument(
        "--config",
        help="take data_dir from this configuration (default: $PAGER_CONFIG, else ./pager-data)",
    )
    b.add_argument(
        "--minimal",
        action="store_true",
        help="only the snapshot and the records after it (old incidents' history is not copied)",
    )
    b.set_defaults(func=cmd_backup)
