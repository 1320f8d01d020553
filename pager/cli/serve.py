"""`pager serve` and `pager demo-config`: running the service, its banner, serve's
--listen/--data-dir, and the port check made before anything is created or journaled."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import trio

__all__ = ["add_serve"]

log = logging.getLogger("pager")


def _banner(config: Any, running: Any, demo: bool) -> str:
    url = running.urls[0] if running.urls else f"http://{config.server.listen}"
    lines = [
        f"pager is running on {url}"
        + (f" (ingest also on {running.ingest_url})" if running.ingest_url else "")
    ]
    if config.store.type == "postgres":
        from pager.store.pg_schema import describe_dsn

        lines.append(
            f"event log: PostgreSQL {describe_dsn(str(config.store.dsn))}; "
            f"{running.load.replayed} records replayed; node {running.node} competes for the "
            f"lease (ttl {config.store.lease_ttl.total_seconds():g}s)"
        )
    else:
        lines.append(
            f"data folder: {os.path.abspath(config.data_dir)}; {running.load.replayed} records replayed"
        )
    pid = os.getpid()
    if demo:
        lines.append(f"pid {pid}")
        lines.append(
            "This is the embedded demo configuration (pager serve --config FILE runs yours;"
            " pager demo-config > pager.yaml writes this one to start from, and reloads)."
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
        if any(u.id == "demo" and u.password_hash for u in config.users):
            from pager.config.demo import DEMO_PASSWORD

            lines.append(f"or in a browser: {url}/ (sign in as demo, password {DEMO_PASSWORD})")
    else:
        lines.append(f"pid {pid} (kill -HUP {pid} reloads the configuration file)")
    return "\n".join(lines)


async def _serve(config: Any, demo: bool, source: str) -> None:
    from pager.config import ConfigError
    from pager.service import run_pager
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


def _override(config: Any, listen: str | None, data_dir: str | None) -> Any:
    """`config` with serve's --listen and --data-dir in place of the file's."""
    from pydantic import ValidationError

    from pager.config.models import Server

    if listen is not None:
        old = config.server
        derived = old.public_url == f"http://{old.listen}"
        try:
            server = Server.model_validate(
                {
                    "listen": listen,
                    "ingest_listen": old.ingest_listen,
                    "public_url": None if derived else old.public_url,
                }
            )
        except ValidationError as e:
            msg = "; ".join(err["msg"] for err in e.errors())
            raise SystemExit(f"pager serve: --listen {listen!r}: {msg}") from None
        config = config.model_copy(update={"server": server})
    if data_dir is not None:
        config = config.model_copy(update={"data_dir": Path(data_dir)})
    return config


def _check_free(config: Any) -> None:
    """Fail with the address before anything is created or journaled if a listener's port is
    taken (the same SO_REUSEADDR bind hypercorn makes)."""
    from pager.service import split_listen

    for what, addr in (
        ("server.listen", config.server.listen),
        ("server.ingest_listen", config.server.ingest_listen),
    ):
        if addr is None:
            continue
        host, port = split_listen(addr)
        if port == 0:
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                sock.listen(1)
            except OSError as e:
                raise SystemExit(
                    f"pager serve: cannot listen on {addr} ({what}): {e.strerror or e}"
                ) from None


def _loopback_only(config: Any) -> bool:
    """Whether every listener is on a loopback address (only this machine reaches it)."""
    import ipaddress

    from pager.service import split_listen

    for addr in (config.server.listen, config.server.ingest_listen):
        if addr is None:
            continue
        host, _ = split_listen(addr)
        if host == "localhost":
            continue
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return False
        except ValueError:  # a host name: it may be reached from elsewhere
            return False
    return True


def _warn(config: Any, demo: bool, warnings: list[Any] | None = None) -> None:
    """Log the configuration's warnings (what `pager check-config` prints; `warnings`, as
    its load found them), before the service starts: a file made from the demo still
    carries its password, and nobody runs check-config on every change. The demo's own
    (its published password and token) only when it listens beyond loopback."""
    from pager.config import config_warnings
    from pager.config.check_secrets import as_logged

    if demo and _loopback_only(config):
        return
    for problem in config_warnings(config) if warnings is None else warnings:
        log.warning("configuration %s", as_logged(problem))


def cmd_serve(args: argparse.Namespace) -> int:
    from pager.config import load_demo_config
    from pager.config.load import load_config_warned

    path = args.config or os.environ.get("PAGER_CONFIG")
    warnings = None
    if path:
        config, warnings = load_config_warned(path)
        demo = False
    else:
        config = load_demo_config()
        demo = True
    config = _override(config, args.listen, args.data_dir)
    _check_free(config)
    _warn(config, demo, warnings)
    trio.run(_serve, config, demo, path or "demo")
    return 0


def cmd_demo_config(args: argparse.Namespace) -> int:
    from pager.config.demo import demo_config_text

    sys.stdout.write(demo_config_text())
    return 0


def add_serve(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser(
        "serve", parents=[common], help="run the service (the embedded demo without --config)"
    )
    s.add_argument("--config", help="configuration file (default: $PAGER_CONFIG, else the demo)")
    s.add_argument("--listen", metavar="HOST:PORT", help="replaces the file's server.listen")
    s.add_argument("--data-dir", metavar="DIR", help="replaces the file's data_dir")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser(
        "demo-config",
        parents=[common],
        help="print the embedded demo configuration (a starting point for your own file)",
    )
    d.set_defaults(func=cmd_demo_config)
