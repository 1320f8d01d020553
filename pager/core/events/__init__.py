"""The event vocabulary: every fact pager journals, and the registry that maps a log line's
`type` tag back to its class (see _base.py for the codec and who acted). One module per
vocabulary (incidents, delivery, bundles, reach, interactions, heartbeats, schedules,
services), all re-exported here:
`from pager.core.events import X` is the way to name any of them. Importing this package
registers every event, so the registry is the whole vocabulary."""

from ._base import (
    DECODERS,
    EVENT_TYPES,
    NOBODY,
    SCHEMA_VERSION,
    Attributed,
    Attribution,
    Event,
    IncidentEvent,
    decode,
    encode,
    event,
    upgrade,
)
from .bundle import NotificationsBundled
from .delivery import (
    ContactOptedIn,
    ContactOptedOut,
    LinkUsed,
    NotificationCancelled,
    NotificationDelivered,
    NotificationEvent,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
)
from .heartbeat import (
    HeartbeatCreated,
    HeartbeatDeleted,
    HeartbeatEvent,
    HeartbeatExpired,
    HeartbeatFailed,
    HeartbeatPinged,
    HeartbeatRearmed,
)
from .incident import (
    AlertsUpdated,
    IncidentAcknowledged,
    IncidentEdited,
    IncidentEscalated,
    IncidentOpened,
    IncidentResolved,
    IncidentSnoozed,
    IncidentUnacknowledged,
    NoteAdded,
    PagingDeferred,
    UserPaged,
)
from .interaction import InteractionReceived
from .reach import PersonUnreachable
from .schedule import CalendarFeedRevoked, OverrideAdded, OverrideRemoved, ScheduleEvent
from .service import (
    ChangeRecorded,
    ConfigApplied,
    MaintenanceEnded,
    MaintenanceStarted,
    ReportSent,
)

__all__ = [
    "DECODERS",
    "EVENT_TYPES",
    "NOBODY",
    "SCHEMA_VERSION",
    "AlertsUpdated",
    "Attributed",
    "Attribution",
    "CalendarFeedRevoked",
    "ChangeRecorded",
    "ConfigApplied",
    "ContactOptedIn",
    "ContactOptedOut",
    "Event",
    "HeartbeatCreated",
    "HeartbeatDeleted",
    "HeartbeatEvent",
    "HeartbeatExpired",
    "HeartbeatFailed",
    "HeartbeatPinged",
    "HeartbeatRearmed",
    "IncidentAcknowledged",
    "IncidentEdited",
    "IncidentEscalated",
    "IncidentEvent",
    "IncidentOpened",
    "IncidentResolved",
    "IncidentSnoozed",
    "IncidentUnacknowledged",
    "InteractionReceived",
    "LinkUsed",
    "MaintenanceEnded",
    "MaintenanceStarted",
    "NoteAdded",
    "NotificationCancelled",
    "NotificationDelivered",
    "NotificationEvent",
    "NotificationFailed",
    "NotificationRequested",
    "NotificationSent",
    "NotificationsBundled",
    "OverrideAdded",
    "OverrideRemoved",
    "PagingDeferred",
    "PersonUnreachable",
    "ReportSent",
    "ScheduleEvent",
    "UserPaged",
    "decode",
    "encode",
    "event",
    "upgrade",
]
