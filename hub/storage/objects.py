"""Repository for stored object versions: the only thing TAXII reads.

Each collection hands out a sequence number per stored version, under a lock on the collection
row, so sequence order is commit order and date_added order. Pages are keyset range scans over
(collection, seq): no counting or sorting of the whole collection, and a client paging while
others write never skips or repeats a version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    any_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)

from hub.stix.timestamps import now_us
from hub.storage.tables import collections, object_versions

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


@dataclass(frozen=True)
class ObjectQuery:
    """TAXII filters, already parsed. `versions` holds 'last', 'first', 'all'; timestamps go
    in `version_us`. An empty tuple means no filter on that field."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    version_us: tuple[int, ...] = ()
    spec_versions: tuple[str, ...] = ()
    added_after_us: int | None = None


class Row(Protocol):
    """One stored version as read back: a database row, used as is (no copy per row: a page of
    1,000 objects is on the hot path). `body` is only selected when a page asks for it."""

    seq: int
    object_id: str
    type: str
    spec_version: str
    version_us: int
    version_text: str | None
    date_added_us: int
    body: str


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    more: bool = False


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


def _insert_sql(conn: Connection) -> str:
    """INSERT of one object_versions row in _INSERT_COLUMNS order, for this driver."""
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return (  # names from this module only, no outside text
        f"INSERT INTO {ov.name} ({', '.join(_INSERT_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join([marker] * len(_INSERT_COLUMNS))})"
    )


_COPY_SQL = f"COPY {ov.name} ({', '.join(_INSERT_COLUMNS)}) FROM STDIN"


def _one_of(conn: Connection, column: ColumnElement[str], values: list[str]) -> ColumnElement[bool]:
    """column IN values; on PostgreSQL `= ANY(array)`: one parameter whatever the count, so
    one statement text, planned more cheaply than an IN list of hundreds of parameters."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    return column.in_(values)


_ROW_COLS = (
    ov.c.seq,
    ov.c.object_id,
    ov.c.type,
    ov.c.spec_version,
    ov.c.version_us,
    ov.c.version_text,
    ov.c.date_added_us,
)


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
            state = states.setdefault(item.object_id, _ObjectState())
            if item.version_us is None and state.versions:
                outcomes.append(StoredOutcome(False, 0))  # unversioned: stored once, ever
                continue
            if item.version_us is not None and item.version_us in state.versions:
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
                    False,
                    False,
                    submitted_by,
                    item.body,
                ]
            )
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
        conditions = [ov.c.collection_id == collection_id, ov.c.object_id == object_id]
        conditions += self._version_conditions(query)
        if submitted_by is not None:
            conditions.append(ov.c.submitted_by == submitted_by)
        removed = self.conn.execute(delete(ov).where(*conditions)).rowcount
        if removed:
            self._refresh_flags(collection_id, object_id)
        return int(removed)

    def _lock(self, collection_id: str) -> tuple[int, int]:
        row = self.conn.execute(
            select(collections.c.next_seq, collections.c.last_added_us)
            .where(collections.c.id == collection_id)
            .with_for_update()
        ).one()
        return int(row[0]), int(row[1])

    def _insert(self, rows: list[list[object]]) -> None:
        """New object_versions rows (in _INSERT_COLUMNS order), straight to the driver:
        SQLAlchemy's per-row parameter handling cost more than the insert itself."""
        if self.conn.dialect.name == "postgresql":
            # COPY: one statement for the chunk, where an INSERT per row cost the server
            # an executor start-up each.
            driver = self.conn.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        self.conn.exec_driver_sql(_insert_sql(self.conn), [tuple(r) for r in rows])

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
        with_body: bool = True,
    ) -> Page:
        """Versions matching `query` with seq > after_seq, in seq (= date_added) order."""
        start = self._start_seq(collection_id, query.added_after_us, after_seq)
        if start is None:
            return Page()
        cols = (*_ROW_COLS, ov.c.body) if with_body else _ROW_COLS
        conditions: list[ColumnElement[bool]] = [
            ov.c.collection_id == collection_id,
            ov.c.seq >= start,
        ]
        if object_id is not None:
            conditions.append(ov.c.object_id == object_id)
        conditions += self._filter_conditions(query)
        stmt = select(*cols).where(*conditions).order_by(ov.c.seq).limit(limit + 1)
        rows = self.conn.execute(stmt).all()
        more = len(rows) > limit
        return Page(cast(list[Row], rows[:limit]), more)

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
        stmt = select(*_ROW_COLS).where(*conditions).order_by(ov.c.version_us).limit(limit + 1)
        rows = self.conn.execute(stmt).all()
        return Page(cast(list[Row], rows[:limit]), len(rows) > limit)

    def latest_bodies(self, collection_id: str, object_ids: Sequence[str]) -> dict[str, str]:
        """The JSON of the newest stored version of each of these objects that is stored."""
        found: dict[str, str] = {}
        for start in range(0, len(object_ids), _IN_CHUNK):
            stmt = select(ov.c.object_id, ov.c.body).where(
                ov.c.collection_id == collection_id,
                ov.c.object_id.in_(object_ids[start : start + _IN_CHUNK]),
                ov.c.is_latest == true(),
            )
            found.update((str(object_id), str(body)) for object_id, body in self.conn.execute(stmt))
        return found

    def exists(self, collection_id: str, object_id: str) -> bool:
        stmt = select(ov.c.seq).where(
            ov.c.collection_id == collection_id, ov.c.object_id == object_id
        )
        return self.conn.execute(stmt.limit(1)).first() is not None

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
        # date_added and seq grow together, so the first row by date_added is the first by seq:
        # one index probe, where min(seq) would visit every row added since.
        first = self.conn.execute(
            select(ov.c.seq)
            .where(ov.c.collection_id == collection_id, ov.c.date_added_us > added_after_us)
            .order_by(ov.c.date_added_us)
            .limit(1)
        ).scalar()
        if first is None:
            return None
        return max(start, int(first))

    def _filter_conditions(self, query: ObjectQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if query.ids:
            conditions.append(ov.c.object_id.in_(query.ids))
        if query.types:
            conditions.append(ov.c.type.in_(query.types))
        if query.spec_versions:
            conditions.append(ov.c.spec_version.in_(query.spec_versions))
        conditions += self._version_conditions(query)
        return conditions

    @staticmethod
    def _version_conditions(query: ObjectQuery) -> list[ColumnElement[bool]]:
        if "all" in query.versions or (not query.versions and not query.version_us):
            return []
        alternatives: list[ColumnElement[bool]] = []
        if "last" in query.versions:
            alternatives.append(ov.c.is_latest == true())
        if "first" in query.versions:
            alternatives.append(ov.c.is_first == true())
        if query.version_us:
            alternatives.append(ov.c.version_us.in_(query.version_us))
        if not alternatives:
            return [false()]
        return [alternatives[0] if len(alternatives) == 1 else or_(*alternatives)]
