"""Processing a recorded submission: validate each object, store the valid ones, chunk by chunk.

Each chunk is one transaction that stores the chunk's valid objects, moves them out of pending
in the status resource (with their outcome) and advances the submission's `processed_count`. A
worker killed at any point leaves the database at a chunk boundary, and the next one resumes
there: every object is counted once, every version stored once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Any

import orjson

from hub.services import envelope
from hub.services.context import Hub
from hub.services.ingest import Parsed, media_kind, parse_body
from hub.services.release import Item, Releaser, releaser_for, summary
from hub.stix.indicators import keep_history
from hub.stix.objects import VersionKey
from hub.stix.timestamps import format_us, now_us
from hub.storage.collections import CollectionRepository
from hub.storage.objects import NewVersion, ObjectRepository
from hub.storage.statuses import Detail, StatusRepository
from hub.storage.submissions import Submission, SubmissionRepository

log = logging.getLogger(__name__)
_HISTORY_BATCH = 500
_INTERNAL = "the hub could not check this object (an internal error, logged); it was not stored"


def process(
    hub: Hub,
    submission_id: str,
    *,
    parsed: Parsed | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> bool:
    """Process what remains of a submission; True if it is done (by us or someone else).
    `on_chunk` is told how many objects each chunk stored here held, once it is committed."""
    with hub.db.read() as conn:
        repo = SubmissionRepository(conn)
        submission = repo.get(submission_id)
        if submission is None:
            log.warning("submission %s does not exist; dropping it from the queue", submission_id)
            return True
        if submission.state == "done":
            return True
        collection = CollectionRepository(conn).find(submission.collection_id)
    chunk_size = hub.settings.ingest.chunk_size
    validator = hub.validator
    # Objects posted to the inbox go on to the feeds by the sharing policy; a trust group
    # keeps what its members post as it is.
    releaser: Releaser | None = None
    if collection is not None and collection.kind == "inbox":
        releaser = releaser_for(
            hub,
            member_id=submission.member_id,
            submission_id=submission_id,
            objects=_sharing_context(hub, submission, parsed),
        )
    start = submission.processed_count
    chunks = _chunks(_objects(hub, submission, parsed, start), chunk_size)
    while (taken := next(chunks, None)) is not None:
        chunk, last = taken
        end = start + len(chunk)
        now = now_us()
        news: list[NewVersion] = []
        keys: list[VersionKey] = []
        items: list[Item | None] = []
        failures: list[Detail] = []
        for position, obj in enumerate(chunk, start):
            try:
                key, problems = validator.check(obj, now)
                decision = releaser.decide(obj) if releaser is not None and not problems else None
            except Exception:
                # A defect of ours, met by one object: that object fails, with a message that
                # reveals nothing, and the rest of the submission goes on (a submission that
                # failed whole would be retried for ever from the queue).
                log.exception(
                    "object %d of submission %s could not be checked",
                    position,
                    submission_id,
                    extra={"submission_id": submission_id, "request_id": submission.request_id},
                )
                failures.append(_failure(obj, position, [_INTERNAL]))
                continue
            if problems or key is None:
                failures.append(_failure(obj, position, problems))
                continue
            if decision is not None:
                if decision.outcome == "reject":
                    failures.append(_failure(obj, position, list(decision.reasons)))
                    continue
                items.append(Item(obj, key, decision))
            else:
                items.append(None)
            keys.append(key)
            news.append(
                NewVersion(
                    key.object_id,
                    key.type,
                    key.spec_version,
                    key.version_us,
                    key.version_text,
                    orjson.dumps(obj).decode("utf-8"),
                )
            )
        # Rendering the feeds' versions is CPU work: done before the write transaction.
        prepared = releaser.prepare([i for i in items if i is not None]) if releaser else None
        with hub.db.write() as conn:
            submissions = SubmissionRepository(conn)
            state, current = submissions.lock_progress(submission_id)
            if state == "done":
                return True
            if current != start:  # another process moved it on: continue from there
                start = current
                chunks = _chunks(_objects(hub, submission, parsed, start), chunk_size)
                continue
            objects_repo = ObjectRepository(conn)
            chunk_failures = list(failures)
            if releaser is not None:
                keys, news, items = _own_objects(
                    objects_repo,
                    submission.collection_id,
                    submission.member_id,
                    keys,
                    news,
                    items,
                    chunk_failures,
                )
            outcomes = objects_repo.add(submission.collection_id, news, submission.member_id)
            successes = []
            to_release: list[Item] = []
            for key, outcome, item in zip(keys, outcomes, items, strict=True):
                version = key.version_text or format_us(outcome.date_added_us)
                if item is None:
                    successes.append(Detail(key.object_id, version))
                    continue
                if outcome.stored:
                    to_release.append(item)
                    successes.append(Detail(key.object_id, version, summary(item.decision)))
                else:
                    successes.append(Detail(key.object_id, version, "already received"))
            if releaser is not None and to_release:
                releaser.release(conn, to_release, prepared)
            StatusRepository(conn).record_progress(
                submission.status_id, successes, chunk_failures, complete=last
            )
            submissions.advance(submission_id, end, done=last, now_us=now_us())
        hub.db.wrote(len(news))
        if on_chunk is not None:
            on_chunk(len(chunk))
        start = end
        if last:
            log.info(
                "submission %s processed (%d objects)",
                submission_id,
                end,
                extra={
                    "submission_id": submission_id,
                    "member_id": submission.member_id,
                    "request_id": submission.request_id,
                },
            )
    return True


def _own_objects(
    repo: ObjectRepository,
    collection_id: str,
    member_id: str,
    keys: list[VersionKey],
    news: list[NewVersion],
    items: list[Item | None],
    failures: list[Detail],
) -> tuple[list[VersionKey], list[NewVersion], list[Item | None]]:
    """Only the member that first submitted an object may add versions of it (a revocation
    from anyone else would pull a peer's indicator from every feed): others' are failures."""
    owners = repo.owners(collection_id, (key.object_id for key in keys))
    kept_keys, kept_news, kept_items = [], [], []
    for key, new, item in zip(keys, news, items, strict=True):
        owner = owners.get(key.object_id, member_id)
        if owner is not None and owner != member_id:
            failures.append(
                Detail(
                    key.object_id,
                    key.version_text,
                    "id: this object was first submitted by another member; only it may "
                    "add versions",
                )
            )
            continue
        kept_keys.append(key)
        kept_news.append(new)
        kept_items.append(item)
    return kept_keys, kept_news, kept_items


def _sharing_context(hub: Hub, submission: Submission, parsed: Parsed | None) -> list[Any]:
    """What the sharing rules need from the whole submission before its first chunk: the
    marking definitions it carries and the identities that stand for the submitter (every
    `created_by_ref`, and identity objects). One streaming pass over a JSON body, keeping only
    those; lists converted by the hub carry neither."""
    if media_kind(submission.content_type) != "json":
        return []
    if parsed is not None and parsed.objects is not None:
        source: Iterator[Any] = iter(parsed.objects)
    elif parsed is not None and parsed.body is not None:
        source = envelope.objects(envelope.blocks_of(parsed.body))
    else:
        source = envelope.objects(_stored_parts(hub, submission.id))
    kept: list[Any] = []
    refs: set[str] = set()
    for obj in source:
        if not isinstance(obj, dict):
            continue
        if obj.get("type") in ("marking-definition", "identity"):
            kept.append(obj)
        ref = obj.get("created_by_ref")
        if isinstance(ref, str):
            refs.add(ref)
    kept.extend({"created_by_ref": ref} for ref in sorted(refs))
    return kept


def _objects(hub: Hub, submission: Submission, parsed: Parsed | None, start: int) -> Iterator[Any]:
    """The submission's objects from position `start` on. A JSON body is read a part and an
    object at a time (from memory when the web process hands it over, else from the database),
    so a large body is never held as objects; CSV and text lists are converted whole."""
    if parsed is None and media_kind(submission.content_type) != "json":
        with hub.db.read() as conn:
            raw = SubmissionRepository(conn).raw(submission.id)
        parsed = parse_body(
            raw,
            submission.content_type,
            received_us=submission.received_us,
            limits=hub.settings.ingest,
            default_tlp=submission.default_tlp,
        )
    if parsed is not None and parsed.objects is not None:
        return _with_history(hub, submission.collection_id, parsed.objects[start:], parsed.dated)
    if parsed is not None and parsed.body is not None:
        blocks: Iterator[bytes | memoryview] = envelope.blocks_of(parsed.body)
    else:
        blocks = _stored_parts(hub, submission.id)
    return islice(envelope.objects(blocks), start, None)


def _with_history(
    hub: Hub, collection_id: str, converted: list[Any], dated: frozenset[str]
) -> Iterator[Any]:
    """Indicators converted from a list, as versions of what is stored already: a list sent
    again is already stored, and a changed row keeps its indicator's first `created`."""
    for first in range(0, len(converted), _HISTORY_BATCH):
        batch = converted[first : first + _HISTORY_BATCH]
        with hub.db.read() as conn:
            stored = ObjectRepository(conn).latest_bodies(
                collection_id, [obj["id"] for obj in batch]
            )
        for obj in batch:
            body = stored.get(obj["id"])
            previous = orjson.loads(body) if body is not None else None
            yield keep_history(obj, previous, dated=obj["id"] in dated)


def _stored_parts(hub: Hub, submission_id: str) -> Iterator[bytes]:
    """The stored body a part at a time, each read in a short transaction of its own."""
    number = 0
    while True:
        with hub.db.read() as conn:
            part = SubmissionRepository(conn).part(submission_id, number)
        if part is None:
            return
        yield part
        number += 1


def _chunks(objects: Iterator[Any], size: int) -> Iterator[tuple[list[Any], bool]]:
    """Lists of up to `size` objects, each with whether it is the last."""
    chunk = list(islice(objects, size))
    while chunk:
        following = list(islice(objects, size))
        yield chunk, not following
        chunk = following


def _failure(obj: object, position: int, problems: list[str]) -> Detail:
    object_id = obj.get("id") if isinstance(obj, dict) else None
    version = obj.get("modified") if isinstance(obj, dict) else None
    if not isinstance(object_id, str) or not object_id:
        object_id = f"objects[{position}]"
    return Detail(object_id, version if isinstance(version, str) else None, "; ".join(problems))


def reconcile(hub: Hub) -> int:
    """Queue again every submission pending in the database for longer than the reclaim timeout
    that the queue no longer holds (Redis lost it, or the process holding it died); returns
    how many."""
    now = now_us()
    cutoff = now - hub.settings.queue.reclaim_after_seconds * 1_000_000
    with hub.db.read() as conn:
        candidates = SubmissionRepository(conn).stale_pending(cutoff)
    held = hub.queue.queued(candidates)
    stale = [sid for sid in candidates if sid not in held]
    for submission_id in stale:
        hub.queue.put(submission_id)
    if stale:
        with hub.db.write() as conn:
            SubmissionRepository(conn).mark_enqueued(stale, now)
        log.info("re-queued %d pending submissions", len(stale))
    return len(stale)
