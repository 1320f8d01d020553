"""Semantic checks: what a structurally valid configuration can still get wrong.

The models check each object on its own; the checks here see the whole configuration:
duplicate ids, references to ids that do not exist (with a did-you-mean), integration keys
used twice, routing rules that can never match, notification rules that cannot be
delivered. Each check is a function from `Config` to problems, listed in `CHECKS`; adding a
check (schedule gaps, say) is writing one more such function and appending it.
`pager check-config FILE` is pager.config.check_command.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence

from pager.config.check_oncall import personal_delays, schedule_gaps
from pager.config.check_secrets import weak_secrets
from pager.config.models import Config
from pager.config.models_channels import CHANNEL_OF_METHOD
from pager.config.models_reports import SERVICE_CHANNEL
from pager.config.problems import Problem
from pager.config.validation_problems import did_you_mean

__all__ = ["CHECKS", "Check", "check_config", "config_warnings"]

Check = Callable[[Config], Iterable[Problem]]


def check_config(config: Config, checks: Sequence[Check] | None = None) -> list[Problem]:
    """Every semantic problem of `config` (errors and warnings), check by check."""
    return [
        problem for check in (CHECKS if checks is None else checks) for problem in check(config)
    ]


def config_warnings(config: Config) -> list[Problem]:
    """The warnings of a configuration that loaded (it has no errors), as `pager
    check-config` prints them (for the embedded demo; a file's come with its load,
    `load_config_warned`)."""
    return [problem for problem in check_config(config) if not problem.is_error]


def _unknown(noun: str, ident: str, known: Iterable[str]) -> str:
    return f"unknown {noun} {ident!r}{did_you_mean(ident, known)}"


# --- the checks ---------------------------------------------------------------------------


def unique_ids(config: Config) -> Iterator[Problem]:
    """Ids of users, schedules, policies and services are unique within their section."""
    sections: list[tuple[str, str, Sequence[str]]] = [
        ("users", "user", [user.id for user in config.users]),
        ("schedules", "schedule", [schedule.id for schedule in config.schedules]),
        ("escalation_policies", "escalation policy",
         [policy.id for policy in config.escalation_policies]),
        ("services", "service", [service.id for service in config.services]),
    ]  # fmt: skip
    for section, noun, ids in sections:
        first: dict[str, int] = {}
        for index, ident in enumerate(ids):
            if ident in first:
                yield Problem(
                    f"{section}[{index}].id",
                    f"duplicate {noun} id {ident!r} (also {section}[{first[ident]}])",
                )
            else:
                first[ident] = index


def unique_api_tokens(config: Config) -> Iterator[Problem]:
    """API token names and values are unique: a token must say who used it."""
    names: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for index, api_token in enumerate(config.auth.api_tokens):
        path = f"auth.api_tokens[{index}]"
        if api_token.name in names:
            yield Problem(
                f"{path}.name",
                f"duplicate token name {api_token.name!r} (also auth.api_tokens[{names[api_token.name]}])",
            )
        names.setdefault(api_token.name, index)
        if api_token.token in tokens:
            yield Problem(
                f"{path}.token", f"the same token as auth.api_tokens[{tokens[api_token.token]}]"
            )
        tokens.setdefault(api_token.token, index)
        if api_token.role is None:
            yield Problem(
                f"{path}.role",
                f"token {api_token.name!r} has no role, so it is an admin (it can reload, open "
                "maintenance and act as anyone): say role: viewer, responder or admin",
                "warning",
            )
        if api_token.user is not None and config.user(api_token.user) is None:
            yield Problem(
                f"{path}.user", _unknown("user", api_token.user, [u.id for u in config.users])
            )


def references(config: Config) -> Iterator[Problem]:
    """Every id a section names exists: policy targets, service policies, schedule users,
    routing services."""
    users = [user.id for user in config.users]
    schedules = [schedule.id for schedule in config.schedules]
    policies = [policy.id for policy in config.escalation_policies]
    services = [service.id for service in config.services]
    for p, policy in enumerate(config.escalation_policies):
        for lv, level in enumerate(policy.levels):
            for t, target in enumerate(level.targets):
                known = users if target.kind == "user" else schedules
                if target.id not in known:
                    yield Problem(
                        f"escalation_policies[{p}].levels[{lv}].targets[{t}]",
                        _unknown(target.kind, target.id, known),
                    )
    for s, schedule in enumerate(config.schedules):
        for ly, layer in enumerate(schedule.layers):
            for u, user in enumerate(layer.users):
                if user not in users:
                    yield Problem(
                        f"schedules[{s}].layers[{ly}].users[{u}]", _unknown("user", user, users)
                    )
        for o, override in enumerate(schedule.overrides):
            if override.user not in users:
                yield Problem(
                    f"schedules[{s}].overrides[{o}].user", _unknown("user", override.user, users)
                )
    for s, service in enumerate(config.services):
        if service.escalation_policy not in policies:
            yield Problem(
                f"services[{s}].escalation_policy",
                _unknown("escalation policy", service.escalation_policy, policies),
            )
    names: set[str] = set()
    for h, heartbeat in enumerate(config.heartbeats):
        if heartbeat.service not in services:
            yield Problem(
                f"heartbeats[{h}].service", _unknown("service", heartbeat.service, services)
            )
        if heartbeat.name in names:
            yield Problem(f"heartbeats[{h}].name", f"heartbeat {heartbeat.name!r} defined twice")
        names.add(heartbeat.name)
    for r, routing_key in enumerate(config.routing):
        for rl, rule in enumerate(routing_key.rules):
            if rule.service not in services:
                yield Problem(
                    f"routing[{r}].rules[{rl}].service", _unknown("service", rule.service, services)
                )


def unique_integration_keys(config: Config) -> Iterator[Problem]:
    """An integration key leads to one place: one service, or one routing entry.

    The key itself is not printed: it is a credential of the monitoring tool."""
    first: dict[str, str] = {}
    paths = [
        (f"services[{s}].integrations[{i}].key", integration.key)
        for s, service in enumerate(config.services)
        for i, integration in enumerate(service.integrations)
    ] + [(f"routing[{r}].key", routing_key.key) for r, routing_key in enumerate(config.routing)]
    for path, key in paths:
        if key in first:
            yield Problem(path, f"integration key already used at {first[key]}")
        else:
            first[key] = path


def catch_all_last(config: Config) -> Iterator[Problem]:
    """A routing rule without `when` matches every alert, so it can only be the last."""
    for r, routing_key in enumerate(config.routing):
        for rl, rule in enumerate(routing_key.rules[:-1]):
            if rule.when is None:
                yield Problem(
                    f"routing[{r}].rules[{rl}]",
                    "a rule without 'when' matches every alert, so the rules after it "
                    "never match: move it last",
                )


def deliverable_notifications(config: Config) -> Iterator[Problem]:
    """Each notification rule has a contact to use (error) and a configured channel
    (warning: the file may be shared by setups with fewer providers); a user without
    rules notifies nobody (warning)."""
    for u, user in enumerate(config.users):
        if not user.notification_rules:
            yield Problem(
                f"users[{u}].notification_rules",
                f"user {user.id!r} has no notification rules: paging them notifies nobody",
                "warning",
            )
        for n, rule in enumerate(user.notification_rules):
            path = f"users[{u}].notification_rules[{n}].via"
            if not user.contacts.has(rule.via):
                yield Problem(
                    path, f"user {user.id!r} has no {rule.via} contact (contacts.{rule.via})"
                )
            channel = CHANNEL_OF_METHOD[rule.via]
            if channel != "console" and not config.channels.configured(channel):
                yield Problem(
                    path,
                    f"notifications via {rule.via} need the channels.{channel} section, "
                    "which is not configured",
                    "warning",
                )


def chat_channels(config: Config) -> Iterator[Problem]:
    """A service's chat updates need their channel configured (warning)."""
    for s, service in enumerate(config.services):
        if service.chat.slack_channel is not None and config.channels.slack is None:
            yield Problem(
                f"services[{s}].chat.slack_channel",
                "status updates to Slack need the channels.slack section, which is not configured",
                "warning",
            )
        if service.chat.teams is not None and config.channels.teams is None:
            yield Problem(
                f"services[{s}].chat.teams",
                "status updates to Teams need the channels.teams section, which is not configured",
                "warning",
            )


def report_destinations(config: Config) -> Iterator[Problem]:
    """A scheduled report names a service that exists, and goes where a channel is
    configured: Slack needs channels.slack, email channels.email (errors: a report that
    cannot be sent is no report)."""
    services = {s.id: s for s in config.services}
    for r, report in enumerate(config.reports):
        if report.service is not None and report.service not in services:
            yield Problem(f"reports[{r}].service", _unknown("service", report.service, services))
        if report.slack_channel is not None:
            if config.channels.slack is None:
                yield Problem(
                    f"reports[{r}].slack_channel",
                    "a report to Slack needs the channels.slack section, which is not configured",
                )
            svc = services.get(report.service or "")
            if report.slack_channel == SERVICE_CHANNEL and svc and not svc.chat.slack_channel:
                yield Problem(
                    f"reports[{r}].slack_channel",
                    f"service {svc.id!r} has no chat.slack_channel to send the report to",
                )
        if report.email and config.channels.email is None:
            yield Problem(
                f"reports[{r}].email",
                "a report by email needs the channels.email section, which is not configured",
            )


def reachable_links(config: Config) -> Iterator[Problem]:
    """Links in messages must point somewhere other machines can open (warning)."""
    host = urllib.parse.urlsplit(config.server.public_url).hostname
    if host in ("0.0.0.0", "::"):  # noqa: S104 - recognizing the wildcard, not binding it
        yield Problem(
            "server.public_url",
            f"links in messages point at {config.server.public_url}, which other machines "
            "cannot open: set public_url to the address people reach pager at",
            "warning",
        )


CHECKS: list[Check] = [
    unique_ids,
    unique_api_tokens,
    references,
    unique_integration_keys,
    catch_all_last,
    deliverable_notifications,
    chat_channels,
    report_destinations,
    reachable_links,
    schedule_gaps,
    personal_delays,
    weak_secrets,
]
"""The semantic checks `check_config` runs, in order. Append new checks here."""
