"""Taking a submission in: limits, parsing, a durable record, then processing or queueing.

Nothing is acknowledged before the raw body and its status resource are committed; after that
the submission is processed here (small ones) or queued for a worker, and the reconciler makes
sure a submission still pending in the database is queued again whatever happens to the queue.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from hub.auth.principal import Principal
from hub.config import IngestSettings
from hub.errors import (
    BadRequest,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from hub.queue import QueueUnavailable
from hub.services import envelope, limits
from hub.services.collections import get_for
from hub.services.context import Hub
from hub.stix.timestamps import format_us, now_us
from hub.storage.statuses import Detail, Status, StatusRepository
from hub.storage.submissions import Submission, SubmissionRepository

log = logging.getLogger(__name__)

JSON_TYPES = ("application/taxii+json", "application/stix+json", "application/json")
CSV_TYPES = ("text/csv",)
TEXT_TYPES = ("text/plain",)


@dataclass
class Parsed:
    """What a body holds. A JSON body's objects are not kept: they are read from `body` (or the
    stored body) a chunk at a time. CSV and text lists are converted up front."""

    count: int  # objects to process
    objects: list[Any] | None = None
    body: bytes | bytearray | None = None
    early_failures: list[Detail] = field(default_factory=list)
    dated: frozenset[str] = frozenset()  # converted indicators whose row gave valid_from


def media_kind(content_type: str) -> str:
    """'json', 'csv' or 'text' for a Content-Type, or 415."""
    base = content_type.split(";")[0].strip().lower()
    if base in JSON_TYPES:
        return "json"
    if base in CSV_TYPES:
        return "csv"
    if base in TEXT_TYPES:
        return "text"
    accepted = ", ".join(JSON_TYPES + CSV_TYPES + TEXT_TYPES)
    raise UnsupportedMediaType(
        f"cannot read a body of type {content_type!r}; send one of {accepted}"
    )


def parse_body(
    raw: bytes | bytearray,
    content_type: str,
    *,
    received_us: int,
    limits: IngestSettings,
    default_tlp: str | None = None,
) -> Parsed:
    """What a body holds; deterministic, so a worker re-reading it gets the same objects."""
    kind = media_kind(content_type)
    if kind == "json":
        parsed = Parsed(envelope.check(envelope.blocks_of(raw), limits.max_depth), body=raw)
    else:
        parsed = _converted(raw, kind, received_us, default_tlp)
    if parsed.count + len(parsed.early_failures) > limits.max_objects:
        raise PayloadTooLarge(
            f"the submission has {parsed.count + len(parsed.early_failures)} objects; "
            f"the limit is {limits.max_objects} per submission: split it (`hub push` does)"
        )
    return parsed


def _converted(
    raw: bytes | bytearray, kind: str, received_us: int, default_tlp: str | None
) -> Parsed:
    from hub.stix.indicators import convert_csv, convert_text

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    convert = convert_csv if kind == "csv" else convert_text
    conversion = convert(
        text, submitter_ref=None, now=format_us(received_us), default_tlp=default_tlp
    )
    failures = [
        Detail(
            f"line {error.line}",
            None,
            f"{error.column + ': ' if error.column else ''}{error.message} ({error.value!r})",
        )
        for error in conversion.errors
    ]
    objects = list(conversion.objects)
    return Parsed(len(objects), objects, early_failures=failures, dated=conversion.dated)


def submit(
    hub: Hub,
    principal: Principal,
    collection_ref: str,
    raw: bytes | bytearray,
    content_type: str,
    *,
    channel: str,
    idempotency_key: str | None = None,
    default_tlp: str | None = None,
    request_id: str | None = None,
) -> tuple[Submission, Status]:
    """Record a submission durably, then process it (if small) or queue it. Returns it with its
    status resource as it stands when the request is answered.

    With an `idempotency_key`, the same key from the same member names the same submission: a
    client that lost the answer and sends again gets the first submission back, not a second.
    """
    view = get_for(hub, principal, collection_ref, need="write")
    digest = hashlib.sha256(raw).hexdigest()
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 200:
            raise BadRequest("an Idempotency-Key is 1 to 200 characters")
        earlier = _by_key(hub, principal.member_id, idempotency_key, digest)
        if earlier is not None:
            return earlier
    if default_tlp is not None:
        if media_kind(content_type) == "json":
            raise BadRequest("tlp applies to CSV and text lists; mark STIX objects themselves")
        try:
            default_tlp = tlp_marking_level(default_tlp)
        except ValueError as exc:
            raise BadRequest(f"tlp: {exc}") from None
    received = now_us()
    parsed = parse_body(
        raw,
        content_type,
        received_us=received,
        limits=hub.settings.ingest,
        default_tlp=default_tlp,
    )
    pending = parsed.count
    limits.check_objects(hub, principal.member_id, pending, received)
    status = Status(
        id=str(uuid.uuid4()),
        collection_id=view.collection.id,
        member_id=principal.member_id,
        status="pending" if pending else "complete",
        request_us=received,
        total_count=pending + len(parsed.early_failures),
        success_count=0,
        failure_count=len(parsed.early_failures),
        pending_count=pending,
        failures=parsed.early_failures,
    )
    submission = Submission(
        id=str(uuid.uuid4()),
        member_id=principal.member_id,
        collection_id=view.collection.id,
        status_id=status.id,
        channel=channel,
        content_type=content_type,
        received_us=received,
        size=len(raw),
        sha256=digest,
        state="pending" if pending else "done",
        processed_count=0,
        enqueued_us=received,
        finished_us=None if pending else received,
        idempotency_key=idempotency_key,
        default_tlp=default_tlp,
        request_id=request_id,
    )
    try:
        with hub.db.write() as conn:
            StatusRepository(conn).add(status)
            SubmissionRepository(conn).add(submission, raw)
    except IntegrityError:
        # The same key, sent twice at once: the other request recorded it first.
        assert idempotency_key is not None
        earlier = _by_key(hub, principal.member_id, idempotency_key, digest)
        if earlier is None:
            raise
        return earlier
    if pending and pending <= hub.settings.ingest.inline_max_objects:
        from hub.services.pipeline import process

        process(hub, submission.id, parsed=parsed)
    elif pending:
        try:
            hub.queue.put(submission.id)
        except QueueUnavailable as exc:  # durable already: the reconciler will queue it
            log.warning("submission %s recorded but not queued: %s", submission.id, exc)
    with hub.db.read() as conn:
        current = StatusRepository(conn).get(status.id)
        stored = SubmissionRepository(conn).get(submission.id)
    assert current is not None
    assert stored is not None
    return stored, current


def _by_key(hub: Hub, member_id: str, key: str, digest: str) -> tuple[Submission, Status] | None:
    with hub.db.read() as conn:
        earlier = SubmissionRepository(conn).by_idempotency_key(member_id, key)
        status = StatusRepository(conn).get(earlier.status_id) if earlier else None
    if earlier is None or status is None:
        return None
    if earlier.sha256 != digest:
        raise Conflict(
            f"Idempotency-Key {key!r} was used for another body (submission {earlier.id})"
        )
    return earlier, status


def tlp_marking_level(level: str) -> str:
    """A TLP level name as the indicator converter accepts it, or ValueError."""
    from hub.stix.indicators import tlp_marking_id

    tlp_marking_id(level)
    return level


def find_submission(hub: Hub, principal: Principal, submission_id: str) -> Submission | None:
    """A submission of the caller's own member; anyone else's does not exist for it."""
    with hub.db.read() as conn:
        submission = SubmissionRepository(conn).get(submission_id)
    if submission is None or submission.member_id != principal.member_id:
        return None
    return submission
