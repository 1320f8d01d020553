"""`pager db migrate` and `pager status`: the PostgreSQL store from the command line.

`db migrate` creates or upgrades pager's tables in the database of `store.dsn` (pager does
the same at every start-up; run it by hand to do it ahead of a rolling upgrade). `status`
prints the cluster as the database sees it: the lease (epoch, holder, age), every pager
process that reported itself lately, the log's end, the snapshots, and the database's own
streaming standbys.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import Any

__all__ = ["add_db"]


def _store_config(args: argparse.Namespace) -> Any:
    from pager.config import load_config

    path = args.config or os.environ.get("PAGER_CONFIG")
    if not path:
        raise SystemExit("pager: --config FILE (or PAGER_CONFIG) naming a postgres store is needed")
    config = load_config(path)
    if config.store.type != "postgres":
        raise SystemExit(f"pager: {path} keeps its log in {config.store.type}, not postgres")
    return config


def cmd_migrate(args: argparse.Namespace) -> int:
    from pager.store.lease import node_name
    from pager.store.pg_schema import connect, describe_dsn, migrate

    config = _store_config(args)
    dsn = str(config.store.dsn)
    with connect(dsn, application_name="pager db migrate") as conn:
        before, after = migrate(conn, by=f"pager db migrate ({node_name(config.store.node_name)})")
    where = describe_dsn(dsn)
    if before == after:
        print(f"{where}: schema is at version {after}, nothing to do")
    else:
        print(f"{where}: schema migrated from version {before} to {after}")
    return 0


def _ago(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s ago"


def cmd_status(args: argparse.Namespace) -> int:
    from pager.store.lease import Lease
    from pager.store.pg_schema import describe_dsn

    config = _store_config(args)
    lease = Lease(str(config.store.dsn), "pager status", config.store.lease_ttl)
    try:
        c = lease.cluster()
    finally:
        lease.close()
    now = c.leader.now

    def since(t: datetime | None) -> str:
        return _ago(None if t is None else (now - t).total_seconds())

    lead = c.leader
    print(f"database   {describe_dsn(str(config.store.dsn))} (schema version {c.schema})")
    if lead.holder is None:
        print(f"lease      never taken (epoch {lead.epoch})")
    else:
        state = (
            "expired"
            if lead.expired
            else f"expires in {(lead.expires_at - now).total_seconds():.1f}s"
        )
        print(
            f"lease      epoch {lead.epoch}, held by {lead.holder}, taken {since(lead.acquired_at)}, "
            f"renewed {since(lead.renewed_at)}, {state}"
        )
    print(f"log        {c.last_seq} records")
    snaps = ", ".join(f"{seq} ({since(at)})" for seq, at in c.snapshots) or "none"
    print(f"snapshots  {snaps}")
    print("nodes")
    if not c.nodes:
        print("  (none has reported)")
    stale = 3 * config.store.lease_ttl.total_seconds()
    for n in c.nodes:
        seen = (now - n.seen_at).total_seconds()
        role = n.role if seen <= stale else f"gone? ({n.role})"
        behind = c.last_seq - n.applied_seq
        print(
            f"  {n.node:<28} {role:<9} epoch {n.epoch if n.epoch is not None else '-':<4} "
            f"applied {n.applied_seq} ({behind} behind)  seen {since(n.seen_at)}  {n.url or ''}"
        )
    print("database standbys")
    if not c.replicas:
        print("  none streaming from this server (or not visible to this role)")
    for r in c.replicas:
        lag = r["replay_lag"]
        print(
            f"  {r['application_name'] or '?':<20} {r['client_addr'] or 'local':<16} {r['state']:<10} "
            f"{r['sync_state']:<6} replay lag {'-' if lag is None else f'{lag:.3f}s'}"
        )
    return 0


def add_db(sub: Any, common: argparse.ArgumentParser) -> None:
    d = sub.add_parser("db", parents=[common], help="the PostgreSQL store's schema")
    dsub = d.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    m = dsub.add_parser(
        "migrate", parents=[common], help="create or upgrade pager's tables in store.dsn"
    )
    m.add_argument("--config", help="configuration file (default: $PAGER_CONFIG)")
    m.set_defaults(func=cmd_migrate)

    s = sub.add_parser(
        "status",
        parents=[common],
        help="the cluster as the database sees it: lease, nodes, log, standbys",
    )
    s.add_argument("--config", help="configuration file (default: $PAGER_CONFIG)")
    s.set_defaults(func=cmd_status)
