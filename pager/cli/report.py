"""`pager report --from --to [--service]`: the on-call report as tables (docs/analytics.md).

It reads a data folder as `pager replay` does (`--data-dir`, or the `data_dir` of
`--config`), without the service running and without changing the folder; or it asks a
running pager (`--url`, or `PAGER_URL`, with the API token in `PAGER_TOKEN`). With
`--config` the report knows people's names, time zones and the schedules (hours on call);
without one, a data folder's report has everyone on UTC, and says so on stderr (the log holds
no time zones: they are configuration).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["add_report"]

DEFAULT_DAYS = 7
NO_CONFIG = (
    "pager report: note: no --config, so everyone's times are in UTC and nobody has hours on "
    "call; pass --config FILE (or set PAGER_CONFIG) for people's time zones and schedules"
)


def _instant(option: str, raw: str) -> datetime:
    from pager.errors import BadRequest
    from pager.ingest.validate import parse_instant

    try:
        return parse_instant(option, raw)
    except BadRequest as e:
        raise SystemExit(f"pager report: {e.message}") from None


def _from_folder(args: argparse.Namespace, data_dir: Path, config: Any) -> dict[str, Any]:
    from pager.config.compile import compile_rules
    from pager.core.analytics import Directory, Query, report
    from pager.core.overrides import with_overrides
    from pager.replay.analytics import read_ledger

    if not (data_dir / "events").is_dir():
        raise SystemExit(f"pager report: {data_dir} is not a pager data folder (no events/ in it)")
    ledger, overrides = read_ledger(data_dir)
    directory = Directory()
    if config is not None:
        rules = with_overrides(compile_rules(config), overrides)
        directory = Directory.from_rules(rules, {u.id: u.timezone for u in config.users})
    try:
        q = Query(args.start, args.end, args.service, args.group_by, args.tz)
    except ValueError as e:
        raise SystemExit(f"pager report: {e}") from None
    return report(ledger, q, directory)


def _from_service(args: argparse.Namespace, url: str) -> dict[str, Any]:
    import httpx

    token = os.environ.get("PAGER_TOKEN", "")
    if not token:
        raise SystemExit("pager report: set PAGER_TOKEN to an API token of that pager")
    params = {"from": args.start.isoformat(), "to": args.end.isoformat(),
              "group_by": args.group_by, "tz": args.tz}  # fmt: skip
    if args.service:
        params["service"] = args.service
    try:
        r = httpx.get(
            f"{url.rstrip('/')}/api/v1/analytics", params=params, timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
    except httpx.HTTPError as e:
        raise SystemExit(f"pager report: cannot reach {url}: {e}") from None
    if r.status_code != 200:
        try:
            message = r.json().get("message", r.text)
        except ValueError:
            message = r.text[:200]
        raise SystemExit(f"pager report: {url} answered {r.status_code}: {message}")
    body: dict[str, Any] = r.json()
    return body


def cmd_report(args: argparse.Namespace) -> int:
    import orjson

    from pager.core.analytics.text import render_text

    args.end = _instant("--to", args.to) if args.to else datetime.now(UTC)
    args.start = (
        _instant("--from", args.from_) if args.from_ else args.end - timedelta(days=DEFAULT_DAYS)
    )
    config = None
    path = args.config or os.environ.get("PAGER_CONFIG")
    if path:
        from pager.config import load_config

        config = load_config(path)
    url = args.url or (None if args.data_dir else os.environ.get("PAGER_URL"))
    if url and not args.data_dir:
        result = _from_service(args, url)
    else:
        data_dir = Path(args.data_dir or (config.data_dir if config else "pager-data"))
        result = _from_folder(args, data_dir, config)
        if config is None:
            print(NO_CONFIG, file=sys.stderr)
    if args.json:
        sys.stdout.write(
            orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode()
        )
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result))
    return 0


def add_report(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        parents=[common],
        help="the on-call report (MTTA, MTTR, noise, people) as tables",
        description="The on-call report for incidents opened in a range (default: the last 7 "
        "days): from a data folder (--data-dir, or the config's data_dir) or from a running "
        "pager (--url or PAGER_URL, with PAGER_TOKEN). See docs/analytics.md.",
    )
    p.add_argument(
        "--from", dest="from_", metavar="TIME", help="ISO 8601 (default: 7 days before --to)"
    )
    p.add_argument("--to", metavar="TIME", help="ISO 8601 (default: now)")
    p.add_argument("--service", help="one service's incidents")
    p.add_argument(
        "--group-by", choices=("day", "week"), default="day", help="the series' periods (--json)"
    )
    p.add_argument("--tz", default="UTC", help="IANA zone of the series' days (default UTC)")
    p.add_argument("--data-dir", help="read this data folder (pager need not run)")
    p.add_argument("--config", help="the configuration: names, time zones, schedules, data_dir")
    p.add_argument("--url", help="ask this running pager (default: $PAGER_URL)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_report)
