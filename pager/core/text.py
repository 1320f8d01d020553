"""Control characters out of text: what ingest keeps of a field, and what each transport may
put on its wire.

Alerts come from anywhere, and a NUL or an escape sequence in a title would make the TwiML of
a call ill-formed (Twilio fails the call), write a forged line or move the cursor on a
console, or put a NUL in a mail header. So ingest cleans every string it keeps (`clean_text`,
`clean_json`; one-line fields such as titles with `clean_line`), and each transport makes its
own output safe on top (`xml_text`, `terminal_text`, `header_text`), because a log written
before ingest cleaned, or a configured template, can still carry them.

"Controls" are C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F). Multi-line text keeps
tab and newline (a carriage return becomes a newline); one-line text turns tab, newline and
carriage return into a space.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "clean_json",
    "clean_line",
    "clean_text",
    "header_text",
    "may_hold_controls",
    "terminal_text",
    "xml_text",
]

_TEXT_DROP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_SPACE = re.compile("[\t\n\r\x0b\x0c]+")
_XML_DROP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f]")

# What a JSON body must contain for a string in it to hold a control character: an escape
# (\u0000-\u001f, \u007f-\u009f, \b, \f, \r), a raw DEL, or a raw C1 character in UTF-8
# (raw C0 bytes are not valid inside JSON strings). \n and \t are left out: multi-line text
# keeps them.
_BODY_CONTROLS = re.compile(
    rb"\\u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\\[bfr]|\x7f|\xc2[\x80-\x9f]"
)


def may_hold_controls(body: bytes) -> bool:
    """Whether a JSON body may hold a control character other than tab and newline (a
    quick scan of the bytes, so that clean bodies skip `clean_json`)."""
    # Each form begins with a backslash, DEL or 0xC2: most bodies have none of the three,
    # and `find` tells that with memchr, far faster than the pattern's scan byte by byte
    # (2% of the CPU of an alert storm, callgrind under `scripts/bench ingest`). Not `in`:
    # `bytes in bytes` first tries its operand as a byte value (an int), and each of those
    # failures makes and drops a TypeError with its message (1% of the instructions of an
    # alert that opens an incident, callgrind).
    if body.find(b"\\") < 0 and body.find(b"\x7f") < 0 and body.find(b"\xc2") < 0:
        return False
    return _BODY_CONTROLS.search(body) is not None


def clean_text(value: str) -> str:
    """Multi-line text: controls dropped, tab and newline kept, CR and CRLF become LF."""
    if value.isprintable():
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _TEXT_DROP.sub("", value)


def clean_line(value: str) -> str:
    """One-line text (a title, a label): tab, newline and carriage return become one space,
    other controls are dropped."""
    if value.isprintable():
        return value
    return _TEXT_DROP.sub("", _LINE_SPACE.sub(" ", value))


def clean_json(value: Any) -> Any:
    """`value` (parsed JSON) with every string cleaned by `clean_text`, object keys by
    `clean_line`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_line(k): clean_json(v) for k, v in value.items()}
    return value


def xml_text(value: str) -> str:
    """Only characters XML 1.0 allows (tab, newline, CR, and no U+FFFE/U+FFFF or lone
    surrogates); the XML writer escapes `&`, `<` and `>` itself."""
    return _XML_DROP.sub("", value)


def _escape(m: re.Match[str]) -> str:
    return f"\\x{ord(m.group()):02x}"


def terminal_text(value: str) -> str:
    """For one line of terminal output: every control (newline and escape included) shown
    as `\\xNN`, so that nothing can start a line or move the cursor."""
    return _TERMINAL.sub(_escape, value)


def header_text(value: str) -> str:
    """For a mail header: controls (NUL, CR, LF...) out, whitespace runs as one space."""
    return " ".join(_TEXT_DROP.sub("", _LINE_SPACE.sub(" ", value)).split())
