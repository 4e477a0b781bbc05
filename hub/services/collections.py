"""Collections as a caller sees them: which exist for them, and what they may do there."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hub.auth.principal import Principal, can_read, can_write
from hub.config import ALIAS, COLLECTION_KINDS, ConfigError, check_principals
from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.services.context import Hub
from hub.stix.timestamps import now_us
from hub.storage.collections import Collection, CollectionRepository
from hub.storage.membership import DuplicateError


@dataclass(frozen=True)
class VisibleCollection:
    collection: Collection
    can_read: bool
    can_write: bool


def visible(principal: Principal, collection: Collection) -> VisibleCollection:
    return VisibleCollection(
        collection,
        can_read(principal, collection.readers),
        can_write(principal, collection.writers),
    )


def list_for(hub: Hub, principal: Principal) -> list[VisibleCollection]:
    """The collections the caller may read or write; the others do not exist for it."""
    with hub.db.read() as conn:
        all_collections = CollectionRepository(conn).list()
    views = [visible(principal, c) for c in all_collections]
    return [v for v in views if v.can_read or v.can_write]


def get_for(
    hub: Hub, principal: Principal, id_or_alias: str, need: str | None = None
) -> VisibleCollection:
    """A collection the caller may see, or NotFound; Forbidden if it lacks `need` (read|write).

    A collection the caller may neither read nor write is a 404, so its existence stays hidden.
    """
    with hub.db.read() as conn:
        collection = CollectionRepository(conn).find(id_or_alias)
    view = visible(principal, collection) if collection else None
    if view is None or not (view.can_read or view.can_write):
        raise NotFound(f"no collection {id_or_alias!r}")
    if need == "read" and not view.can_read:
        raise Forbidden("this API key may not read this collection")
    if need == "write" and not view.can_write:
        raise Forbidden("this API key may not write to this collection")
    return view


def list_all(hub: Hub) -> list[Collection]:
    with hub.db.read() as conn:
        return CollectionRepository(conn).list()


def add_collection(
    hub: Hub,
    alias: str,
    title: str,
    *,
    description: str = "",
    kind: str = "trust-group",
    readers: list[str],
    writers: list[str],
) -> Collection:
    if kind not in COLLECTION_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(COLLECTION_KINDS)}")
    try:
        reader_entries = check_principals("readers", readers)
        writer_entries = check_principals("writers", writers)
    except ConfigError as exc:
        raise BadRequest(str(exc)) from None
    if not ALIAS.match(alias):
        raise BadRequest("an alias is lowercase letters, digits, '-' or '_' (at most 63)")
    collection = Collection(
        str(uuid.uuid4()), alias, title, description, kind, reader_entries, writer_entries, "cli"
    )
    with hub.db.write() as conn:
        try:
            CollectionRepository(conn).add(collection, now_us())
        except DuplicateError as exc:
            raise Conflict(str(exc)) from None
    return collection


def sync_configured(hub: Hub) -> list[str]:
    """Create or update the collections defined in the config file; return the aliases created.

    Ids stay stable across restarts: a collection is matched by alias, and only its title,
    description, kind and permissions follow the file.
    """
    created = []
    with hub.db.write() as conn:
        repo = CollectionRepository(conn)
        for spec in hub.settings.collections:
            existing = repo.find(spec.alias)
            wanted = Collection(
                existing.id if existing else str(uuid.uuid4()),
                spec.alias,
                spec.title,
                spec.description,
                spec.kind,
                spec.readers,
                spec.writers,
                "config",
            )
            if existing is None:
                repo.add(wanted, now_us())
                created.append(spec.alias)
            elif existing != wanted:
                repo.update_definition(wanted)
    return created
