"""Repository for collections: the inbox, the feeds and closed trust-group collections."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.storage.membership import DuplicateError
from hub.storage.tables import collections


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    alias: str
    title: str
    description: str
    kind: str
    readers: tuple[str, ...]
    writers: tuple[str, ...]
    source: str  # "config" | "cli"


_COLS = [
    collections.c.id,
    collections.c.alias,
    collections.c.title,
    collections.c.description,
    collections.c.kind,
    collections.c.readers,
    collections.c.writers,
    collections.c.source,
]

# Built once: every request to a collection runs it.
_FIND = select(*_COLS).where(
    or_(collections.c.id == bindparam("ref"), collections.c.alias == bindparam("ref"))
)


def _collection(row: tuple[object, ...]) -> Collection:
    cid, alias, title, description, kind, readers, writers, source = row
    return Collection(
        str(cid),
        str(alias),
        str(title),
        str(description),
        str(kind),
        tuple(orjson.loads(str(readers))),
        tuple(orjson.loads(str(writers))),
        str(source),
    )


class CollectionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, collection: Collection, now_us: int) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(collections).values(
                        id=collection.id,
                        alias=collection.alias,
                        title=collection.title,
                        description=collection.description,
                        kind=collection.kind,
                        readers=orjson.dumps(list(collection.readers)).decode(),
                        writers=orjson.dumps(list(collection.writers)).decode(),
                        source=collection.source,
                        created_us=now_us,
                        next_seq=1,
                        last_added_us=0,
                    )
                )
        except IntegrityError:
            raise DuplicateError(f"a collection with alias {collection.alias!r} exists") from None

    def update_definition(self, collection: Collection) -> None:
        """Change title, description, kind and permissions; id, alias and contents stay."""
        self.conn.execute(
            update(collections)
            .where(collections.c.id == collection.id)
            .values(
                title=collection.title,
                description=collection.description,
                kind=collection.kind,
                readers=orjson.dumps(list(collection.readers)).decode(),
                writers=orjson.dumps(list(collection.writers)).decode(),
                source=collection.source,
            )
        )

    def find(self, id_or_alias: str) -> Collection | None:
        row = self.conn.execute(_FIND, {"ref": id_or_alias}).first()
        return _collection(tuple(row)) if row else None

    def list(self) -> list[Collection]:
        rows = self.conn.execute(
            select(*_COLS).order_by(collections.c.created_us, collections.c.alias)
        )
        return [_collection(tuple(row)) for row in rows]
