"""Processing a recorded submission: validate each object, store the valid ones, chunk by chunk.

Each chunk is one transaction that stores the chunk's valid objects, moves them out of pending
in the status resource (with their outcome) and advances the submission's `processed_count`. A
worker killed at any point leaves the database at a chunk boundary, and the next one resumes
there: every object is counted once, every version stored once.
"""

from __future__ import annotations

import logging

import orjson

from hub.services.context import Hub
from hub.services.ingest import Parsed, parse_body
from hub.services.release import Item, Releaser, releaser_for, summary
from hub.stix.objects import VersionKey
from hub.stix.timestamps import format_us, now_us
from hub.storage.collections import CollectionRepository
from hub.storage.objects import NewVersion, ObjectRepository
from hub.storage.statuses import Detail, StatusRepository
from hub.storage.submissions import SubmissionRepository

log = logging.getLogger(__name__)


def process(hub: Hub, submission_id: str, *, parsed: Parsed | None = None) -> bool:
    """Process what remains of a submission; True if it is done (by us or someone else)."""
    with hub.db.read() as conn:
        repo = SubmissionRepository(conn)
        submission = repo.get(submission_id)
        if submission is None:
            log.warning("submission %s does not exist; dropping it from the queue", submission_id)
            return True
        if submission.state == "done":
            return True
        raw = None if parsed is not None else repo.raw(submission_id)
        collection = CollectionRepository(conn).find(submission.collection_id)
    if parsed is None:
        assert raw is not None
        parsed = parse_body(
            raw,
            submission.content_type,
            received_us=submission.received_us,
            limits=hub.settings.ingest,
            default_tlp=submission.default_tlp,
        )
        del raw  # a large body need not stay in memory beside its parsed objects
    objects = parsed.objects
    total = len(objects)
    chunk_size = hub.settings.ingest.chunk_size
    validator = hub.validator
    # Objects posted to the inbox go on to the feeds by the sharing policy; a trust group
    # keeps what its members post as it is.
    releaser: Releaser | None = None
    if collection is not None and collection.kind == "inbox":
        releaser = releaser_for(
            hub, member_id=submission.member_id, submission_id=submission_id, objects=objects
        )
    start = submission.processed_count
    while start < total:
        chunk = objects[start : start + chunk_size]
        end = start + len(chunk)
        now = now_us()
        news: list[NewVersion] = []
        keys: list[VersionKey] = []
        items: list[Item | None] = []
        failures: list[Detail] = []
        for position, obj in enumerate(chunk, start):
            key, problems = validator.check(obj, now)
            if problems or key is None:
                failures.append(_failure(obj, position, problems))
                continue
            if releaser is not None:
                decision = releaser.decide(obj)
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
        with hub.db.write() as conn:
            submissions = SubmissionRepository(conn)
            state, current = submissions.lock_progress(submission_id)
            if state == "done":
                return True
            if current != start:  # another process moved it on: continue from there
                start = current
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
                releaser.release(conn, to_release)
            last = end >= total
            StatusRepository(conn).record_progress(
                submission.status_id, successes, chunk_failures, complete=last
            )
            submissions.advance(submission_id, end, done=last, now_us=now_us())
        start = end
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
