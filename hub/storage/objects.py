"""Repository for stored object versions: the only thing TAXII reads.

Each collection hands out a sequence number per stored version, under a lock on the collection
row, so sequence order is commit order and date_added order. Pages are keyset range scans over
(collection, seq): no counting or sorting of the whole collection, and a client paging while
others write never skips or repeats a version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    any_,
    bindparam,
    delete,
    func,
    select,
    true,
    update,
)

from hub.stix.timestamps import now_us
from hub.storage.bulk import insert_rows
from hub.storage.filters import (
    ANY_VERSION,
    FIRST_ADDED_AFTER,
    ROW_COLS,
    Filters,
    ObjectQuery,
    page_statement,
)
from hub.storage.tables import collections, object_versions

__all__ = ["BodyPage", "NewVersion", "ObjectQuery", "ObjectRepository", "Page", "Row"]

ov = object_versions
_IN_CHUNK = 500  # keeps IN lists well under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class NewVersion:
    """One object version to store; version_us is None for objects without a version."""

    object_id: str
    type: str
    spec_version: str
    version_us: int | None
    version_text: str | None
    body: str


@dataclass(frozen=True, slots=True)
class StoredOutcome:
    stored: bool  # False: that version was already there (a harmless duplicate)
    date_added_us: int


class Row(Protocol):
    """One stored version's metadata as read back: a database row, used as is (no copy per
    row). Bodies are read as bytes, apart, by `ObjectRepository.bodies`."""

    seq: int
    object_id: str
    type: str
    spec_version: str
    version_us: int
    version_text: str | None
    date_added_us: int


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    more: bool = False


@dataclass(frozen=True, slots=True)
class BodyPage:
    """A page of stored objects, in seq (= date_added) order, as the UTF-8 JSON of each: ready
    to be spliced into an envelope. The positions are those of the first and last object."""

    bodies: list[bytes] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    more: bool = False
    first_added_us: int = 0
    last_added_us: int = 0

    @property
    def last_seq(self) -> int:
        return self.seqs[-1]


@dataclass
class _ObjectState:
    versions: set[int] = field(default_factory=set)
    # (version_us, seq) of the latest and the first version, and whether that row is new
    latest: tuple[int, int] | None = None
    first: tuple[int, int] | None = None


_INSERT_COLUMNS = (
    "collection_id",
    "seq",
    "object_id",
    "type",
    "spec_version",
    "version_us",
    "version_text",
    "date_added_us",
    "is_latest",
    "is_first",
    "submitted_by",
    "body",
)
_FLAG_POSITION = {"is_latest": 8, "is_first": 9}


def _one_of(conn: Connection, column: ColumnElement[str], values: list[str]) -> ColumnElement[bool]:
    """column IN values; on PostgreSQL `= ANY(array)`: one parameter whatever the count, so
    one statement text, planned more cheaply than an IN list of hundreds of parameters."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    return column.in_(values)


class ObjectRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- writing -------------------------------------------------------------------------

    def add(
        self, collection_id: str, items: Sequence[NewVersion], submitted_by: str | None
    ) -> list[StoredOutcome]:
        """Store each version not already stored; must run inside Database.write()."""
        next_seq, last_added = self._lock(collection_id)
        states = self._states(collection_id, {item.object_id for item in items})
        outcomes: list[StoredOutcome] = []
        new_rows: list[list[object]] = []  # in _INSERT_COLUMNS order
        flag_changes: dict[int, dict[str, bool]] = {}
        clock = now_us()
        for item in items:
            state = states.get(item.object_id)
            # The common case: no version stored, none earlier in this chunk; the row is the
            # object's first and latest, and no other row's flags change.
            fresh = state is None
            if state is None:
                state = states[item.object_id] = _ObjectState()
            elif item.version_us is None and state.versions:
                outcomes.append(StoredOutcome(False, 0))  # unversioned: stored once, ever
                continue
            elif item.version_us is not None and item.version_us in state.versions:
                outcomes.append(StoredOutcome(False, 0))
                continue
            last_added = max(clock, last_added + 1)  # strictly increasing per collection
            seq = next_seq
            next_seq += 1
            version_us = last_added if item.version_us is None else item.version_us
            state.versions.add(version_us)
            new_rows.append(
                [
                    collection_id,
                    seq,
                    item.object_id,
                    item.type,
                    item.spec_version,
                    version_us,
                    item.version_text,
                    last_added,
                    fresh,
                    fresh,
                    submitted_by,
                    item.body,
                ]
            )
            if fresh:
                state.latest = state.first = (version_us, seq)
            else:
                if state.latest is None or version_us > state.latest[0]:
                    if state.latest is not None:
                        flag_changes.setdefault(state.latest[1], {})["is_latest"] = False
                    state.latest = (version_us, seq)
                    flag_changes.setdefault(seq, {})["is_latest"] = True
                if state.first is None or version_us < state.first[0]:
                    if state.first is not None:
                        flag_changes.setdefault(state.first[1], {})["is_first"] = False
                    state.first = (version_us, seq)
                    flag_changes.setdefault(seq, {})["is_first"] = True
            outcomes.append(StoredOutcome(True, last_added))
        if new_rows:
            first_new = new_rows[0][1]
            assert isinstance(first_new, int)
            existing_changes: list[dict[str, object]] = []
            for seq, changes in flag_changes.items():
                if seq >= first_new:
                    row = new_rows[seq - first_new]
                    for flag, value in changes.items():
                        row[_FLAG_POSITION[flag]] = value
                else:
                    existing_changes.append({"k_seq": seq, **changes})
            self._insert(new_rows)
            self._apply_flags(collection_id, existing_changes)
            self.conn.execute(
                update(collections)
                .where(collections.c.id == collection_id)
                .values(next_seq=next_seq, last_added_us=last_added)
            )
        return outcomes

    def delete(
        self,
        collection_id: str,
        object_id: str,
        query: ObjectQuery,
        submitted_by: str | None,
    ) -> int:
        """Delete the versions of one object that match `query` (and, if given, were submitted
        by `submitted_by`); return how many. Must run inside Database.write()."""
        self._lock(collection_id)
        where, values = self._versions_of(collection_id, object_id, query, submitted_by)
        removed = self.conn.execute(delete(ov).where(*where), values).rowcount
        if removed:
            self._refresh_flags(collection_id, object_id)
        return int(removed)

    def matching_versions(
        self, collection_id: str, object_id: str, query: ObjectQuery, submitted_by: str | None
    ) -> list[int]:
        """The version_us of the versions `delete` with the same arguments would remove."""
        where, values = self._versions_of(collection_id, object_id, query, submitted_by)
        found = self.conn.execute(select(ov.c.version_us).where(*where), values).scalars()
        return [int(v) for v in found]

    @staticmethod
    def _versions_of(
        collection_id: str, object_id: str, query: ObjectQuery, submitted_by: str | None
    ) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
        """The conditions (and their bound values) of one object's versions that match the
        version filters of `query`, and were submitted by `submitted_by` if given."""
        filters = Filters(versions=Filters.of(query).versions)
        where = [ov.c.collection_id == collection_id, ov.c.object_id == object_id]
        where += filters.conditions()
        if submitted_by is not None:
            where.append(ov.c.submitted_by == submitted_by)
        return where, filters.values(query)

    def _lock(self, collection_id: str) -> tuple[int, int]:
        row = self.conn.execute(
            select(collections.c.next_seq, collections.c.last_added_us)
            .where(collections.c.id == collection_id)
            .with_for_update()
        ).one()
        return int(row[0]), int(row[1])

    def _insert(self, rows: list[list[object]]) -> None:
        """New object_versions rows (in _INSERT_COLUMNS order)."""
        insert_rows(self.conn, ov, _INSERT_COLUMNS, rows)

    def _states(self, collection_id: str, object_ids: Iterable[str]) -> dict[str, _ObjectState]:
        states: dict[str, _ObjectState] = {}
        ids = list(object_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            query = select(
                ov.c.object_id, ov.c.version_us, ov.c.seq, ov.c.is_latest, ov.c.is_first
            ).where(ov.c.collection_id == collection_id, _one_of(self.conn, ov.c.object_id, chunk))
            for object_id, version_us, seq, is_latest, is_first in self.conn.execute(query):
                state = states.setdefault(object_id, _ObjectState())
                state.versions.add(version_us)
                if is_latest:
                    state.latest = (version_us, seq)
                if is_first:
                    state.first = (version_us, seq)
        return states

    def _apply_flags(self, collection_id: str, changes: list[dict[str, object]]) -> None:
        for flag in ("is_latest", "is_first"):
            batch = [{"k_seq": c["k_seq"], "v": c[flag]} for c in changes if flag in c]
            if batch:
                self.conn.execute(
                    update(ov)
                    .where(ov.c.collection_id == collection_id, ov.c.seq == bindparam("k_seq"))
                    .values({flag: bindparam("v")}),
                    batch,
                )

    def delete_added_before(self, collection_id: str, cutoff_us: int) -> int:
        """Delete every version added to a collection before `cutoff_us` (retention); the
        versions that remain keep their sequence numbers. Must run inside Database.write()."""
        self._lock(collection_id)
        old = (ov.c.collection_id == collection_id, ov.c.date_added_us < cutoff_us)
        touched = list(self.conn.execute(select(ov.c.object_id).where(*old).distinct()).scalars())
        removed = int(self.conn.execute(delete(ov).where(*old)).rowcount)
        for object_id in touched:
            self._refresh_flags(collection_id, object_id)
        return removed

    def _refresh_flags(self, collection_id: str, object_id: str) -> None:
        rows = self.conn.execute(
            select(ov.c.seq, ov.c.version_us)
            .where(ov.c.collection_id == collection_id, ov.c.object_id == object_id)
            .order_by(ov.c.version_us)
        ).all()
        if not rows:
            return
        first_seq, latest_seq = rows[0][0], rows[-1][0]
        self.conn.execute(
            update(ov)
            .where(ov.c.collection_id == collection_id, ov.c.object_id == object_id)
            .values(is_first=ov.c.seq == first_seq, is_latest=ov.c.seq == latest_seq)
        )

    # --- reading -------------------------------------------------------------------------

    def page(
        self,
        collection_id: str,
        query: ObjectQuery,
        *,
        after_seq: int,
        limit: int,
        object_id: str | None = None,
    ) -> Page:
        """Versions matching `query` with seq > after_seq, in seq (= date_added) order."""
        rows, more = self._read(collection_id, query, after_seq, limit, object_id, bodies=False)
        return Page(cast(list[Row], rows), more)

    def bodies(
        self,
        collection_id: str,
        query: ObjectQuery,
        *,
        after_seq: int,
        limit: int,
        object_id: str | None = None,
    ) -> BodyPage:
        """The page `page` reads, as the objects' JSON bytes."""
        rows, more = self._read(collection_id, query, after_seq, limit, object_id, bodies=True)
        if not rows:
            return BodyPage()
        bodies = [row[2] for row in rows]
        return BodyPage(bodies, [row[0] for row in rows], more, rows[0][1], rows[-1][1])

    def _read(
        self,
        collection_id: str,
        query: ObjectQuery,
        after_seq: int,
        limit: int,
        object_id: str | None,
        *,
        bodies: bool,
    ) -> tuple[list[Any], bool]:
        """Up to `limit` rows, and whether there are more (row limit + 1 exists)."""
        start = self._start_seq(collection_id, query.added_after_us, after_seq)
        if start is None:
            return [], False
        filters = Filters.of(query, object_id=object_id is not None)
        values = filters.values(query, object_id)
        values.update(collection_id=collection_id, start=start, limit=limit + 1)
        rows = list(self.conn.execute(page_statement(filters, bodies=bodies), values).all())
        more = len(rows) > limit
        if more:
            del rows[limit:]
        return rows, more

    def versions(
        self,
        collection_id: str,
        object_id: str,
        query: ObjectQuery,
        *,
        after_version_us: int | None,
        limit: int,
    ) -> Page:
        """The versions of one object, oldest first by `modified`, keyset-paged on it."""
        conditions: list[ColumnElement[bool]] = [
            ov.c.collection_id == collection_id,
            ov.c.object_id == object_id,
        ]
        if after_version_us is not None:
            conditions.append(ov.c.version_us > after_version_us)
        if query.added_after_us is not None:
            conditions.append(ov.c.date_added_us > query.added_after_us)
        if query.spec_versions:
            conditions.append(ov.c.spec_version.in_(query.spec_versions))
        stmt = select(*ROW_COLS).where(*conditions).order_by(ov.c.version_us).limit(limit + 1)
        rows = self.conn.execute(stmt).all()
        return Page(cast(list[Row], rows[:limit]), len(rows) > limit)

    def latest_body(self, collection_id: str, object_id: str) -> str | None:
        """The JSON of the newest stored version of one object, or None."""
        stmt = select(ov.c.body).where(
            ov.c.collection_id == collection_id,
            ov.c.object_id == object_id,
            ov.c.is_latest == true(),
        )
        value = self.conn.execute(stmt.limit(1)).scalar()
        return None if value is None else str(value)

    def latest_bodies(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, str]:
        """The JSON of the newest stored version of each of these objects that is stored."""
        found: dict[str, str] = {}
        for start in range(0, len(object_ids), _IN_CHUNK):
            stmt = select(ov.c.object_id, ov.c.body).where(
                ov.c.collection_id == collection_id,
                _one_of(self.conn, ov.c.object_id, list(object_ids[start : start + _IN_CHUNK])),
                ov.c.is_latest == true(),
            )
            found.update((str(object_id), str(body)) for object_id, body in self.conn.execute(stmt))
        return found

    def owners(self, collection_id: str, object_ids: Iterable[str]) -> dict[str, str | None]:
        """Who submitted each of these objects first (objects not stored are left out)."""
        ids = sorted(set(object_ids))
        found: dict[str, str | None] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            stmt = select(ov.c.object_id, ov.c.submitted_by).where(
                ov.c.collection_id == collection_id,
                _one_of(self.conn, ov.c.object_id, ids[start : start + _IN_CHUNK]),
                ov.c.is_first == true(),
            )
            for object_id, submitted_by in self.conn.execute(stmt):
                found[object_id] = submitted_by
        return found

    def exists(self, collection_id: str, object_id: str) -> bool:
        values = {"collection_id": collection_id, "object_id": object_id}
        return self.conn.execute(ANY_VERSION, values).first() is not None

    def count(self, collection_id: str) -> int:
        """Stored versions in a collection (for operators and tests, not for TAXII pages)."""
        stmt = select(func.count()).select_from(ov).where(ov.c.collection_id == collection_id)
        return int(self.conn.execute(stmt).scalar_one())

    def _start_seq(
        self, collection_id: str, added_after_us: int | None, after_seq: int
    ) -> int | None:
        start = after_seq + 1
        if added_after_us is None:
            return start
        values = {"collection_id": collection_id, "added_after_us": added_after_us}
        first = self.conn.execute(FIRST_ADDED_AFTER, values).scalar()
        if first is None:
            return None
        return max(start, int(first))
