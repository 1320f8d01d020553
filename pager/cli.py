"""The `pager` command: serve, check-config, replay (and route-test, later).

Errors are one clear line on stderr and a non-zero exit; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import trio

__all__ = ["main"]

log = logging.getLogger("pager")


def _setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("hypercorn", "pager.hypercorn", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not debug else logging.DEBUG)


def _banner(config: Any, running: Any, demo: bool) -> str:
    url = running.urls[0] if running.urls else f"http://{config.server.listen}"
    lines = [
        f"pager is running on {url}"
        + (f" (ingest also on {running.ingest_url})" if running.ingest_url else "")
    ]
    lines.append(
        f"data folder: {os.path.abspath(config.data_dir)}; {running.load.replayed} records replayed"
    )
    if demo:
        lines.append(
            "This is the embedded demo configuration (pager serve --config FILE runs yours)."
        )
        keys = [f"{i.type}: {i.key}" for s in config.services for i in s.integrations]
        lines.append("Integration keys: " + ", ".join(keys))
        generic = next(
            (i.key for s in config.services for i in s.integrations if i.type == "generic"), None
        )
        token = config.auth.api_tokens[0].token if config.auth.api_tokens else None
        if generic:
            lines.append("Send it an alert:")
            lines.append(
                f"  curl -sS -X POST {url}/integrations/generic/{generic} -H 'Content-Type: application/json' "
                """-d '{"title": "Disk full on db-1", "severity": "critical"}'"""
            )
        if token:
            lines.append("See it:")
            lines.append(f"  curl -sS -H 'Authorization: Bearer {token}' {url}/api/v1/incidents")
    return "\n".join(lines)


async def _serve(config: Any, demo: bool, source: str) -> None:
    from pager.actors.supervisor import run_pager
    from pager.config import ConfigError
    from pager.web.api_config import reload_from_file

    shutdown = trio.Event()
    system: Any = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for sig in signals:
                    if sig == signal.SIGHUP:
                        if system is None:
                            continue
                        try:
                            await reload_from_file(system)
                        except ConfigError as e:
                            log.error(
                                "SIGHUP: the new configuration is not valid; keeping the old one:\n%s",
                                e,
                            )
                        except Exception as e:
                            log.error("SIGHUP: reload failed: %s", e)
                        continue
                    if shutdown.is_set():
                        log.warning("second %s: stopping at once", signal.Signals(sig).name)
                        nursery.cancel_scope.cancel()
                        return
                    log.info("%s received: shutting down", signal.Signals(sig).name)
                    shutdown.set()

            async def serve_until_stopped(*, task_status: trio.TaskStatus[Any]) -> None:
                try:
                    await run_pager(
                        config,
                        shutdown=shutdown,
                        config_source=source,
                        config_path=None if demo else source,
                        manage_gc=True,
                        task_status=task_status,
                    )
                finally:
                    nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            running = await nursery.start(serve_until_stopped)
            system = running.system
            print(_banner(config, running, demo), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from pager.config import load_config, load_demo_config

    path = args.config or os.environ.get("PAGER_CONFIG")
    if path:
        config = load_config(path)
        demo = False
    else:
        config = load_demo_config()
        demo = True
    trio.run(_serve, config, demo, path or "demo")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from pager.config.check_command import main as check_main

    return check_main(args.file)


def cmd_route_test(args: argparse.Namespace) -> int:
    import orjson

    from pager.config import load_config, load_demo_config
    from pager.config.compile import compile_rules
    from pager.ingest.route_test import render_text, route_test
    from pager.ingest.validate import parse_time

    path = args.config or os.environ.get("PAGER_CONFIG")
    config = load_config(path) if path else load_demo_config()
    try:
        payload = orjson.loads(Path(args.payload).read_bytes())
    except OSError as e:
        raise SystemExit(f"pager route-test: cannot read {args.payload}: {e.strerror}") from None
    except orjson.JSONDecodeError as e:
        raise SystemExit(f"pager route-test: {args.payload} is not JSON: {e}") from None
    at = parse_time(args.at) if args.at else datetime.now(UTC)
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pager", description="A self-hosted on-call pager.")
    p.add_argument("--debug", action="store_true", help="log verbosely and show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the service (the embedded demo without --config)")
    s.add_argument("--config", help="configuration file (default: $PAGER_CONFIG, else the demo)")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("check-config", help="validate a configuration file")
    c.add_argument("file")
    c.set_defaults(func=cmd_check_config)

    t = sub.add_parser(
        "route-test",
        help="dry run: which service, policy, and who would be notified when, for an alert",
    )
    t.add_argument("--config", help="configuration file (default: $PAGER_CONFIG, else the demo)")
    t.add_argument("payload", help="the alert as JSON, as its tool would send it")
    t.add_argument("--at", help="pretend the alert arrives at this ISO 8601 instant (default: now)")
    t.add_argument(
        "--integration",
        choices=["pagerduty", "alertmanager", "generic"],
        help="default: guessed from the payload",
    )
    t.add_argument(
        "--key", help="the integration key of an Alertmanager or generic payload (in the URL path)"
    )
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=cmd_route_test)

    from pager.replay.tool import add_arguments

    r = sub.add_parser(
        "replay",
        help="read a data folder without running the service",
        description="Read a data folder without running the service: --verify, --at, --incident, --export, --repair.",
    )
    add_arguments(r)
    r.set_defaults(func=cmd_replay)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.debug)
    try:
        return int(args.func(args))
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
