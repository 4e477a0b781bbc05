"""Read-only queries behind the console's pages: a member's activity, the dashboard's counts
and the object browser's search. Nothing here writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, exists, func, or_, select

from hub.storage.tables import (
    collections,
    feed_reads,
    members,
    object_versions,
    receipts,
    statuses,
    submissions,
)

DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    id: str
    member_id: str
    collection_alias: str
    channel: str
    content_type: str
    received_us: int
    size: int
    state: str
    status_id: str
    total: int
    success: int
    failure: int
    pending: int


@dataclass(frozen=True, slots=True)
class ReadSummary:
    feed_alias: str
    reads: int
    objects: int
    last_read_us: int


@dataclass(frozen=True, slots=True)
class VersionRow:
    collection_id: str
    collection_alias: str
    collection_kind: str
    seq: int
    object_id: str
    type: str
    version_us: int
    version_text: str | None
    date_added_us: int
    submitted_by: str | None
    body: str


class ReportRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- a member's activity ---------------------------------------------------------------

    def submissions(
        self, *, member_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SubmissionRow]:
        """Submissions, newest first, with their status counts."""
        query = (
            select(
                submissions.c.id,
                submissions.c.member_id,
                collections.c.alias,
                submissions.c.channel,
                submissions.c.content_type,
                submissions.c.received_us,
                submissions.c.size,
                submissions.c.state,
                submissions.c.status_id,
                statuses.c.total_count,
                statuses.c.success_count,
                statuses.c.failure_count,
                statuses.c.pending_count,
            )
            .join(statuses, statuses.c.id == submissions.c.status_id)
            .join(collections, collections.c.id == submissions.c.collection_id)
            .order_by(submissions.c.received_us.desc(), submissions.c.id)
            .limit(limit)
            .offset(offset)
        )
        if member_id is not None:
            query = query.where(submissions.c.member_id == member_id)
        return [SubmissionRow(*list(row)) for row in self.conn.execute(query)]

    def reads_by_feed(self, member_id: str) -> list[ReadSummary]:
        """What a member pulled: per feed, how many reads, objects, and the last read."""
        query = (
            select(
                collections.c.alias,
                func.count(),
                func.coalesce(func.sum(feed_reads.c.object_count), 0),
                func.max(feed_reads.c.read_us),
            )
            .join(collections, collections.c.id == feed_reads.c.feed_id)
            .where(feed_reads.c.member_id == member_id)
            .group_by(collections.c.alias)
            .order_by(collections.c.alias)
        )
        return [
            ReadSummary(str(a), int(n), int(o), int(t)) for a, n, o, t in self.conn.execute(query)
        ]

    def readers_by_feed(self, since_us: int) -> dict[str, list[tuple[str, str, int, int]]]:
        """Per feed alias: (member name, kind, reads, last read) of who read it since then."""
        query = (
            select(
                collections.c.alias,
                members.c.name,
                feed_reads.c.member_kind,
                func.count(),
                func.max(feed_reads.c.read_us),
            )
            .join(collections, collections.c.id == feed_reads.c.feed_id)
            .join(members, members.c.id == feed_reads.c.member_id)
            .where(feed_reads.c.read_us >= since_us)
            .group_by(collections.c.alias, members.c.name, feed_reads.c.member_kind)
            .order_by(collections.c.alias, members.c.name)
        )
        result: dict[str, list[tuple[str, str, int, int]]] = {}
        for alias, name, kind, count, last in self.conn.execute(query):
            result.setdefault(str(alias), []).append((str(name), str(kind), int(count), int(last)))
        return result

    # --- the dashboard -------------------------------------------------------------------------

    def submissions_per_day(self, since_us: int) -> dict[int, int]:
        day = (submissions.c.received_us // DAY_US).label("day")
        query = select(day, func.count()).where(submissions.c.received_us >= since_us).group_by(day)
        return {int(d): int(n) for d, n in self.conn.execute(query)}

    def versions_per_day(self, collection_id: str, since_us: int) -> dict[int, int]:
        ov = object_versions
        day = (ov.c.date_added_us // DAY_US).label("day")
        query = (
            select(day, func.count())
            .where(ov.c.collection_id == collection_id, ov.c.date_added_us >= since_us)
            .group_by(day)
        )
        return {int(d): int(n) for d, n in self.conn.execute(query)}

    def releases_by_tlp(self, since_us: int) -> dict[str, int]:
        query = (
            select(receipts.c.tlp, func.count())
            .where(receipts.c.kind == "release", receipts.c.released_us >= since_us)
            .group_by(receipts.c.tlp)
        )
        return {str(t): int(n) for t, n in self.conn.execute(query)}

    def submissions_by_sector(self, since_us: int) -> dict[str, int]:
        sector = func.coalesce(members.c.sector, "").label("sector")
        query = (
            select(sector, func.count())
            .join(members, members.c.id == submissions.c.member_id)
            .where(submissions.c.received_us >= since_us)
            .group_by(sector)
        )
        return {str(s) or "(none)": int(n) for s, n in self.conn.execute(query)}

    def versions_per_collection(self) -> dict[str, int]:
        query = select(object_versions.c.collection_id, func.count()).group_by(
            object_versions.c.collection_id
        )
        return {str(c): int(n) for c, n in self.conn.execute(query)}

    def pending_submissions(self) -> tuple[int, int | None]:
        """How many submissions wait to be processed, and since when the oldest waits."""
        row = self.conn.execute(
            select(func.count(), func.min(submissions.c.received_us)).where(
                submissions.c.state == "pending"
            )
        ).one()
        return int(row[0]), (int(row[1]) if row[1] is not None else None)

    def last_finished_us(self) -> int | None:
        value = self.conn.execute(select(func.max(submissions.c.finished_us))).scalar()
        return int(value) if value is not None else None

    # --- the object browser --------------------------------------------------------------------

    def search_versions(
        self,
        *,
        collection_ids: Sequence[str],
        text: str | None = None,
        type_: str | None = None,
        tlp: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        submitted_by: str | None = None,
        latest_only: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> list[VersionRow]:
        """Stored versions, newest first, whose JSON contains `text` (an indicator value, a
        name, an id), of a type, released at a TLP, added in a date range."""
        ov = object_versions
        conditions: list[ColumnElement[bool]] = [ov.c.collection_id.in_(list(collection_ids))]
        if text:
            needle = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(ov.c.body.like(f"%{needle}%", escape="\\"))
        if type_:
            conditions.append(ov.c.type == type_)
        if since_us is not None:
            conditions.append(ov.c.date_added_us >= since_us)
        if until_us is not None:
            conditions.append(ov.c.date_added_us < until_us)
        if submitted_by is not None:
            conditions.append(ov.c.submitted_by == submitted_by)
        if latest_only:
            conditions.append(ov.c.is_latest.is_(True))
        if tlp:
            conditions.append(
                exists().where(
                    receipts.c.object_id == ov.c.object_id,
                    receipts.c.version_us == ov.c.version_us,
                    receipts.c.tlp == tlp,
                )
            )
        query = (
            select(*_VERSION_COLS)
            .join(collections, collections.c.id == ov.c.collection_id)
            .where(and_(*conditions))
            .order_by(ov.c.date_added_us.desc(), ov.c.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        return [VersionRow(*list(row)) for row in self.conn.execute(query)]

    def versions_of(self, object_id: str, collection_ids: Sequence[str]) -> list[VersionRow]:
        """Every stored version of one object in these collections, oldest first."""
        ov = object_versions
        query = (
            select(*_VERSION_COLS)
            .join(collections, collections.c.id == ov.c.collection_id)
            .where(ov.c.object_id == object_id, ov.c.collection_id.in_(list(collection_ids)))
            .order_by(collections.c.alias, ov.c.version_us, ov.c.seq)
        )
        return [VersionRow(*list(row)) for row in self.conn.execute(query)]

    def object_submitters(self, object_ids: Sequence[str]) -> dict[str, str]:
        """Who submitted each object (its first inbox version)."""
        if not object_ids:
            return {}
        ov = object_versions
        query = (
            select(ov.c.object_id, ov.c.submitted_by)
            .join(collections, collections.c.id == ov.c.collection_id)
            .where(
                ov.c.object_id.in_(list(object_ids)),
                collections.c.kind == "inbox",
                ov.c.is_first.is_(True),
                or_(ov.c.submitted_by.is_not(None)),
            )
        )
        return {str(o): str(m) for o, m in self.conn.execute(query)}

    # --- receipts ----------------------------------------------------------------------------

    def feed_seqs(self, keys: Sequence[tuple[str, str, int]]) -> dict[tuple[str, str, int], int]:
        """The sequence number of each (feed id, object id, version) still in its feed."""
        ov = object_versions
        found: dict[tuple[str, str, int], int] = {}
        for start in range(0, len(keys), 300):
            part = keys[start : start + 300]
            rows = self.conn.execute(
                select(ov.c.collection_id, ov.c.object_id, ov.c.version_us, ov.c.seq).where(
                    or_(
                        *(
                            and_(
                                ov.c.collection_id == feed_id,
                                ov.c.object_id == object_id,
                                ov.c.version_us == version_us,
                            )
                            for feed_id, object_id, version_us in part
                        )
                    )
                )
            )
            for feed_id, object_id, version_us, seq in rows:
                found[(str(feed_id), str(object_id), int(version_us))] = int(seq)
        return found


_VERSION_COLS = [
    object_versions.c.collection_id,
    collections.c.alias,
    collections.c.kind,
    object_versions.c.seq,
    object_versions.c.object_id,
    object_versions.c.type,
    object_versions.c.version_us,
    object_versions.c.version_text,
    object_versions.c.date_added_us,
    object_versions.c.submitted_by,
    object_versions.c.body,
]
