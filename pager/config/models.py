"""The whole configuration as one frozen model, `Config`, and the small top-level sections.

`Config` is what every other part of pager receives: the validated, immutable form of the
YAML file described in docs/configuration.md. The larger sections live in their own modules
(`models_people`, `models_schedules`, `models_escalation`, `models_services`,
`models_channels`); this module assembles them, holds the sections too small to deserve a
module (server, auth, journal) and re-exports every model class so callers import from one
place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from pager.config.durations import PositiveDuration
from pager.config.fields import (
    ConfigModel,
    HttpUrl,
    Identifier,
    ListenAddress,
    NonEmptyStr,
    OptionalSecret,
    Secret,
    error,
)
from pager.config.models_bundling import Bundling, ThrottleRule, Throttles
from pager.config.models_channels import (
    Channels,
    ChannelSettings,
    ConsoleChannel,
    EmailChannel,
    EmailTemplates,
    SlackChannel,
    SlackTemplates,
    SmsTemplates,
    TeamsChannel,
    TeamsTemplates,
    Templates,
    TwilioChannel,
    VoiceTemplates,
    WebhookChannel,
    WebhookTemplates,
)
from pager.config.models_escalation import EscalationLevel, EscalationPolicy, Target
from pager.config.models_people import Contacts, NotificationRule, Role, User
from pager.config.models_reports import Report
from pager.config.models_schedules import Layer, Override, Restriction, Rotation, Schedule
from pager.config.models_services import (
    BusinessHours,
    ChatUpdates,
    Condition,
    Heartbeat,
    Integration,
    LowUrgency,
    MaintenanceWindow,
    RateLimit,
    RoutingKey,
    RoutingRule,
    Service,
    UrgencyBySeverity,
)

__all__ = [
    "DEFAULT_TOKEN_ROLE",
    "ApiToken",
    "Auth",
    "Bundling",
    "BusinessHours",
    "ByteSize",
    "ChannelSettings",
    "Channels",
    "ChatUpdates",
    "Condition",
    "Config",
    "ConsoleChannel",
    "Contacts",
    "EmailChannel",
    "EmailTemplates",
    "EscalationLevel",
    "EscalationPolicy",
    "Heartbeat",
    "Integration",
    "Journal",
    "Layer",
    "LowUrgency",
    "MaintenanceWindow",
    "NotificationRule",
    "Override",
    "RateLimit",
    "Restriction",
    "Role",
    "Rotation",
    "RoutingKey",
    "RoutingRule",
    "Schedule",
    "Server",
    "Service",
    "SlackChannel",
    "SlackTemplates",
    "SmsTemplates",
    "Store",
    "Target",
    "TeamsChannel",
    "TeamsTemplates",
    "Templates",
    "ThrottleRule",
    "Throttles",
    "TwilioChannel",
    "UrgencyBySeverity",
    "User",
    "VoiceTemplates",
    "WebhookChannel",
    "WebhookTemplates",
    "parse_byte_size",
]

DEFAULT_LISTEN = "127.0.0.1:8080"


def _strip_trailing_slash(url: str) -> str:
    return url.rstrip("/") or url


class Server(ConfigModel):
    """Where pager listens and how it names itself in links.

    `listen` serves everything (API, hooks, websocket, ingest); `ingest_listen`
    is an optional second listener for the ingest paths only. `public_url` is the base of
    links in messages and of Twilio callbacks; it defaults to `http://{listen}` and is kept
    without a trailing slash, so `public_url + "/a/..."` is always right.
    """

    listen: ListenAddress = DEFAULT_LISTEN
    ingest_listen: ListenAddress | None = None
    public_url: Annotated[HttpUrl, AfterValidator(_strip_trailing_slash)] = (
        f"http://{DEFAULT_LISTEN}"
    )
    #: Connections each listener holds at most (fewer when the open-files limit is low).
    max_connections: Annotated[int, Field(ge=1)] = 1000
    #: Descriptors kept free for delivery and the journal, whatever the listeners hold.
    descriptor_reserve: Annotated[int, Field(ge=0)] = 64
    #: A request's head and body must arrive within this long of its first byte.
    read_timeout: PositiveDuration = dt.timedelta(seconds=10)
    #: Serve HTTP/2 cleartext (h2c upgrade, prior knowledge) on `listen`.
    http2: bool = False
    #: `/metrics` asks for one of `auth.api_tokens` (Authorization: Bearer), as the API does.
    metrics_auth: bool = False
    #: Requests with an unknown integration key one client address may make per minute (a
    #: burst of this many); past it, its ingest requests wait (429/503). 0: no limit.
    unknown_key_misses: Annotated[int, Field(ge=0)] = 30

    @model_validator(mode="before")
    @classmethod
    def derive_public_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("public_url") is None:
            listen = data.get("listen", DEFAULT_LISTEN)
            if not isinstance(listen, str) or ":" not in listen:
                listen = DEFAULT_LISTEN  # listen itself is reported; keep this one quiet
            return {**data, "public_url": f"http://{listen}"}
        return data


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or network (CIDR)") from None
    return value


DEFAULT_TOKEN_ROLE: Role = "admin"  # noqa: S105 - a role name, not a secret
"""The role of a token without one: admin, what every token could do before roles existed
(`check-config` warns about each such token)."""


class ApiToken(ConfigModel):
    """A bearer token for `/api/v1` and the stream; `name` says who holds it (audit).

    `role` limits what it may do (default admin, with a check-config warning); `user`, a
    configured user's id, is who its actions are journaled as when the body names nobody."""

    name: NonEmptyStr
    token: Secret
    role: Role | None = None
    user: Identifier | None = None

    @property
    def effective_role(self) -> Role:
        return self.role or DEFAULT_TOKEN_ROLE


class Auth(ConfigModel):
    """Bearer tokens for the API, the secret that signs action links (email, Teams), the
    one calendar feed URLs are derived from (no feeds without it), and the dashboard's
    sign-in settings."""

    api_tokens: tuple[ApiToken, ...] = ()
    link_secret: OptionalSecret = None
    calendar_secret: OptionalSecret = None
    #: A dashboard session ends this long after sign-in.
    session_lifetime: PositiveDuration = dt.timedelta(hours=12)
    #: Failed sign-ins allowed per user (and per address) within `signin_window`.
    signin_attempts: Annotated[int, Field(ge=1)] = 5
    signin_window: PositiveDuration = dt.timedelta(minutes=15)
    #: A header a reverse proxy (oauth2-proxy, ...) sets to the signed-in person's user id
    #: or email, e.g. X-Forwarded-Email; believed only from `trusted_proxies`.
    proxy_header: NonEmptyStr | None = None
    #: Addresses or networks (CIDR) of the proxies whose `proxy_header` is believed.
    trusted_proxies: tuple[Annotated[str, AfterValidator(_network)], ...] = ()

    @model_validator(mode="after")
    def proxies_for_the_header(self) -> Auth:
        if self.proxy_header is not None and not self.trusted_proxies:
            raise ValueError(
                "proxy_header needs trusted_proxies: the addresses of the proxies that set it"
            )
        return self


_BYTE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_BYTE_SIZE = re.compile(r"(\d+)\s*([A-Za-z]*)")


def parse_byte_size(value: Any) -> int:
    """`64MB` (10**6 bytes each), `64MiB` (2**20), `4096` or `4096B`, to a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        amount, unit = value, ""
    elif isinstance(value, str) and (match := _BYTE_SIZE.fullmatch(value.strip())):
        amount, unit = int(match[1]), match[2].lower()
    else:
        unit = "?"
        amount = 0
    if unit not in _BYTE_UNITS:
        raise error("byte_size", f"{value!r} is not a size: use e.g. 64MiB, 500MB or 1GiB")
    size = amount * _BYTE_UNITS[unit]
    if size <= 0:
        raise error("byte_size", "must be larger than 0 bytes")
    return size


ByteSize = Annotated[int, BeforeValidator(parse_byte_size)]
"""A number of bytes, written as an integer or with a unit (KB/MB/GB decimal, KiB/MiB/GiB
binary)."""


class Journal(ConfigModel):
    """Extension: how the event journal in `data_dir` is written.

    A new segment file starts once the current one reaches `segment_size`; a snapshot of
    the state is written every `snapshot_every` events or `snapshot_interval`, whichever
    comes first, so replay at start-up reads at most that much; `fsync: false` trades
    durability on power loss for speed (tests, benchmarks).

    `retention` (e.g. `90d`; unset keeps everything) bounds the folder: segments whose
    records are all older than that and that a snapshot covers are compressed into
    `data_dir/archive/` (`retention_mode: archive`, still read by the incident detail and
    `pager replay`) or removed (`retention_mode: delete`), checked hourly while pager runs.
    """

    segment_size: ByteSize = 64 * 2**20
    snapshot_every: int = Field(default=50_000, ge=1)
    snapshot_interval: PositiveDuration = dt.timedelta(minutes=5)
    fsync: bool = True
    retention: PositiveDuration | None = None
    retention_mode: Literal["archive", "delete"] = "archive"


class Store(ConfigModel):
    """Where the event log lives: `jsonl` (the default), JSON lines in `data_dir` on this
    machine's disk; or `postgres`, a table in a PostgreSQL database that several pager
    processes share: one holds a lease and runs the incident and delivery actors, the others
    stand by and take over when its lease runs out (docs/high-availability.md).

    `dsn` is a libpq connection string or URI, and may name several hosts (a primary and its
    standbys): pager adds `target_session_attrs=read-write` so it always reaches the one that
    takes writes. `lease_ttl` is how long a lease lasts unrenewed: the longest a dead
    active can leave the others waiting. `node_name` names this process in `pager status`
    (default: host name and process id).
    """

    type: Literal["jsonl", "postgres"] = "jsonl"
    dsn: OptionalSecret = None
    lease_ttl: PositiveDuration = dt.timedelta(seconds=10)
    node_name: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> Store:
        if self.type == "postgres" and not self.dsn:
            raise error(
                "store_dsn", "store.type postgres needs store.dsn (a libpq connection string)"
            )
        if self.lease_ttl < dt.timedelta(seconds=1):
            raise error("lease_ttl", "store.lease_ttl must be at least 1s")
        return self


class Config(ConfigModel):
    """The whole configuration (docs/configuration.md); every key has a
    default except inside the objects of the lists.

    Ids are unique and references resolve only once `check_config()` says so; `load_config`
    runs it, so a Config from there is known good.
    """

    server: Server = Server()
    data_dir: Path = Path("./pager-data")
    auth: Auth = Auth()
    users: tuple[User, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    escalation_policies: tuple[EscalationPolicy, ...] = ()
    services: tuple[Service, ...] = ()
    routing: tuple[RoutingKey, ...] = ()
    channels: Channels = Channels()
    templates: Templates = Templates()
    journal: Journal = Journal()
    store: Store = Store()
    bundling: Bundling = Bundling()
    heartbeats: tuple[Heartbeat, ...] = ()
    reports: tuple[Report, ...] = ()  # scheduled on-call reports (models_reports.py)

    def digest(self) -> str:
        """A short sha256 (16 hex digits) of the canonical form, to journal which
        configuration was in force. Equal configurations have equal digests however the
        YAML was written (key order, comments, `1h` or `60m`). Secrets are part of it, so
        a rotated token is a new configuration; only this prefix of the hash is shown."""
        canonical = json.dumps(
            self.model_dump(mode="json", by_alias=True),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def user(self, user_id: str) -> User | None:
        return next((user for user in self.users if user.id == user_id), None)

    def schedule(self, schedule_id: str) -> Schedule | None:
        return next((s for s in self.schedules if s.id == schedule_id), None)

    def escalation_policy(self, policy_id: str) -> EscalationPolicy | None:
        return next((p for p in self.escalation_policies if p.id == policy_id), None)

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)
