"""What a person means by an SMS reply: `4 K7Q` / `ack K7Q` (acknowledge incident K7Q),
`6 K7Q` / `resolve K7Q`, `5 K7Q` / `escalate K7Q`, the same words without a code (the
sender's most recent page), `4 ALL` / `ack all` (every incident pager has paged the sender
about that is still triggered: the answer to a bundle), and the carrier keywords Twilio
honours: STOP and its synonyms (no more texts), START and its synonyms (texts again), HELP.
`ALL` always means all (an incident whose code happens to be ALL is one of them).

Case, surrounding blanks and a trailing full stop or exclamation mark do not matter; a `#`
before the code is allowed (`ack #K7Q`). Anything else is `unknown`, and the answer explains
the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import SHORT_CODE_ALPHABET

__all__ = ["HELP_TEXT", "OPT_IN", "OPT_OUT", "SmsReply", "parse_reply"]

# Twilio's default opt-out and opt-in keywords (its Advanced Opt-Out lists the same)
OPT_OUT = frozenset(
    {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN = frozenset({"START", "YES", "UNSTOP", "OPTIN"})
HELP = frozenset({"HELP", "INFO"})

VERBS = {
    "4": "acknowledge",
    "ACK": "acknowledge",
    "ACKNOWLEDGE": "acknowledge",
    "6": "resolve",
    "RESOLVE": "resolve",
    "5": "escalate",
    "ESCALATE": "escalate",
}

HELP_TEXT = (
    "pager: reply 4 CODE to acknowledge, 6 CODE to resolve, 5 CODE to escalate "
    "(CODE is the incident's 3-character code), or just ack / resolve for your latest page; "
    "4 ALL acknowledges every incident you were paged about. STOP ends texts, START resumes them."
)

_CODE = re.compile(f"[{SHORT_CODE_ALPHABET}]{{3}}")
MAX_BODY = 200  # characters read; a reply longer than this is not one of ours


@dataclass(frozen=True, slots=True)
class SmsReply:
    """`kind`: action, opt_out, opt_in, help or unknown. For an action, `action` is
    acknowledge, resolve or escalate, and `code` the short code (None: the latest page, or
    with `all`, every incident paged to the sender). For unknown, `problem` says what was not
    understood."""

    kind: str
    action: str | None = None
    code: str | None = None
    problem: str | None = None
    all: bool = False


def _normal(body: str) -> str:
    return " ".join(body[:MAX_BODY].split()).upper().rstrip(".!")


def parse_reply(body: str) -> SmsReply:
    text = _normal(body)
    if text in OPT_OUT:
        return SmsReply("opt_out")
    if text in OPT_IN:
        return SmsReply("opt_in")
    if text in HELP:
        return SmsReply("help")
    words = text.replace("#", " ").split()
    if words and len(words[0]) > 1 and words[0][0].isdigit():  # "4K7Q"
        words[:1] = [words[0][0], words[0][1:]]
    if not 1 <= len(words) <= 2 or words[0] not in VERBS:
        return SmsReply("unknown", problem="pager did not understand your reply.")
    code = words[1] if len(words) == 2 else None
    if code == "ALL":
        if VERBS[words[0]] != "acknowledge":
            return SmsReply("unknown", problem="ALL works with 4 (acknowledge) only.")
        return SmsReply("action", action="acknowledge", all=True)
    if code is not None and not _CODE.fullmatch(code):
        return SmsReply("unknown", problem=f"{code[:10]} is not an incident code.")
    return SmsReply("action", action=VERBS[words[0]], code=code)
