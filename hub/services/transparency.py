"""The public transparency report: aggregate counts that show what the programme does,
without ever exposing a member, an indicator, or a group smaller than the threshold.

Every figure comes with the number of distinct organisations behind it, and is published only
when that number reaches `transparency.min_group_size` (k). Where one figure of a breakdown is
withheld and the total is published, the next smallest is withheld too, so the hidden one
cannot be found by subtraction. Only counts, sector names (the hub's own vocabulary), TLP
levels, feed aliases and months appear: never a name, id or indicator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from hub.services.context import Hub
from hub.stix.timestamps import format_us, now_us
from hub.storage.collections import CollectionRepository
from hub.storage.tables import feed_reads, members, object_versions, receipts, review_items

DAY_US = 86_400 * 1_000_000
ov = object_versions

# One figure: (label, count, the organisations behind it).
Cell = tuple[str, int, set[str]]


def _month(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m")


def _table(cells: Iterable[Cell], k: int, *, total: bool = True) -> dict[str, Any]:
    """A published breakdown: each row's count if k or more organisations are behind it."""
    rows = sorted(cells, key=lambda cell: cell[0])
    hidden = {label for label, _, orgs in rows if len(orgs) < k}
    everyone: set[str] = set().union(*(orgs for _, _, orgs in rows)) if rows else set()
    publish_total = total and len(everyone) >= k
    shown = [cell for cell in rows if cell[0] not in hidden]
    if publish_total and len(hidden) == 1 and shown:
        # Secondary suppression: the total minus the others would give the hidden one away.
        smallest = min(shown, key=lambda cell: (cell[1], cell[0]))
        hidden.add(smallest[0])
    table: dict[str, Any] = {
        "rows": [
            {
                "label": label,
                "count": None if label in hidden else count,
                "suppressed": label in hidden,
            }
            for label, count, _ in rows
        ]
    }
    if total:
        table["total"] = sum(count for _, count, _ in rows) if publish_total else None
    return table


def report(hub: Hub) -> dict[str, Any]:
    """The report as published at /transparency.json."""
    k = hub.settings.transparency.min_group_size
    with hub.db.read() as conn:
        collections = CollectionRepository(conn).list()
        inbox_ids = [c.id for c in collections if c.kind == "inbox"]
        feeds = {c.id: c.alias for c in collections if c.kind == "feed"}
        sectors = {
            member_id: sector or "unspecified"
            for member_id, sector in conn.execute(select(members.c.id, members.c.sector))
        }
        received = _received(conn, inbox_ids)
        released = _released(conn, feeds)
        redacted = _redacted(conn)
        held = _held(conn)
        reads = _government_reads(conn, k)

    by_month: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    by_sector: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    for day, member_id, count in received:
        month = _month(day)
        total, orgs = by_month[month]
        by_month[month] = (total + count, orgs | {member_id})
        sector = sectors.get(member_id, "unspecified")
        total, orgs = by_sector[sector]
        by_sector[sector] = (total + count, orgs | {member_id})

    return {
        "generated": format_us(now_us()),
        "min_group_size": k,
        "note": (
            "Counts of object versions. A figure is published only when at least "
            f"{k} distinct organisations are behind it; withheld figures read null."
        ),
        "received_by_month": _table(((m, c, o) for m, (c, o) in by_month.items()), k),
        "received_by_sector": _table(((s, c, o) for s, (c, o) in by_sector.items()), k),
        "released_by_feed_and_tlp": _table(released, k),
        "personal_data": {
            "redacted": _table(redacted, k),
            "held_for_review": _table(held, k),
        },
        "government_feed_reads": reads,
    }


def _received(conn: Connection, inbox_ids: list[str]) -> list[tuple[int, str, int]]:
    if not inbox_ids:
        return []
    day = (ov.c.date_added_us // DAY_US).label("day")
    rows = conn.execute(
        select(day, ov.c.submitted_by, func.count())
        .where(ov.c.collection_id.in_(inbox_ids), ov.c.submitted_by.is_not(None))
        .group_by(day, ov.c.submitted_by)
    )
    return [(int(d), str(member), int(count)) for d, member, count in rows]


def _released(conn: Connection, feeds: dict[str, str]) -> list[Cell]:
    cells: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    rows = conn.execute(
        select(receipts.c.feed_id, receipts.c.tlp, receipts.c.member_id, func.count())
        .where(receipts.c.kind == "release")
        .group_by(receipts.c.feed_id, receipts.c.tlp, receipts.c.member_id)
    )
    for feed_id, tlp, member_id, count in rows:
        label = f"{feeds.get(feed_id, 'retired feed')} / TLP:{str(tlp).upper()}"
        total, orgs = cells[label]
        cells[label] = (total + int(count), orgs | {str(member_id)})
    return [(label, count, orgs) for label, (count, orgs) in cells.items()]


def _redacted(conn: Connection) -> list[Cell]:
    rows = conn.execute(
        select(receipts.c.member_id, func.count(func.distinct(receipts.c.object_id)))
        .where(receipts.c.kind == "release", receipts.c.redactions.is_not(None))
        .group_by(receipts.c.member_id)
    )
    members_seen: set[str] = set()
    total = 0
    for member_id, count in rows:
        members_seen.add(str(member_id))
        total += int(count)
    return [("objects redacted", total, members_seen)] if members_seen else []


def _held(conn: Connection) -> list[Cell]:
    cells: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    rows = conn.execute(
        select(review_items.c.state, review_items.c.member_id, func.count()).group_by(
            review_items.c.state, review_items.c.member_id
        )
    )
    for state, member_id, count in rows:
        total, orgs = cells[str(state)]
        cells[str(state)] = (total + int(count), orgs | {str(member_id)})
    return [(label, count, orgs) for label, (count, orgs) in cells.items()]


def _government_reads(conn: Connection, k: int) -> dict[str, Any]:
    """Reads of feeds by government members, by month: reads and objects returned, published
    when enough government organisations are behind them."""
    day = (feed_reads.c.read_us // DAY_US).label("day")
    rows = conn.execute(
        select(day, feed_reads.c.member_id, func.count(), func.sum(feed_reads.c.object_count))
        .where(feed_reads.c.member_kind == "government")
        .group_by(day, feed_reads.c.member_id)
    )
    reads: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    objects: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    for d, member_id, count, returned in rows:
        month = _month(int(d))
        total, orgs = reads[month]
        reads[month] = (total + int(count), orgs | {str(member_id)})
        total, orgs = objects[month]
        objects[month] = (total + int(returned or 0), orgs | {str(member_id)})
    return {
        "reads_by_month": _table(((m, c, o) for m, (c, o) in reads.items()), k),
        "objects_returned_by_month": _table(((m, c, o) for m, (c, o) in objects.items()), k),
    }
