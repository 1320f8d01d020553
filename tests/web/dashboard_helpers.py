"""The dashboard's test scene: the shared configuration with passwords and roles (alice a
responder, bob a viewer, carol an admin), tokens of each role, and a signed-in client."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from pager.config import Config, load_config_text

from ..harness import TOKEN, config_text

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22", "carol": "carol-password-333"}
ROLES = {"alice": "responder", "bob": "viewer", "carol": "admin"}
VIEWER_TOKEN = "viewer-token-0123456789"
RESPONDER_TOKEN = "responder-token-0123456789"
# cheap parameters: verification reads them from the hash, and tests sign in often
_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
HASHES = {user: _HASHER.hash(pw) for user, pw in PASSWORDS.items()}


def dashboard_text(
    data_dir: Path | str, extra: str = "", public_url: str = "", auth_extra: str = ""
) -> str:
    text = config_text(data_dir, fsync=False, extra=extra)
    for user, role in ROLES.items():
        text = text.replace(
            f"  - id: {user}\n",
            f"  - id: {user}\n    role: {role}\n    password_hash: '{HASHES[user]}'\n",
            1,
        )
    text = text.replace(
        f'    - {{name: ops, token: "{TOKEN}"}}\n',
        f'    - {{name: ops, token: "{TOKEN}", role: admin}}\n'
        f'    - {{name: wall, token: "{VIEWER_TOKEN}", role: viewer}}\n'
        f'    - {{name: bot, token: "{RESPONDER_TOKEN}", role: responder, user: alice}}\n'
        "  signin_attempts: 3\n" + auth_extra,
        1,
    )
    if public_url:
        text = text.replace("public_url: http://pager.test", f"public_url: {public_url}")
    return text


def dashboard_config(data_dir: Path | str, **kw: str) -> Config:
    return load_config_text(dashboard_text(data_dir, **kw), source="tests/web/dashboard_helpers.py")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


async def sign_in(client: httpx.AsyncClient, base: str, user: str) -> str:
    """Sign `user` in on `client` (its cookie jar keeps the session); returns the CSRF token
    of the signed-in pages."""
    r = await client.get(f"{base}/login")
    assert r.status_code == 200
    r = await client.post(
        f"{base}/login",
        data={"user": user, "password": PASSWORDS[user], "csrf": csrf_of(r.text)},
    )
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    r = await client.get(f"{base}/")
    assert r.status_code == 200
    return csrf_of(r.text)


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def stream_handshake(base: str, headers: dict[str, str]) -> int:
    """The status of a websocket handshake on /api/v1/stream, sent by hand: trio-websocket
    leaks its socket when a handshake is refused (and hypercorn closes the connection after
    refusing one: one client each). 101 when it is accepted."""
    async with (
        httpx.AsyncClient() as client,
        client.stream("GET", f"{base}/api/v1/stream", headers={**UPGRADE, **headers}) as r,
    ):
        return r.status_code
