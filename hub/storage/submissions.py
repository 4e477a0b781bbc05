"""Repository for submissions: the raw bodies members sent, and how far processing got."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from hub.storage.tables import submission_parts, submissions

PART_SIZE = 1 << 20  # bytes of the body per row of submission_parts


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    member_id: str
    collection_id: str
    status_id: str
    channel: str
    content_type: str
    received_us: int
    size: int
    sha256: str
    state: str
    processed_count: int
    enqueued_us: int
    finished_us: int | None
    idempotency_key: str | None = None
    default_tlp: str | None = None
    request_id: str | None = None


_COLS = [submissions.c[name] for name in Submission.__slots__]


class SubmissionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, submission: Submission, raw: bytes | bytearray | memoryview) -> None:
        """Record a submission and its body (in parts, without copying the body)."""
        values = {name: getattr(submission, name) for name in Submission.__slots__}
        self.conn.execute(insert(submissions).values(**values))
        view = memoryview(raw)
        self.conn.execute(
            insert(submission_parts),
            [
                {"submission_id": submission.id, "part": n, "data": view[start : start + PART_SIZE]}
                for n, start in enumerate(range(0, max(len(view), 1), PART_SIZE))
            ],
        )

    def get(self, submission_id: str) -> Submission | None:
        row = self.conn.execute(select(*_COLS).where(submissions.c.id == submission_id)).first()
        return Submission(*row) if row else None

    def by_status(self, status_id: str) -> Submission | None:
        row = self.conn.execute(select(*_COLS).where(submissions.c.status_id == status_id)).first()
        return Submission(*row) if row else None

    def by_idempotency_key(self, member_id: str, key: str) -> Submission | None:
        row = self.conn.execute(
            select(*_COLS).where(
                submissions.c.member_id == member_id, submissions.c.idempotency_key == key
            )
        ).first()
        return Submission(*row) if row else None

    def raw(self, submission_id: str) -> bytes:
        """The whole body (for CSV and text lists; JSON bodies are read a part at a time)."""
        data = self.conn.execute(
            select(submission_parts.c.data)
            .where(submission_parts.c.submission_id == submission_id)
            .order_by(submission_parts.c.part)
        ).scalars()
        return b"".join(bytes(part) for part in data)

    def part(self, submission_id: str, number: int) -> bytes | None:
        """Part `number` of the body (PART_SIZE bytes or fewer), None past the last."""
        value = self.conn.execute(
            select(submission_parts.c.data).where(
                submission_parts.c.submission_id == submission_id,
                submission_parts.c.part == number,
            )
        ).scalar()
        return None if value is None else bytes(value)

    def lock_progress(self, submission_id: str) -> tuple[str, int]:
        """(state, processed_count), locking the row until the transaction ends."""
        row = self.conn.execute(
            select(submissions.c.state, submissions.c.processed_count)
            .where(submissions.c.id == submission_id)
            .with_for_update()
        ).one()
        return str(row[0]), int(row[1])

    def advance(self, submission_id: str, processed: int, *, done: bool, now_us: int) -> None:
        values: dict[str, object] = {"processed_count": processed}
        if done:
            values.update(state="done", finished_us=now_us)
        self.conn.execute(
            update(submissions).where(submissions.c.id == submission_id).values(**values)
        )

    def stale_pending(self, older_than_us: int, limit: int = 1000) -> list[str]:
        """Pending submissions queued before `older_than_us`, oldest first."""
        rows = self.conn.execute(
            select(submissions.c.id)
            .where(submissions.c.state == "pending", submissions.c.enqueued_us < older_than_us)
            .order_by(submissions.c.enqueued_us)
            .limit(limit)
        )
        return [str(r[0]) for r in rows]

    def mark_enqueued(self, submission_ids: list[str], now_us: int) -> None:
        if submission_ids:
            self.conn.execute(
                update(submissions)
                .where(submissions.c.id.in_(submission_ids))
                .values(enqueued_us=now_us)
            )

    def pending_count(self) -> int:
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(submissions)
                .where(submissions.c.state == "pending")
            ).scalar_one()
        )


def objects_since(conn: Connection, member_id: str, since_us: int) -> tuple[int, int | None]:
    """Objects a member submitted since `since_us` (from its status resources), and when the
    oldest of those submissions was received."""
    from hub.storage.tables import statuses

    used, oldest = conn.execute(
        select(
            func.coalesce(func.sum(statuses.c.total_count), 0), func.min(submissions.c.received_us)
        )
        .select_from(submissions.join(statuses, submissions.c.status_id == statuses.c.id))
        .where(submissions.c.member_id == member_id, submissions.c.received_us >= since_us)
    ).one()
    return int(used), None if oldest is None else int(oldest)
