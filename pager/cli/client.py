"""The REST client in the `pager` command, as amtool is for Alertmanager: `pager incidents`,
`show`, `ack`, `resolve`, `snooze`, `note`, `oncall` against a running pager.

It reads the base URL and API token from `--url`/`--token`, else `$PAGER_URL`/`$PAGER_TOKEN`
(the URL defaults to http://127.0.0.1:8080). People get tables; `--json` prints the API's
answer as it came, for scripts. Every failure is one line on stderr naming the URL: the
server's own message for a 4xx (401 no token; 403 an unknown token, or a role too low; 404
no such incident; 409 the incident's state does not allow it) and a word on what to check
when the server cannot be reached. Exit status: 0 done, 1 refused or unreachable, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from pager.core.model import StatusFilter

from .tables import incident_line, incident_text, incidents_table, oncall_table

__all__ = ["ClientError", "PagerClient", "add_client"]

DEFAULT_URL = "http://127.0.0.1:8080"

_HINTS = {
    401: "give a token: --token or $PAGER_TOKEN",
    403: "check --token or $PAGER_TOKEN, and the token's role",
}


class ClientError(Exception):
    """A request that did not succeed, said in one line."""


class PagerClient:
    """A thin synchronous client of pager's REST API (`/api/v1`)."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        where = f"{self.url}{path}"
        try:
            r = self._http.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                content=None if body is None else orjson.dumps(body),
                headers=None if body is None else {"Content-Type": "application/json"},
            )
        except httpx.ConnectError as e:
            raise ClientError(
                f"cannot reach pager at {self.url} ({_reason(e)}); is it running? "
                "(--url or $PAGER_URL)"
            ) from None
        except httpx.TimeoutException:
            raise ClientError(f"{where}: no answer in time") from None
        except httpx.HTTPError as e:
            raise ClientError(f"{where}: {_reason(e)}") from None
        if r.status_code >= 400:
            raise ClientError(_refusal(r, method, where))
        try:
            return orjson.loads(r.content)
        except orjson.JSONDecodeError:
            raise ClientError(
                f"{where}: {r.status_code} but not JSON (is {self.url} a pager?)"
            ) from None


def _reason(e: Exception) -> str:
    text = str(e) or type(e).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text.removeprefix("[Errno 111] ")


def _refusal(r: httpx.Response, method: str, where: str) -> str:
    try:
        body = orjson.loads(r.content)
        message = body.get("message") or body.get("error") or ""
    except (orjson.JSONDecodeError, AttributeError):
        message = ""
    message = message or r.reason_phrase
    hint = _HINTS.get(r.status_code)
    return f"{method} {where}: {r.status_code} {message}" + (f" ({hint})" if hint else "")


# ---------------------------------------------------------------------------- commands


def _connect(args: argparse.Namespace) -> PagerClient:
    url = args.url or os.environ.get("PAGER_URL") or DEFAULT_URL
    token = args.token or os.environ.get("PAGER_TOKEN")
    if not token:
        raise SystemExit(f"pager {args.command}: an API token is needed (--token or $PAGER_TOKEN)")
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"pager {args.command}: --url {url!r} must start with http:// or https://")
    return PagerClient(url, token, timeout=args.timeout)


def _emit(args: argparse.Namespace, answer: Any, text: str) -> None:
    if args.json:
        sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(text + "\n")


def _incident_path(incident_id: str, action: str = "") -> str:
    return f"/api/v1/incidents/{quote(incident_id, safe='')}" + (f"/{action}" if action else "")


def _run(args: argparse.Namespace) -> int:
    client = _connect(args)
    try:
        args.action(client, args)
    except ClientError as e:
        print(f"pager {args.command}: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


def _incidents(client: PagerClient, args: argparse.Namespace) -> None:
    params = {
        "status": args.status,
        "service": args.service,
        "since": args.since,
        "limit": str(args.limit),
    }
    answer = client.request("GET", "/api/v1/incidents", params=params)
    _emit(args, answer, incidents_table(answer["incidents"]))


def _show(client: PagerClient, args: argparse.Namespace) -> None:
    answer = client.request("GET", _incident_path(args.id))
    _emit(args, answer, incident_text(answer))


def _action(
    path: str,
    done: str | Callable[[argparse.Namespace], str],
    body: Callable[[argparse.Namespace], dict[str, str]] | None = None,
) -> Callable[[PagerClient, argparse.Namespace], None]:
    def act(client: PagerClient, args: argparse.Namespace) -> None:
        payload = dict(body(args)) if body is not None else {}
        if args.by:
            payload["by"] = args.by
        answer = client.request("POST", _incident_path(args.id, path), body=payload)
        _emit(args, answer, incident_line(answer, done(args) if callable(done) else done))

    return act


def _note_text(args: argparse.Namespace) -> dict[str, str]:
    text = sys.stdin.read() if args.text == ["-"] else " ".join(args.text)
    return {"text": text}


def _oncall(client: PagerClient, args: argparse.Namespace) -> None:
    answer = client.request(
        "GET", "/api/v1/oncall", params={"schedule": args.schedule, "at": args.at}
    )
    _emit(args, answer, oncall_table(answer["oncall"]))


def add_client(sub: Any, common: argparse.ArgumentParser) -> None:
    conn = argparse.ArgumentParser(add_help=False, parents=[common])
    g = conn.add_argument_group("connection")
    g.add_argument("--url", help=f"pager's base URL (default: $PAGER_URL, else {DEFAULT_URL})")
    g.add_argument("--token", help="an API token (default: $PAGER_TOKEN)")
    g.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="default: 10")
    conn.add_argument("--json", action="store_true", help="print the API's JSON answer")

    def command(name: str, help_: str, action: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, parents=[conn], help=help_, description=help_ + "."
        )
        p.set_defaults(func=_run, action=action)
        return p

    p = command("incidents", "list incidents of a running pager (REST client)", _incidents)
    p.add_argument(
        "--status",
        metavar="LIST",
        help=f"comma list of {', '.join(StatusFilter)}: open is triggered or acknowledged,"
        " all (the default) is every status",
    )
    p.add_argument("--service", metavar="ID", help="only this service's incidents")
    p.add_argument("--since", metavar="TIME", help="opened at or after this ISO 8601 instant")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N (default 100)")

    p = command("show", "one incident: alerts, escalation, timeline, notifications", _show)
    p.add_argument("id", metavar="ID", help="the incident's id (inc-42)")

    for name, path, done, help_ in (
        ("ack", "acknowledge", "acknowledged", "acknowledge an incident"),
        ("resolve", "resolve", "resolved", "resolve an incident"),
    ):
        p = command(name, help_, _action(path, done))
        p.add_argument("id", metavar="ID")
        p.add_argument("--by", metavar="USER", help="act as this user (admin tokens)")

    p = command(
        "snooze",
        "snooze an incident for a while (it is acknowledged until then)",
        _action("snooze", lambda a: f"snoozed for {a.duration}", lambda a: {"for": a.duration}),
    )
    p.add_argument("id", metavar="ID")
    p.add_argument("duration", metavar="DURATION", help="30m, 1h, 2h, 1d")
    p.add_argument("--by", metavar="USER", help="act as this user (admin tokens)")

    p = command(
        "note", "add a note to an incident's timeline", _action("notes", "noted", _note_text)
    )
    p.add_argument("id", metavar="ID")
    p.add_argument("text", metavar="TEXT", nargs="+", help="the note (- reads it from stdin)")
    p.add_argument("--by", metavar="USER", help="write it as this user (admin tokens)")

    p = command("oncall", "who is on call now (or --at), per schedule", _oncall)
    p.add_argument("--schedule", metavar="ID", help="only this schedule")
    p.add_argument("--at", metavar="TIME", help="at this ISO 8601 instant instead of now")
