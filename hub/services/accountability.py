"""Who pulled what, and who did what: the feed read log and the audit trail.

Every read of a feed's objects is recorded (member, key, feed, how many objects, which
sequence numbers, when): that is the government access log, and what lets a submitter see how
many organisations, by kind and sector, pulled each of its objects (hub.services.receipts).
"""

from __future__ import annotations

import csv
import getpass
import io
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, select

from hub.auth.principal import Principal
from hub.errors import NotFound
from hub.services.context import Hub
from hub.stix.timestamps import format_us, now_us
from hub.storage.accountability import AuditEvent, AuditRepository, FeedRead, FeedReadRepository
from hub.storage.collections import CollectionRepository
from hub.storage.tables import members

# --- the read log ------------------------------------------------------------------------------


def runs(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted sequence numbers as inclusive runs: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    result: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if result and seq == result[-1][1] + 1:
            result[-1][1] = seq
        else:
            result.append([seq, seq])
    return result


def record_read(hub: Hub, principal: Principal, feed_id: str, seqs: Sequence[int]) -> None:
    """Log one read of a feed's objects (an empty page is a read too)."""
    spans = runs(seqs)
    read = FeedRead(
        now_us(),
        principal.member_id,
        principal.key_id,
        principal.kind,
        principal.sector,
        feed_id,
        len(seqs),
        spans[0][0] if spans else None,
        spans[-1][1] if spans else None,
        orjson.dumps(spans).decode("utf-8"),
    )
    with hub.db.write() as conn:
        FeedReadRepository(conn).add(read)


READ_LOG_COLUMNS = (
    "time",
    "member_id",
    "member",
    "kind",
    "sector",
    "key_id",
    "feed",
    "objects",
    "first_seq",
    "last_seq",
)


def read_log(
    hub: Hub,
    *,
    kind: str | None = None,
    member_id: str | None = None,
    feed: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """The read log, oldest first (or newest first), for admins (`hub audit reads`, the
    console)."""
    with hub.db.read() as conn:
        aliases = {c.id: c.alias for c in CollectionRepository(conn).list()}
        feed_id = None
        if feed is not None:
            found = CollectionRepository(conn).find(feed)
            if found is None:
                raise NotFound(f"no collection {feed!r}")
            feed_id = found.id
        names = dict(conn.execute(select(members.c.id, members.c.name)).all())
        reads = FeedReadRepository(conn).search(
            kind=kind,
            member_id=member_id,
            feed_id=feed_id,
            since_us=since_us,
            until_us=until_us,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
    return [
        {
            "time": format_us(r.read_us),
            "member_id": r.member_id,
            "member": names.get(r.member_id, ""),
            "kind": r.member_kind,
            "sector": r.member_sector or "",
            "key_id": r.key_id,
            "feed": aliases.get(r.feed_id, r.feed_id),
            "objects": r.object_count,
            "first_seq": r.first_seq,
            "last_seq": r.last_seq,
        }
        for r in reads
    ]


def as_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV with a header; values that a spreadsheet would run as formulas are quoted
    with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- the audit trail ---------------------------------------------------------------------------


def audit(
    hub: Hub,
    action: str,
    *,
    actor: str,
    actor_kind: str,
    member_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    conn: Connection | None = None,
) -> None:
    """Record who did what. Pass `conn` to record it in the same transaction as the act."""
    event = AuditEvent(
        now_us(),
        actor,
        actor_kind,
        member_id,
        action,
        target,
        orjson.dumps(detail).decode("utf-8") if detail else None,
    )
    if conn is not None:
        AuditRepository(conn).add(event)
        return
    with hub.db.write() as own:
        AuditRepository(own).add(event)


def cli_actor() -> str:
    """Who runs a command: `cli:<login>` (`cli` where the login cannot be told)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


AUDIT_COLUMNS = ("time", "actor", "actor_kind", "member_id", "action", "target", "detail")


def audit_trail(
    hub: Hub,
    *,
    action: str | None = None,
    actor: str | None = None,
    member_id: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    with hub.db.read() as conn:
        events = AuditRepository(conn).search(
            action=action,
            actor=actor,
            member_id=member_id,
            since_us=since_us,
            until_us=until_us,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
    return [
        {
            "time": format_us(e.at_us),
            "actor": e.actor,
            "actor_kind": e.actor_kind,
            "member_id": e.member_id,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
        }
        for e in events
    ]
