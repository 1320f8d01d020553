"""The wording of every message: built-in Jinja2 templates per channel and part, each
replaceable by the configuration's `templates` section.

Templates are rendered in the configuration's sandboxed environment
(`pager.config.models_channels.template_environment()`, where they were compiled when the
configuration was loaded, so a syntax error never reaches delivery). A template can still
fail when it runs (`{{ incident.nope.deeper }}`, a sandbox refusal): then the built-in
template is used instead and the failure is logged, because a page with default wording
beats no page at 3 a.m. HTML parts are rendered with autoescaping on.

Variables: `incident` (the REST API's JSON view of the incident), `service` and `user`
(`{"id", "name"}`; `user` is None for status updates), `kind` (page, status, update),
`topic` (opened, acknowledged, resolved; None for pages), `links` (action name -> URL),
`alert_links` (`[{"href", "text"}]` from the alerts), `public_url`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import jinja2

from pager.config.models_channels import Templates, template_environment
from pager.core.views import incident_json

from .base import Message

__all__ = ["DEFAULTS", "Renderer", "alert_links", "template_context"]

log = logging.getLogger("pager.templates")

_LINKS_TEXT = """{% if links %}
Actions:
{% for name, url in links.items() %}  {{ name|capitalize }}: {{ url }}
{% endfor %}{% endif %}{% if alert_links %}
Links:
{% for l in alert_links %}  {{ l.text }}: {{ l.href }}
{% endfor %}{% endif %}"""

_EMAIL_TEXT = (
    """{{ incident.severity|upper }} incident #{{ incident.number }} on {{ service.name }}"""
    """{% if topic %}: {{ topic }}{% endif %}

{{ incident.title }}

Status:     {{ incident.status }}{% if incident.acknowledged_by %} (by {{ incident.acknowledged_by }}){% endif %}
Severity:   {{ incident.severity }}
Service:    {{ service.name }}
Incident:   #{{ incident.number }} ({{ incident.id }}), short code {{ incident.short_code }}
Opened:     {{ incident.created_at }}
"""
    + _LINKS_TEXT
    + """
--{{ " " }}
pager{% if public_url %} at {{ public_url }}{% endif %}
"""
)

_EMAIL_HTML = """<!doctype html>
<html><body style="font-family: sans-serif">
<p><strong>{{ incident.severity|upper }}</strong> incident #{{ incident.number }} on
{{ service.name }}{% if topic %}: {{ topic }}{% endif %}</p>
<h2>{{ incident.title }}</h2>
<table>
<tr><td>Status</td><td>{{ incident.status }}{% if incident.acknowledged_by %} (by {{ incident.acknowledged_by }}){% endif %}</td></tr>
<tr><td>Severity</td><td>{{ incident.severity }}</td></tr>
<tr><td>Service</td><td>{{ service.name }}</td></tr>
<tr><td>Incident</td><td>#{{ incident.number }} ({{ incident.id }}), short code {{ incident.short_code }}</td></tr>
<tr><td>Opened</td><td>{{ incident.created_at }}</td></tr>
</table>
{% if links %}<p>{% for name, url in links.items() %}<a href="{{ url }}">{{ name|capitalize }}</a>{% if not loop.last %} &middot; {% endif %}{% endfor %}</p>{% endif %}
{% if alert_links %}<ul>{% for l in alert_links %}<li><a href="{{ l.href }}">{{ l.text }}</a></li>{% endfor %}</ul>{% endif %}
<p style="color: #666">pager{% if public_url %} at {{ public_url }}{% endif %}</p>
</body></html>
"""

DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "slack": {
        "text": "*{{ incident.severity|upper }}* incident #{{ incident.number }} on "
        "{{ service.name|mrkdwn }}: {{ incident.title|mrkdwn }}"
        "{% if topic %} ({{ topic }}){% endif %}",
    },
    "sms": {
        "text": "[pager] {{ incident.severity|upper }} {{ incident.title }} ({{ service.name }})."
        " Reply 4 {{ incident.short_code }} to ack, 6 {{ incident.short_code }} to resolve",
    },
    "voice": {
        "say": "This is pager. {{ incident.severity }} incident number {{ incident.number }} "
        "on {{ service.name }}: {{ incident.title }}.",
    },
    "email": {
        "subject": "[pager] #{{ incident.number }} {{ incident.title }} ({{ service.name }})",
        "text": _EMAIL_TEXT,
        "html": _EMAIL_HTML,
    },
    "teams": {
        "title": "{{ incident.severity|upper }}: {{ incident.title }}",
        "text": "Incident #{{ incident.number }} on {{ service.name }} is {{ incident.status }}"
        "{% if topic %} ({{ topic }}){% endif %}.",
    },
}

HTML_PARTS = frozenset({("email", "html")})


@functools.lru_cache(maxsize=256)
def _compile(source: str, html: bool) -> jinja2.Template:
    if html:
        source = "{% autoescape true %}" + source + "{% endautoescape %}"
    return template_environment().from_string(source)


def alert_links(message: Message) -> list[dict[str, str]]:
    """The http(s) links the incident's alerts carry (PagerDuty `links`), deduplicated."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for alert in message.incident.alerts.values():
        for link in alert.links:
            if not isinstance(link, Mapping):
                continue
            href = link.get("href")
            if (
                isinstance(href, str)
                and href.startswith(("http://", "https://"))
                and href not in seen
            ):
                seen.add(href)
                out.append({"href": href, "text": str(link.get("text") or href)})
    return out


def template_context(message: Message) -> dict[str, Any]:
    inc = message.incident
    return {
        "incident": incident_json(inc),
        "service": {"id": inc.service_id, "name": message.service_name},
        "user": None
        if message.user_id is None
        else {"id": message.user_id, "name": message.user_name or message.user_id},
        "kind": message.kind,
        "topic": message.topic,
        "links": dict(message.links),
        "alert_links": alert_links(message),
        "public_url": message.public_url,
    }


class Renderer:
    """Renders (channel, part) with the configured template, or the built-in one."""

    def __init__(self, templates: Templates | None = None) -> None:
        self.templates = templates or Templates()

    def custom(self, channel: str, part: str) -> str | None:
        section = getattr(self.templates, channel, None)
        source = getattr(section, part, None)
        return source if isinstance(source, str) else None

    def render(self, channel: str, part: str, context: Mapping[str, Any]) -> str:
        html = (channel, part) in HTML_PARTS
        source = self.custom(channel, part)
        if source is not None:
            try:
                return _compile(source, html).render(context).strip()
            except Exception as e:  # any failure of a configured template: use the default
                log.error(
                    "templates.%s.%s failed (%s: %s); the built-in template is used instead",
                    channel,
                    part,
                    type(e).__name__,
                    e,
                )
        return _compile(DEFAULTS[channel][part], html).render(context).strip()
