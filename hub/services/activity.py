"""What a member did and received, as the console shows it: its recent submissions with their
status, one submission's per-object outcomes, and what it pulled from each feed."""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import NotFound
from hub.services.context import Hub
from hub.storage.reports import ReadSummary, ReportRepository, SubmissionRow
from hub.storage.statuses import Status, StatusRepository
from hub.storage.submissions import Submission, SubmissionRepository


def recent_submissions(
    hub: Hub, member_id: str | None, *, limit: int = 20, offset: int = 0
) -> list[SubmissionRow]:
    """Newest first; every member's when member_id is None."""
    with hub.db.read() as conn:
        return ReportRepository(conn).submissions(member_id=member_id, limit=limit, offset=offset)


def received(hub: Hub, member_id: str) -> list[ReadSummary]:
    with hub.db.read() as conn:
        return ReportRepository(conn).reads_by_feed(member_id)


@dataclass(frozen=True)
class SubmissionDetail:
    submission: Submission
    status: Status


def submission(hub: Hub, member_id: str, submission_id: str) -> SubmissionDetail:
    """One submission of `member_id` with its status resource (another member's: NotFound)."""
    with hub.db.read() as conn:
        found = SubmissionRepository(conn).get(submission_id)
        if found is None or found.member_id != member_id:
            raise NotFound(f"no submission {submission_id!r}")
        status = StatusRepository(conn).get(found.status_id)
    assert status is not None
    return SubmissionDetail(found, status)
