"""Opening the event log a configuration names: `store.type` `jsonl` (the default, JSON
lines in `data_dir`) or `postgres` (a table in the database at `store.dsn`, shared by
several pager processes). Takes the configuration as `Any`, so the store layer stays free
of the config package."""

from __future__ import annotations

import os
import socket
from typing import Any

from .base import EventLog
from .jsonl import JsonlLog
from .postgres import PostgresLog

__all__ = ["node_name", "open_event_log"]


def node_name(config: Any) -> str:
    """This process's name among the nodes on one database: `store.node_name`, else the
    host name and process id."""
    return str(config.store.node_name or f"{socket.gethostname()}:{os.getpid()}")


def open_event_log(config: Any) -> EventLog:
    store = config.store
    if store.type == "postgres":
        ttl = store.lease_ttl.total_seconds()
        return PostgresLog.open(
            str(store.dsn),
            node=node_name(config),
            poll=min(1.0, ttl / 4),
            settle_timeout=ttl,
        )
    jcfg = config.journal
    return JsonlLog.open(config.data_dir, segment_size=jcfg.segment_size, fsync=jcfg.fsync)
