"""`pager hash-password`: read a password from stdin and print its argon2id hash, the value
of `users[].password_hash`. On a terminal it asks twice without echo; from a pipe it reads
one line (`printf '%s' "$PW" | pager hash-password`). The password never appears in argv."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

__all__ = ["add_passwords", "hash_password"]

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher  # argon2id with the library's (RFC 9106) defaults

    return PasswordHasher().hash(password)


def cmd_hash_password(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("pager: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_LENGTH:
        print(f"pager: a password needs at least {MIN_LENGTH} characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def add_passwords(sub: Any, common: argparse.ArgumentParser) -> None:
    h = sub.add_parser(
        "hash-password",
        parents=[common],
        help="print the argon2id hash of a password read from stdin (users[].password_hash)",
    )
    h.set_defaults(func=cmd_hash_password)
