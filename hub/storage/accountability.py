"""Repositories for the accountability records: feed reads, the audit trail, purges, and the
expiry of released indicators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, delete, insert, select

from hub.storage.tables import audit_events, expiries, feed_reads, purges


@dataclass(frozen=True, slots=True)
class FeedRead:
    read_us: int
    member_id: str
    key_id: str
    member_kind: str
    member_sector: str | None
    feed_id: str
    object_count: int
    first_seq: int | None
    last_seq: int | None
    seqs: str  # JSON [[first, last], ...]


_READ_COLS = [feed_reads.c[name] for name in FeedRead.__slots__]


class FeedReadRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, read: FeedRead) -> None:
        self.conn.execute(
            insert(feed_reads).values(**{name: getattr(read, name) for name in FeedRead.__slots__})
        )

    def covering(self, feed_id: str, low: int, high: int) -> list[FeedRead]:
        """Reads of a feed that returned any sequence number between low and high."""
        rows = self.conn.execute(
            select(*_READ_COLS).where(
                feed_reads.c.feed_id == feed_id,
                feed_reads.c.first_seq <= high,
                feed_reads.c.last_seq >= low,
            )
        )
        return [FeedRead(*row) for row in rows]

    def search(
        self,
        *,
        kind: str | None = None,
        member_id: str | None = None,
        feed_id: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[FeedRead]:
        conditions: list[ColumnElement[bool]] = []
        if kind is not None:
            conditions.append(feed_reads.c.member_kind == kind)
        if member_id is not None:
            conditions.append(feed_reads.c.member_id == member_id)
        if feed_id is not None:
            conditions.append(feed_reads.c.feed_id == feed_id)
        if since_us is not None:
            conditions.append(feed_reads.c.read_us >= since_us)
        if until_us is not None:
            conditions.append(feed_reads.c.read_us < until_us)
        order = feed_reads.c.id.desc() if newest_first else feed_reads.c.id
        query = select(*_READ_COLS).where(*conditions).order_by(order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [FeedRead(*row) for row in self.conn.execute(query)]

    def purge_before(self, cutoff_us: int) -> int:
        return int(
            self.conn.execute(delete(feed_reads).where(feed_reads.c.read_us < cutoff_us)).rowcount
        )


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at_us: int
    actor: str
    actor_kind: str
    member_id: str | None
    action: str
    target: str | None
    detail: str | None


_AUDIT_COLS = [audit_events.c[name] for name in AuditEvent.__slots__]


class AuditRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, event: AuditEvent) -> None:
        self.conn.execute(
            insert(audit_events).values(
                **{name: getattr(event, name) for name in AuditEvent.__slots__}
            )
        )

    def search(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        member_id: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        conditions: list[ColumnElement[bool]] = []
        if action is not None:
            conditions.append(audit_events.c.action.like(action.replace("*", "%")))
        if actor is not None:
            conditions.append(audit_events.c.actor == actor)
        if member_id is not None:
            conditions.append(audit_events.c.member_id == member_id)
        if since_us is not None:
            conditions.append(audit_events.c.at_us >= since_us)
        if until_us is not None:
            conditions.append(audit_events.c.at_us < until_us)
        order = audit_events.c.id.desc() if newest_first else audit_events.c.id
        query = select(*_AUDIT_COLS).where(*conditions).order_by(order).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [AuditEvent(*row) for row in self.conn.execute(query)]

    def purge_before(self, cutoff_us: int) -> int:
        return int(
            self.conn.execute(delete(audit_events).where(audit_events.c.at_us < cutoff_us)).rowcount
        )


@dataclass(frozen=True, slots=True)
class Purge:
    at_us: int
    rule: str
    target: str
    count: int
    detail: str | None


class PurgeRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, purge: Purge) -> None:
        self.conn.execute(
            insert(purges).values(**{name: getattr(purge, name) for name in Purge.__slots__})
        )

    def list(self, limit: int = 1000) -> list[Purge]:
        rows = self.conn.execute(
            select(*[purges.c[name] for name in Purge.__slots__])
            .order_by(purges.c.id.desc())
            .limit(limit)
        )
        return [Purge(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Expiry:
    feed_id: str
    object_id: str
    version_us: int
    expires_us: int


class ExpiryRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, items: Sequence[Expiry]) -> None:
        if items:
            self.conn.execute(
                insert(expiries),
                [{name: getattr(item, name) for name in Expiry.__slots__} for item in items],
            )

    def expired(self, cutoff_us: int, limit: int = 10_000) -> list[Expiry]:
        rows = self.conn.execute(
            select(*[expiries.c[name] for name in Expiry.__slots__])
            .where(expiries.c.expires_us < cutoff_us)
            .order_by(expiries.c.expires_us)
            .limit(limit)
        )
        return [Expiry(*row) for row in rows]

    def remove(self, feed_id: str, object_id: str) -> None:
        self.conn.execute(
            delete(expiries).where(expiries.c.feed_id == feed_id, expiries.c.object_id == object_id)
        )

    def remove_version(self, feed_id: str, object_id: str, version_us: int) -> None:
        self.conn.execute(
            delete(expiries).where(
                expiries.c.feed_id == feed_id,
                expiries.c.object_id == object_id,
                expiries.c.version_us == version_us,
            )
        )
