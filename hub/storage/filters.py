"""TAXII filters as SQL over object_versions, with each read statement built once per shape.

A page read is on every feed request's path, and building a SQLAlchemy statement (and its cache
key) costs several times more than running a prepared one that returns a row. So the statement
for a combination of filters (its `Filters`) is built the first time that combination is asked
for, with bound parameters for every value, and reused afterwards; only the values change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FunctionElement,
    LargeBinary,
    Select,
    bindparam,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from hub.storage.tables import object_versions

ov = object_versions

ROW_COLS = (
    ov.c.seq,
    ov.c.object_id,
    ov.c.type,
    ov.c.spec_version,
    ov.c.version_us,
    ov.c.version_text,
    ov.c.date_added_us,
)


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


class _Utf8Bytes(LargeBinary):
    """Bytes as they come from the query: SQLite hands them over; PostgreSQL sends the text,
    which is encoded here (faster than `convert_to`, whose bytea travels hex-encoded)."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "postgresql":
            return str.encode
        binary: Callable[[Any], Any] | None
        binary = super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
        return binary


class utf8_bytes(FunctionElement[bytes]):
    """A text column as its UTF-8 bytes: a stored body reaches the envelope without a decode
    and an encode in Python on SQLite, and with one encode on PostgreSQL."""

    type = _Utf8Bytes()
    name = "utf8_bytes"
    inherit_cache = True


@compiles(utf8_bytes)
def _utf8_bytes_sqlite(element: utf8_bytes, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps text as UTF-8; CAST hands the same bytes back as a blob.
    return f"CAST({compiler.process(element.clauses, **kw)} AS BLOB)"


@compiles(utf8_bytes, "postgresql")
def _utf8_bytes_postgresql(element: utf8_bytes, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@dataclass(frozen=True, slots=True)
class Filters:
    """Which filters a read applies (not their values): the key of its cached statement.

    `versions` is None for every version, else the alternatives asked for: 'last', 'first',
    'at' (listed timestamps); an empty tuple matches nothing.
    """

    object_id: bool = False
    ids: bool = False
    types: bool = False
    spec_versions: bool = False
    versions: tuple[str, ...] | None = None

    @classmethod
    def of(cls, query: ObjectQuery, *, object_id: bool = False) -> Filters:
        versions: tuple[str, ...] | None = None
        if "all" not in query.versions and (query.versions or query.version_us):
            versions = tuple(k for k in ("last", "first") if k in query.versions)
            versions += ("at",) if query.version_us else ()
        return cls(
            object_id, bool(query.ids), bool(query.types), bool(query.spec_versions), versions
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions, with a bound parameter for each value (see `values`)."""
        conditions: list[ColumnElement[bool]] = []
        if self.object_id:
            conditions.append(ov.c.object_id == bindparam("object_id"))
        if self.ids:
            conditions.append(ov.c.object_id.in_(bindparam("ids", expanding=True)))
        if self.types:
            conditions.append(ov.c.type.in_(bindparam("types", expanding=True)))
        if self.spec_versions:
            conditions.append(ov.c.spec_version.in_(bindparam("spec_versions", expanding=True)))
        if self.versions is None:
            return conditions
        alternatives: list[ColumnElement[bool]] = []
        if "last" in self.versions:
            alternatives.append(ov.c.is_latest == true())
        if "first" in self.versions:
            alternatives.append(ov.c.is_first == true())
        if "at" in self.versions:
            alternatives.append(ov.c.version_us.in_(bindparam("version_us", expanding=True)))
        if not alternatives:
            conditions.append(false())
        else:
            conditions.append(alternatives[0] if len(alternatives) == 1 else or_(*alternatives))
        return conditions

    def values(self, query: ObjectQuery, object_id: str | None = None) -> dict[str, Any]:
        """The bound values for `conditions()`, taken from the query."""
        values: dict[str, Any] = {}
        if self.object_id:
            values["object_id"] = object_id
        if self.ids:
            values["ids"] = list(query.ids)
        if self.types:
            values["types"] = list(query.types)
        if self.spec_versions:
            values["spec_versions"] = list(query.spec_versions)
        if self.versions is not None and "at" in self.versions:
            values["version_us"] = list(query.version_us)
        return values


@functools.cache  # one per combination of filters: a few hundred at most
def page_statement(filters: Filters, *, bodies: bool) -> Select[Any]:
    """Rows with seq >= :start in one collection, in seq order, at most :limit of them: their
    metadata (ROW_COLS), or with `bodies` just (seq, date_added_us, the body as UTF-8 bytes)."""
    cols = (ov.c.seq, ov.c.date_added_us, utf8_bytes(ov.c.body)) if bodies else ROW_COLS
    return (
        select(*cols)
        .where(
            ov.c.collection_id == bindparam("collection_id"),
            ov.c.seq >= bindparam("start"),
            *filters.conditions(),
        )
        .order_by(ov.c.seq)
        .limit(bindparam("limit"))
    )


# date_added and seq grow together, so the first row by date_added is the first by seq: one
# index probe, where min(seq) would visit every row added since.
FIRST_ADDED_AFTER = (
    select(ov.c.seq)
    .where(
        ov.c.collection_id == bindparam("collection_id"),
        ov.c.date_added_us > bindparam("added_after_us"),
    )
    .order_by(ov.c.date_added_us)
    .limit(1)
)

ANY_VERSION = (
    select(ov.c.seq)
    .where(
        ov.c.collection_id == bindparam("collection_id"), ov.c.object_id == bindparam("object_id")
    )
    .limit(1)
)
