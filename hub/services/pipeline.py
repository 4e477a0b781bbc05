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
from hub.stix.timestamps import format_us, now_us
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
    start = submission.processed_count
    while start < total:
        chunk = objects[start : start + chunk_size]
        end = start + len(chunk)
        now = now_us()
        news: list[NewVersion] = []
        keys = []
        failures: list[Detail] = []
        for position, obj in enumerate(chunk, start):
            key, problems = validator.check(obj, now)
            if problems or key is None:
                failures.append(_failure(obj, position, problems))
                continue
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
            outcomes = ObjectRepository(conn).add(
                submission.collection_id, news, submission.member_id
            )
            successes = [
                Detail(key.object_id, key.version_text or format_us(outcome.date_added_us))
                for key, outcome in zip(keys, outcomes, strict=True)
            ]
            last = end >= total
            StatusRepository(conn).record_progress(
                submission.status_id, successes, failures, complete=last
            )
            submissions.advance(submission_id, end, done=last, now_us=now_us())
        start = end
    return True


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
