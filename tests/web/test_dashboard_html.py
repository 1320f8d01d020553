"""The dashboard's HTML pieces made in Python (pager.web.dashboard_html) escape what they
are given as the templates' autoescape does: a title, a status or a back link cannot open
an element or an attribute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from pager.web.dashboard_html import action, ago, detail, status, when_at

EVIL = '"><script>alert(1)</script><b x="'


class Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_action_escapes_every_value() -> None:
    html = str(action(EVIL, "inc-1", "acknowledge", "Acknowledge", EVIL, "/?q=" + EVIL, EVIL))
    parsed = Tags(html)
    # exactly the elements made here, whatever the values held
    assert [t for t, _ in parsed.tags] == ["form", "input", "button", "span"]
    form, csrf, button, _ = (a for _, a in parsed.tags)
    assert csrf["value"] == EVIL and button["class"] == f"btn {EVIL}"
    # the back link travels percent-encoded in the query
    assert (
        form["action"]
        == "/incidents/inc-1/acknowledge?next=%2F%3Fq%3D%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E%3Cb%20x%3D%22"
    )
    assert "".join(parsed.text) == f"Acknowledge {EVIL}"  # the screen reader's words, as text


def test_status_and_when() -> None:
    assert str(status("<i>")) == '<span class="badge st-&lt;i&gt;">&lt;i&gt;</span>'
    now = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    html = str(when_at(now)(now - timedelta(minutes=5)))
    assert 'datetime="2026-03-02T02:55:00+00:00"' in html and "5 min ago" in html
    assert str(when_at(now)(None)) == ""
    assert ago(now + timedelta(hours=2), now) == "in 2 h"


def test_detail_escapes_keys_and_values_and_never_shows_python() -> None:
    html = str(detail({EVIL: EVIL, "n": [1, None, {"a": EVIL}]}))
    parsed = Tags(html)
    assert [t for t, _ in parsed.tags] == ["dl", "dt", "dd", "dt", "dd"]
    escaped = EVIL.replace('"', '\\"')  # as JSON writes a quote
    assert parsed.text == [EVIL, EVIL, "n", f'[1, null, {{"a": "{escaped}"}}]']
    assert detail("as it is") == "as it is" and detail(True) == "true" and detail({}) == "{}"
    # an http(s) address is a link, as an alert's links are; nothing else is
    assert detail({"runbook_url": "https://r.example/a?b=1&c=2"}) == (
        '<dl class="facts"><dt>runbook_url</dt><dd><a href="https://r.example/a?b=1&amp;c=2" '
        'rel="noopener noreferrer">https://r.example/a?b=1&amp;c=2</a></dd></dl>'
    )
    for not_a_link in ("javascript:alert(1)", " https://x.example", "https://x.example <b>"):
        assert "<a" not in detail(not_a_link) and "<b>" not in detail(not_a_link)
