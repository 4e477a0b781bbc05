"""Adding objects to a collection and reading them back: the use cases behind TAXII."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from hub.auth.principal import Principal
from hub.errors import BadRequest, NotFound, Unprocessable
from hub.services.collections import VisibleCollection, get_for
from hub.services.context import Hub
from hub.stix.objects import ObjectError, VersionKey, version_key
from hub.stix.timestamps import format_us, now_us
from hub.storage.objects import NewVersion, ObjectQuery, ObjectRepository, Page
from hub.storage.statuses import Detail, Status, StatusRepository


def parse_envelope(body: bytes) -> list[Any]:
    """The objects of a TAXII envelope (or a STIX bundle), or a 400/422 saying what is wrong."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(document, dict):
        raise Unprocessable("the body must be a TAXII envelope: a JSON object with 'objects'")
    objects = document.get("objects")
    if objects is None:
        if document.get("type") == "bundle":
            raise Unprocessable("the bundle has no 'objects' list")
        raise Unprocessable("the body must be a TAXII envelope with an 'objects' list")
    if not isinstance(objects, list):
        raise Unprocessable("'objects' must be a list")
    return objects


def add_objects(hub: Hub, principal: Principal, collection_ref: str, body: bytes) -> Status:
    """Store the objects of an envelope in a writable collection and record a status for it.

    Each object is checked on its own: one bad object is a failure in the status, the rest are
    stored. A version already stored is a success and is not stored twice.
    """
    view = get_for(hub, principal, collection_ref, need="write")
    objects = parse_envelope(body)
    request_us = now_us()
    keyed: list[tuple[VersionKey, NewVersion]] = []
    failures: list[Detail] = []
    for position, obj in enumerate(objects):
        try:
            key = version_key(obj)
        except ObjectError as exc:
            failures.append(_failure(obj, position, str(exc)))
            continue
        body_text = orjson.dumps(obj).decode("utf-8")
        keyed.append(
            (
                key,
                NewVersion(
                    key.object_id,
                    key.type,
                    key.spec_version,
                    key.version_us,
                    key.version_text,
                    body_text,
                ),
            )
        )
    status = Status(
        id=str(uuid.uuid4()),
        collection_id=view.collection.id,
        member_id=principal.member_id,
        status="complete",
        request_us=request_us,
        total_count=len(objects),
        success_count=len(keyed),
        failure_count=len(failures),
        pending_count=0,
        failures=failures,
    )
    with hub.db.write() as conn:
        outcomes = ObjectRepository(conn).add(
            view.collection.id, [new for _, new in keyed], principal.member_id
        )
        for (key, _), outcome in zip(keyed, outcomes, strict=True):
            version = key.version_text or (
                format_us(outcome.date_added_us) if outcome.stored else None
            )
            status.successes.append(Detail(key.object_id, version))
        StatusRepository(conn).add(status)
    return status


def _failure(obj: Any, position: int, message: str) -> Detail:
    object_id = obj.get("id") if isinstance(obj, dict) else None
    version = obj.get("modified") if isinstance(obj, dict) else None
    if not isinstance(object_id, str):
        object_id = f"objects[{position}]"
    return Detail(object_id, version if isinstance(version, str) else None, message)


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
    with_body: bool = True,
) -> Page:
    """A page of versions from a collection the caller may read (see collections.get_for)."""
    with hub.db.read() as conn:
        repo = ObjectRepository(conn)
        page = repo.page(
            view.collection.id,
            query,
            after_seq=after_seq,
            limit=limit,
            object_id=object_id,
            with_body=with_body,
        )
        if (
            object_id is not None
            and not page.rows
            and not repo.exists(view.collection.id, object_id)
        ):
            raise NotFound(f"no object {object_id!r} in this collection")
    return page


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
        removed = ObjectRepository(conn).delete(
            view.collection.id, object_id, query, submitted_by=principal.member_id
        )
    if not removed:
        raise NotFound(f"no version of {object_id!r} submitted by you matches")
    return removed
