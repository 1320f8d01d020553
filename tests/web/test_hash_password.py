"""`pager hash-password` reads the password from stdin and prints an argon2id hash that
verifies it (and only it); the password is never an argument."""

from __future__ import annotations

import subprocess
import sys

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError


def run(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pager", "hash-password"],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_hash_verifies_the_password_read_from_stdin() -> None:
    out = run("s3cret-passphrase\n")
    assert out.returncode == 0, out.stderr
    hash_ = out.stdout.strip()
    assert hash_.startswith("$argon2id$")
    assert PasswordHasher().verify(hash_, "s3cret-passphrase")
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(hash_, "s3cret-passphrasE")


def test_short_password_refused() -> None:
    out = run("short\n")
    assert out.returncode == 1 and "at least 8 characters" in out.stderr and not out.stdout
