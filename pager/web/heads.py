"""The raw bytes of a request head, checked before h11 reads them, on both listeners.

h11 follows RFC 9112's leniencies: it unfolds obs-fold continuation lines (§5.2) and takes a
bare LF as a line end (§2.2). A proxy in front of pager may read the same bytes otherwise
(another header, another end of the head), which is how requests get smuggled; pager takes
the other option the RFC gives and refuses them with 400."""

from __future__ import annotations

__all__ = ["head_problem"]


def head_problem(buf: bytes) -> str | None:
    """What is wrong with the head at the start of `buf` (what has arrived of it, maybe with
    a body after it), or None."""
    start = 0
    while buf.startswith(b"\r\n", start):  # empty lines before a request line are ignored
        start += 2
    ends = [i for i in (buf.find(b"\n\r\n", start), buf.find(b"\n\n", start)) if i >= 0]
    head = buf[start : min(ends) + 1] if ends else buf[start:]
    if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        return "a line of the request head ends without CRLF"
    if b"\r\n " in head or b"\r\n\t" in head:
        return "a header is folded onto a second line (obs-fold)"
    return None
