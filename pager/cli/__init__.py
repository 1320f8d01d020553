"""The `pager` command: serve, demo-config, check-config, route-test, replay, stream,
hash-password, backup, report, db migrate, status, and the REST client (incidents, show, ack,
resolve, snooze, note, oncall).

Each subcommand group registers itself with one `add_*` function taking the subparsers, so a
new group is one more function and one more line in `build_parser`. Errors are one clear
line on stderr and a non-zero exit; `--debug` (before or after the subcommand) shows the
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .backup import add_backup
from .client import add_client
from .db import add_db
from .passwords import add_passwords
from .report import add_report
from .serve import add_serve
from .stream import add_stream
from .tools import add_config_tools, add_replay

__all__ = ["main"]


def _setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("hypercorn", "pager.hypercorn", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not debug else logging.DEBUG)
    # not even with --debug: httpx logs each request's whole URL, and the URLs of Teams
    # and webhook contacts carry their credentials (a signature, a secret path)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pager")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


# each adds one group of subcommands; a new group is one more function here
SUBCOMMANDS = [
    add_serve,
    add_config_tools,
    add_replay,
    add_backup,
    add_stream,
    add_passwords,
    add_client,
    add_db,
    add_report,
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pager", description="A self-hosted on-call pager.")
    p.add_argument("--debug", action="store_true", help="log verbosely and show tracebacks")
    p.add_argument("--version", action="version", version=f"pager {_version()}")
    # --debug after the subcommand too; SUPPRESS keeps it from undoing one given before
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="log verbosely"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.debug)
    try:
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # `pager ... | head`: the reader left; say nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit cannot fail again
        return 141
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except BaseException as e:  # one clear line, unless --debug
        if args.debug:
            raise
        from pager.config import ConfigError

        if isinstance(e, ConfigError):
            print(str(e), file=sys.stderr)
            return 1
        msg = str(e) or type(e).__name__
        if isinstance(e, BaseExceptionGroup):
            leaves = _leaves(e)
            msg = "; ".join(str(x) or type(x).__name__ for x in leaves)
        print(f"pager: {msg}", file=sys.stderr)
        return 1


def _leaves(eg: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for e in eg.exceptions:
        out.extend(_leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


if __name__ == "__main__":
    sys.exit(main())
