"""The object browser: search what the hub holds (the feeds, the trust groups, and the inbox,
i.e. what members submitted) by indicator value, type, TLP and date; one object's versions in
every collection, and where it was released and as what.

Staff see every collection; a member-admin (`own_member`) sees only its own organisation's
submitted objects and their receipts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from hub.errors import NotFound
from hub.services.context import Hub
from hub.storage.collections import Collection, CollectionRepository
from hub.storage.reports import ReportRepository, VersionRow
from hub.storage.sharing import Receipt, ReceiptRepository


@dataclass(frozen=True)
class Query:
    text: str = ""
    type: str = ""
    tlp: str = ""
    collection: str = ""  # an alias; "" for every collection the user may see
    since_us: int | None = None
    until_us: int | None = None
    all_versions: bool = False


@dataclass(frozen=True)
class Hit:
    row: VersionRow
    summary: str  # the name, else the pattern or value, shortened


def _summary(body: dict[str, Any]) -> str:
    for key in ("name", "pattern", "value", "path", "key", "abstract"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value if len(value) <= 120 else value[:117] + "…"
    return ""


def _collections(hub: Hub, own_member: str | None) -> list[Collection]:
    with hub.db.read() as conn:
        found = CollectionRepository(conn).list()
    if own_member is not None:
        return [c for c in found if c.kind == "inbox"]
    return found


def visible_collections(hub: Hub, own_member: str | None) -> list[Collection]:
    return _collections(hub, own_member)


def search(
    hub: Hub, query: Query, *, own_member: str | None, limit: int = 50, offset: int = 0
) -> list[Hit]:
    collections = _collections(hub, own_member)
    if query.collection:
        collections = [c for c in collections if c.alias == query.collection]
    if not collections:
        return []
    with hub.db.read() as conn:
        rows = ReportRepository(conn).search_versions(
            collection_ids=[c.id for c in collections],
            text=query.text.strip() or None,
            type_=query.type.strip() or None,
            tlp=query.tlp or None,
            since_us=query.since_us,
            until_us=query.until_us,
            submitted_by=own_member,
            latest_only=not query.all_versions,
            limit=limit,
            offset=offset,
        )
    return [Hit(row, _summary(orjson.loads(row.body))) for row in rows]


@dataclass(frozen=True)
class ObjectDetail:
    object_id: str
    versions: list[VersionRow]  # every stored version, by collection then version
    receipts: list[Receipt]  # where each version was released, as what
    feed_aliases: dict[str, str]  # collection id -> alias
    submitter: str | None  # member id


def detail(hub: Hub, object_id: str, *, own_member: str | None) -> ObjectDetail:
    collections = _collections(hub, own_member)
    with hub.db.read() as conn:
        reports = ReportRepository(conn)
        versions = reports.versions_of(object_id, [c.id for c in collections])
        submitter = reports.object_submitters([object_id]).get(object_id)
        receipts = ReceiptRepository(conn).for_objects([object_id])
        aliases = {c.id: c.alias for c in CollectionRepository(conn).list()}
    if own_member is not None:
        versions = [v for v in versions if v.submitted_by == own_member]
        receipts = [r for r in receipts if r.member_id == own_member]
    if not versions and not receipts:
        raise NotFound(f"no object {object_id!r}")
    return ObjectDetail(object_id, versions, receipts, aliases, submitter)
