"""The wording of every message: built-in Jinja2 templates per channel and part, each
replaceable by the configuration's `templates` section.

Templates are rendered in the configuration's sandboxed environment
(`pager.config.models_channels.template_environment()`, where they were compiled when the
configuration was loaded, so a syntax error never reaches delivery). A template can still
fail when it runs (`{{ incident.nope.deeper }}`, a sandbox refusal): then the built-in
template is used instead and the failure is logged, because a page with default wording
beats no page at 3 a.m. HTML parts are rendered with autoescaping on.

Variables: `incident` (the REST API's JSON view of the incident: people as ids), `service`
and `user` (`{"id", "name"}`; `user` is None for status updates), `acknowledged_by`,
`resolved_by` and `status_by` (who put the incident in its present status), each `{"id",
"name"}` with the person's display name, or None; `kind` (page, status, update,
bundle), `topic` (opened, acknowledged, resolved; None for pages), `links` (action name ->
URL), `alert_links` (`[{"href", "text"}]` from the alerts), `public_url`; and for a bundle
(storm mode: one message about several incidents) `bundle`: `id`, `count`, `services`
(`[{"name", "count"}]`, most first), `incidents` (each `{"id", "number", "short_code",
"title", "severity", "service", "url", "links"}`: the first 100; `unlisted` counts the
rest), `first` (the first `bundling.titles` of them) and `more` (how many are not in
`first`). The bundle's parts (`bundle_text`, `bundle_say`, ...) are replaceable too. A chat
channel's bundle (several incidents' status posts as one) is worded by its own parts
(`slack.channel_bundle_text`, `teams.channel_bundle_title`, `teams.channel_bundle_text`), and
its `bundle` also has `channel` (true), `topics` (`[{topic, count}]`: opened, acknowledged,
resolved), `topics_text` (`opened`, or `9 opened, 3 resolved`) and `triggered`; each
incident its `topic` and `status`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import jinja2

from pager.config.models_channels import Templates, template_environment
from pager.core.model import Incident, Status
from pager.core.views import incident_json

from .base import BUNDLE_LISTED, BundleContent, Message

__all__ = [
    "BUNDLE_DEFAULTS",
    "DEFAULTS",
    "Renderer",
    "alert_links",
    "bundle_context",
    "template_context",
]

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

Status:     {{ incident.status }}{% if status_by %} (by {{ status_by.name }}){% endif %}
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
<tr><td>Status</td><td>{{ incident.status }}{% if status_by %} (by {{ status_by.name }}){% endif %}</td></tr>
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

_SERVICES = (
    "{% for s in bundle.services %}{{ s.count }} {{ s.name }}"
    "{% if not loop.last %}, {% endif %}{% endfor %}"
)
_BUNDLE_EMAIL_TEXT = (
    """{{ bundle.count }} incidents for you: """
    + _SERVICES
    + """
{% if links.acknowledge_all %}
Acknowledge all {{ bundle.count }}: {{ links.acknowledge_all }}
{% endif %}
{% for i in bundle.incidents %}#{{ i.number }} ({{ i.short_code }}) {{ i.severity|upper }} {{ i.title }} ({{ i.service }})
{% if i.links.acknowledge %}  Acknowledge: {{ i.links.acknowledge }}
{% endif %}{% if i.url %}  Open: {{ i.url }}
{% endif %}{% endfor %}{% if bundle.unlisted %}and {{ bundle.unlisted }} more: open pager to see them all.
{% endif %}
--{{ " " }}
pager{% if public_url %} at {{ public_url }}{% endif %}
"""
)
_BUNDLE_EMAIL_HTML = (
    """<!doctype html>
<html><body style="font-family: sans-serif">
<h2>{{ bundle.count }} incidents for you</h2>
<p>"""
    + _SERVICES
    + """</p>
{% if links.acknowledge_all %}<p><a href="{{ links.acknowledge_all }}"><strong>Acknowledge all {{ bundle.count }}</strong></a></p>{% endif %}
<table>
{% for i in bundle.incidents %}<tr><td>#{{ i.number }} ({{ i.short_code }})</td><td>{{ i.severity|upper }}</td>
<td>{% if i.url %}<a href="{{ i.url }}">{{ i.title }}</a>{% else %}{{ i.title }}{% endif %}</td><td>{{ i.service }}</td>
<td>{% if i.links.acknowledge %}<a href="{{ i.links.acknowledge }}">Acknowledge</a>{% endif %}</td></tr>
{% endfor %}</table>
{% if bundle.unlisted %}<p>and {{ bundle.unlisted }} more: open pager to see them all.</p>{% endif %}
<p style="color: #666">pager{% if public_url %} at {{ public_url }}{% endif %}</p>
</body></html>
"""
)

# a chat channel's bundle: "12 incidents opened on Checkout API", "12 incidents on Checkout
# API (10), Payments (2): 9 opened, 3 resolved"
_CHANNEL_SERVICES = (
    "{% for s in bundle.services %}{{ s.name }}"
    "{% if bundle.services|length > 1 %} ({{ s.count }}){% endif %}"
    "{% if not loop.last %}, {% endif %}{% endfor %}"
)
_CHANNEL_SUMMARY = (
    "{% if bundle.topics|length == 1 %} {{ bundle.topics_text }} on "
    + _CHANNEL_SERVICES
    + "{% else %} on "
    + _CHANNEL_SERVICES
    + ": {{ bundle.topics_text }}{% endif %}"
)

BUNDLE_DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "slack": {
        "bundle_text": "*{{ bundle.count }} incidents* for you: " + _SERVICES,
        "channel_bundle_text": "*{{ bundle.count }} incidents*" + _CHANNEL_SUMMARY,
    },
    "sms": {
        "bundle_text": "[pager] {{ bundle.count }} incidents for you ("
        + _SERVICES
        + "): {% for i in bundle.first %}{{ i.title|truncate(40, true, '...') }} "
        "({{ i.short_code }}){% if not loop.last %}; {% endif %}{% endfor %}"
        "{% if bundle.more %}; {{ bundle.more }} more{% endif %}."
        " Reply 4 ALL to ack all, 4 CODE to ack one",
    },
    "voice": {
        "bundle_say": "This is pager. You have {{ bundle.count }} new incidents: "
        "{% for s in bundle.services %}{{ s.count }} on {{ s.name }}"
        "{% if not loop.last %}, {% endif %}{% endfor %}. "
        "The first: {{ bundle.first[0].title }}.",
    },
    "email": {
        "bundle_subject": "[pager] {{ bundle.count }} incidents for you (" + _SERVICES + ")",
        "bundle_text": _BUNDLE_EMAIL_TEXT,
        "bundle_html": _BUNDLE_EMAIL_HTML,
    },
    "teams": {
        "bundle_title": "{{ bundle.count }} incidents for you",
        "bundle_text": _SERVICES,
        "channel_bundle_title": "{{ bundle.count }} incidents"
        "{% if bundle.topics|length == 1 %} {{ bundle.topics_text }}{% endif %}",
        "channel_bundle_text": "{{ bundle.count }} incidents" + _CHANNEL_SUMMARY,
    },
}

HTML_PARTS = frozenset({("email", "html"), ("email", "bundle_html")})


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


def _status_by(inc: Incident) -> str | None:
    """Who put the incident in its status: who resolved it, or acknowledged it (else None)."""
    if inc.status is Status.RESOLVED:
        return inc.resolved_by
    if inc.status is Status.ACKNOWLEDGED:
        return inc.acknowledged_by
    return None


def _person(message: Message, user_id: str | None) -> dict[str, str] | None:
    return None if not user_id else {"id": user_id, "name": message.name_of(user_id)}


def template_context(message: Message) -> dict[str, Any]:
    inc = message.incident
    out = {
        "incident": incident_json(inc),
        "service": {"id": inc.service_id, "name": message.service_name},
        "user": None
        if message.user_id is None
        else {"id": message.user_id, "name": message.user_name or message.user_id},
        "acknowledged_by": _person(message, inc.acknowledged_by),
        "resolved_by": _person(message, inc.resolved_by),
        "status_by": _person(message, _status_by(inc)),
        "kind": message.kind,
        "topic": message.topic,
        "links": dict(message.links),
        "alert_links": alert_links(message),
        "public_url": message.public_url,
    }
    if message.bundle is not None:
        out["bundle"] = bundle_context(message.bundle, message.public_url)
    return out


def bundle_context(bundle: BundleContent, public_url: str = "") -> dict[str, Any]:
    """The `bundle` variable of the templates: every count, and the first BUNDLE_LISTED
    incidents one by one."""
    listed = [
        {
            "id": i.incident.id,
            "number": i.incident.number,
            "short_code": i.incident.short_code,
            "title": i.incident.title,
            "severity": i.incident.severity,
            "service": i.service_name,
            "url": f"{public_url}/incidents/{i.incident.id}" if public_url else "",
            "links": dict(i.links),
            "topic": i.topic,
            "status": i.incident.status.value,
        }
        for i in bundle.items[:BUNDLE_LISTED]
    ]
    first = listed[: bundle.titles]
    return {
        "id": bundle.id,
        "count": bundle.count,
        "services": [{"name": name, "count": n} for name, n in bundle.services()],
        "incidents": listed,
        "unlisted": bundle.count - len(listed),
        "first": first,
        "more": bundle.count - len(first),
        "channel": bundle.channel,
        "topics": [{"topic": topic, "count": n} for topic, n in bundle.topics()],
        "topics_text": bundle.topics_text(),
        "triggered": bundle.triggered,
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
        default = DEFAULTS.get(channel, {}).get(part) or BUNDLE_DEFAULTS[channel][part]
        return _compile(default, html).render(context).strip()
