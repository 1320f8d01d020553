"""`pager check-config`, `pager route-test` and `pager replay`: the tools that read a
configuration or the event log without running the service."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["add_config_tools", "add_replay"]


def cmd_check_config(args: argparse.Namespace) -> int:
    from pager.config.check_command import main as check_main

    return check_main(args.file)


def cmd_route_test(args: argparse.Namespace) -> int:
    import orjson

    from pager.config import load_config, load_demo_config
    from pager.config.compile import compile_rules
    from pager.errors import BadRequest
    from pager.ingest.route_test import render_text, route_test
    from pager.ingest.validate import parse_instant

    path = args.config or os.environ.get("PAGER_CONFIG")
    config = load_config(path) if path else load_demo_config()
    name = args.payload
    try:
        if name == "-":
            raw, name = sys.stdin.buffer.read(), "standard input"
        elif name.lstrip().startswith(("{", "[")):
            raw, name = name.encode(), "the inline payload"
        else:
            raw = Path(name).read_bytes()
        payload = orjson.loads(raw)
    except OSError as e:
        raise SystemExit(f"pager route-test: cannot read {name}: {e.strerror}") from None
    except orjson.JSONDecodeError as e:
        raise SystemExit(f"pager route-test: {name} is not JSON: {e}") from None
    try:
        at = parse_instant("--at", args.at) if args.at else datetime.now(UTC)
    except BadRequest as e:
        raise SystemExit(f"pager route-test: {e.message}") from None
    result = route_test(
        compile_rules(config), payload, at, integration=args.integration, key=args.key
    )
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode())
    else:
        print(render_text(result))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from pager.replay.tool import run

    return run(args)


def add_config_tools(sub: Any, common: argparse.ArgumentParser) -> None:
    c = sub.add_parser("check-config", parents=[common], help="validate a configuration file")
    c.add_argument("file")
    c.set_defaults(func=cmd_check_config)

    t = sub.add_parser(
        "route-test",
        parents=[common],
        help="dry run: which service, policy, and who would be notified when, for an alert",
    )
    t.add_argument("--config", help="configuration file (default: $PAGER_CONFIG, else the demo)")
    t.add_argument(
        "payload", help="the alert as its tool would send it: a file, - for stdin, or inline JSON"
    )
    t.add_argument("--at", help="pretend the alert arrives at this ISO 8601 instant (default: now)")
    t.add_argument(
        "--integration",
        choices=["pagerduty", "alertmanager", "generic", "opsgenie"],
        help="default: guessed from the payload",
    )
    t.add_argument(
        "--key",
        help="the integration key of an Alertmanager or generic payload (in the URL path) or "
        "an Opsgenie one (its GenieKey)",
    )
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_route_test)


def add_replay(sub: Any, common: argparse.ArgumentParser) -> None:
    from pager.replay.tool import add_arguments

    r = sub.add_parser(
        "replay",
        parents=[common],
        help="read the event log (a data folder, or the PostgreSQL store) without running the service",
        description="Read the event log without running the service: a data folder (--data-dir, "
        "or the data_dir of --config), or the database of a postgres store (--config): --verify, "
        "--at, --incident, --export, --repair (folders only).",
    )
    add_arguments(r)
    r.set_defaults(func=cmd_replay)
