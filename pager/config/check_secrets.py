"""Checks of the secrets pager itself relies on: API tokens (anyone holding one acts through
the REST API), the link secret (it signs the acknowledge links in emails and Teams cards) and
the outgoing webhook secret; and the demo's dashboard password, printed in the README. A short
or guessable one is a warning, not an error: pager works with it, but anyone who can reach it
can guess it. Provider credentials (Slack, Twilio, SMTP) are the provider's to choose and are
not judged here. The secret itself is never printed."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

from .models import Config
from .problems import Problem

__all__ = [
    "DEMO_PASSWORD_HASH",
    "MIN_BITS",
    "MIN_DISTINCT",
    "MIN_LENGTH",
    "as_logged",
    "weak_secrets",
    "weakness",
]

MIN_LENGTH = 16  # characters
MIN_DISTINCT = 8  # different characters (a quarter of the length below 32): "abab…" is no secret
MIN_BITS = 36  # its length times the Shannon entropy of its characters, a generous estimate
PLACEHOLDERS = ("changeme", "change-me", "password", "secret", "example", "token", "default")
ADVICE = "make one with `openssl rand -hex 32`"
# The demo user's hash in demo.yaml (of `demo-password`; a test checks they agree): a file
# made by `pager demo-config` keeps it until its person gets a password of their own.
DEMO_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$AVqNkihrSv0OjTJoonBChw$yY52NI1+5EH9nXqPFG3NU0CznphMyBMgdE2x5Fn3B/0"  # noqa: S105 -- the public demo's, kept to warn of it


def weakness(value: str) -> str | None:
    """Why `value` is too weak to be a secret, or None. The estimate is generous to the
    secret (it cannot see a dictionary word or a keyboard walk beyond a few placeholders),
    so what it flags is weak for certain."""
    if len(value) < MIN_LENGTH:
        n = len(value)
        return f"{n} character{'' if n == 1 else 's'} long (at least {MIN_LENGTH} random ones)"
    counts = Counter(value)
    if len(counts) < min(MIN_DISTINCT, len(value) // 4):
        return f"only {len(counts)} different characters"
    lowered = value.lower()
    word = next((w for w in PLACEHOLDERS if w in lowered), None)
    if word is not None:
        return f"it holds the word {word!r}, as a placeholder does"
    bits = -sum(c * math.log2(c / len(value)) for c in counts.values())
    if bits < MIN_BITS:
        return f"about {int(bits)} bits of entropy (at least {MIN_BITS})"
    return None


def as_logged(problem: Problem) -> str:
    """A problem as the service's log says it: a weak secret without why it is weak (its
    length, how few characters it repeats, the placeholder word it holds say something of
    the secret, and logs are often read by more people than the file); `pager check-config`
    says why."""
    if problem.message.startswith("weak secret:"):
        problem = Problem(
            problem.path,
            "weak secret (`pager check-config` says why, and how to make a good one)",
            problem.severity,
        )
    return str(problem)


def weak_secrets(config: Config) -> Iterator[Problem]:
    """API tokens, `auth.link_secret` and `channels.webhook.secret` that are short, repetitive
    or placeholders, and the demo's password hash (warnings that say how to make a good
    one)."""
    found: list[tuple[str, str, str]] = [
        (f"auth.api_tokens[{i}].token", t.token, "anyone who guesses it can use the API")
        for i, t in enumerate(config.auth.api_tokens)
    ]
    if config.auth.link_secret:
        found.append(("auth.link_secret", config.auth.link_secret, "it signs action links"))
    if config.channels.webhook is not None:
        found.append(
            ("channels.webhook.secret", config.channels.webhook.secret, "it signs webhooks")
        )
    for path, value, why in found:
        reason = weakness(value)
        if reason is not None:
            yield Problem(path, f"weak secret: {reason}; {why}: {ADVICE}", "warning")
    for i, user in enumerate(config.users):
        if user.password_hash == DEMO_PASSWORD_HASH:
            yield Problem(
                f"users[{i}].password_hash",
                "the demo's password (demo-password, printed in pager's README): anyone can "
                "sign in as this person; print a hash of your own with `pager hash-password`",
                "warning",
            )
