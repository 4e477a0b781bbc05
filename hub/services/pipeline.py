"""Processing a recorded submission: validate each object, store the valid ones, chunk by chunk.

Each chunk is one transaction that stores the chunk's valid objects, moves them out of pending
in the status resource (with their outcome) and advances the submission's `processed_count`. A
worker killed at any point leaves the database at a chunk boundary, and the next one resumes
there: every object is counted once, every version stored once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import islice
from typing import Any

import orjson

from hub.services import envelope
from hub.services.context import Hub
from hub.services.ingest import Parsed, media_kind, parse_body
from hub.stix.indicators import keep_history
from hub.stix.timestamps import format_us, now_us
from hub.storage.objects import NewVersion, ObjectRepository
from hub.storage.statuses import Detail, StatusRepository
from hub.storage.submissions import Submission, SubmissionRepository

log = logging.getLogger(__name__)
_HISTORY_BATCH = 500


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
    chunk_size = hub.settings.ingest.chunk_size
    validator = hub.validator
    start = submission.processed_count
    chunks = _chunks(_objects(hub, submission, parsed, start), chunk_size)
    while (taken := next(chunks, None)) is not None:
        chunk, last = taken
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
                chunks = _chunks(_objects(hub, submission, parsed, start), chunk_size)
                continue
            outcomes = ObjectRepository(conn).add(
                submission.collection_id, news, submission.member_id
            )
            successes = [
                Detail(key.object_id, key.version_text or format_us(outcome.date_added_us))
                for key, outcome in zip(keys, outcomes, strict=True)
            ]
            StatusRepository(conn).record_progress(
                submission.status_id, successes, failures, complete=last
            )
            submissions.advance(submission_id, end, done=last, now_us=now_us())
        hub.db.wrote(len(news))
        start = end
    return True


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
