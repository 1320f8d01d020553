"""The generic webhook, for curl and scripts:
`{"title", "dedup_key"?, "status": "firing"|"resolved", "severity"?, "source"?, "details"?,
"links"?}`.

Without a `dedup_key`, a firing alert's key is derived from its title, so a script that
reports the same problem twice gets one incident, not two; `resolved` needs the key (or the
same title) to find the incident. Severity defaults to `critical`: a script that pages wants
someone woken.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pager.core.commands import ResolveAlert
from pager.core.model import SEVERITIES
from pager.errors import InvalidEvent

from .parsed import ParsedAlert, new_parsed_alert, new_trigger
from .validate import Checker

__all__ = ["parse_generic"]


def parse_generic(body: Any, key: str) -> ParsedAlert:
    c = Checker()
    msg = c.obj(body, "body")
    if msg is None:
        raise InvalidEvent(["body: must be a JSON object"])
    title = c.string(msg, "title", "", required=True, max_len=1024, line=True)
    dedup = c.string(msg, "dedup_key", "", max_len=255)
    status = c.string(msg, "status", "", choices=("firing", "resolved")) or "firing"
    severity = c.string(msg, "severity", "", choices=SEVERITIES) or "critical"
    source = c.string(msg, "source", "", max_len=255, line=True)
    links = []
    for i, link in enumerate(c.array(msg, "links", "")):
        if isinstance(link, str):
            links.append({"href": link})
        else:
            o = c.obj(link, f"links[{i}]")
            if o is not None and c.string(o, "href", f"links[{i}]", required=True):
                links.append({k: o[k] for k in ("href", "text") if k in o})
    c.done()
    assert title is not None
    generated = dedup is None
    dedup_key = dedup or "title-" + hashlib.sha256(title.encode()).hexdigest()[:20]
    details = msg.get("details")
    view = {
        "title": title,
        "summary": title,
        "severity": severity,
        "source": source,
        "details": details,
    }
    command: Any
    if status == "firing":
        command = new_trigger(
            key=dedup_key,
            summary=title,
            severity=severity,
            source=source,
            details=details,
            links=tuple(links) or None,
        )
    else:
        command = ResolveAlert(key=dedup_key, via="generic")
    return new_parsed_alert(
        integration="generic",
        key=key,
        dedup_key=dedup_key,
        command=command,
        opens=status == "firing",
        view=view,
        generated_key=generated,
    )
