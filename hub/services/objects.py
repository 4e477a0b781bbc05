"""Adding objects to a collection and reading them back: the use cases behind TAXII."""

from __future__ import annotations

from hub.auth.principal import Principal
from hub.errors import NotFound
from hub.services.collections import VisibleCollection, get_for
from hub.services.context import Hub
from hub.services.release import propagate_deletion
from hub.storage.objects import BodyPage, ObjectQuery, ObjectRepository, Page
from hub.storage.statuses import Status, StatusRepository


def get_status(hub: Hub, principal: Principal, status_id: str) -> Status:
    """A status resource of the caller's own member; anyone else's is a 404."""
    with hub.db.read() as conn:
        status = StatusRepository(conn).get(status_id)
    if status is None or status.member_id != principal.member_id:
        raise NotFound(f"no status {status_id!r}")
    return status


def read_page(
    hub: Hub,
    view: VisibleCollection,
    query: ObjectQuery,
    *,
    after_seq: int,
    limit: int,
    object_id: str | None = None,
) -> BodyPage:
    """A page of objects from a collection the caller may read (see collections.get_for), or of
    one object's versions; NotFound if that object is not in the collection."""
    with hub.db.read() as conn:
        repo = ObjectRepository(conn)
        page = repo.bodies(
            view.collection.id, query, after_seq=after_seq, limit=limit, object_id=object_id
        )
        if (
            object_id is not None
            and not page.bodies
            and not repo.exists(view.collection.id, object_id)
        ):
            raise NotFound(f"no object {object_id!r} in this collection")
    return page


def read_manifest(
    hub: Hub, view: VisibleCollection, query: ObjectQuery, *, after_seq: int, limit: int
) -> Page:
    """The manifest entries of the page `read_page` would return."""
    with hub.db.read() as conn:
        return ObjectRepository(conn).page(
            view.collection.id, query, after_seq=after_seq, limit=limit
        )


def read_versions(
    hub: Hub,
    view: VisibleCollection,
    object_id: str,
    query: ObjectQuery,
    *,
    after_version_us: int | None,
    limit: int,
) -> Page:
    with hub.db.read() as conn:
        repo = ObjectRepository(conn)
        page = repo.versions(
            view.collection.id, object_id, query, after_version_us=after_version_us, limit=limit
        )
        if not page.rows and not repo.exists(view.collection.id, object_id):
            raise NotFound(f"no object {object_id!r} in this collection")
    return page


def delete_object(
    hub: Hub, principal: Principal, collection_ref: str, object_id: str, query: ObjectQuery
) -> int:
    """Delete the caller's own versions of an object that match the filters."""
    view = get_for(hub, principal, collection_ref, need="write")
    with hub.db.write() as conn:
        repo = ObjectRepository(conn)
        inbox = view.collection.kind == "inbox"
        versions = (
            repo.matching_versions(view.collection.id, object_id, query, principal.member_id)
            if inbox
            else []
        )
        removed = repo.delete(
            view.collection.id, object_id, query, submitted_by=principal.member_id
        )
        if inbox and removed:
            # What the submitter withdraws from the inbox leaves every feed it went to.
            propagate_deletion(conn, principal.member_id, object_id, versions)
    if not removed:
        raise NotFound(f"no version of {object_id!r} submitted by you matches")
    return removed
