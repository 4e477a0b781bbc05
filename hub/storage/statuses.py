"""Repository for TAXII status resources and their per-object details."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, insert, select, update

from hub.storage.tables import status_details, statuses


@dataclass(frozen=True, slots=True)
class Detail:
    object_id: str
    version: str | None
    message: str | None = None


@dataclass
class Status:
    id: str
    collection_id: str
    member_id: str
    status: str  # pending | complete
    request_us: int
    total_count: int
    success_count: int
    failure_count: int
    pending_count: int
    successes: list[Detail] = field(default_factory=list)
    failures: list[Detail] = field(default_factory=list)
    pendings: list[Detail] = field(default_factory=list)


_COUNTS = ("total_count", "success_count", "failure_count", "pending_count")


class StatusRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, status: Status) -> None:
        self.conn.execute(
            insert(statuses).values(
                id=status.id,
                collection_id=status.collection_id,
                member_id=status.member_id,
                status=status.status,
                request_us=status.request_us,
                **{name: getattr(status, name) for name in _COUNTS},
            )
        )
        self._details(
            status.id,
            [
                ("success", status.successes),
                ("failure", status.failures),
                ("pending", status.pendings),
            ],
        )

    def record_progress(
        self, status_id: str, successes: list[Detail], failures: list[Detail], *, complete: bool
    ) -> None:
        """Move these objects out of pending, counts and details in one statement each."""
        moved = len(successes) + len(failures)
        values: dict[str, object] = {
            "success_count": statuses.c.success_count + len(successes),
            "failure_count": statuses.c.failure_count + len(failures),
            "pending_count": statuses.c.pending_count - moved,
        }
        if complete:
            values["status"] = "complete"
        self.conn.execute(update(statuses).where(statuses.c.id == status_id).values(**values))
        self._details(status_id, [("success", successes), ("failure", failures)])

    def _details(self, status_id: str, groups: list[tuple[str, list[Detail]]]) -> None:
        """One row per outcome, holding its details as a JSON list."""
        rows = [
            {
                "status_id": status_id,
                "outcome": outcome,
                "details": orjson.dumps(
                    [(d.object_id, d.version, d.message) for d in details]
                ).decode(),
            }
            for outcome, details in groups
            if details
        ]
        if rows:
            self.conn.execute(insert(status_details), rows)

    def get(self, status_id: str) -> Status | None:
        row = self.conn.execute(
            select(
                statuses.c.id,
                statuses.c.collection_id,
                statuses.c.member_id,
                statuses.c.status,
                statuses.c.request_us,
                *(statuses.c[name] for name in _COUNTS),
            ).where(statuses.c.id == status_id)
        ).first()
        if row is None:
            return None
        status = Status(*row)
        groups = self.conn.execute(
            select(status_details.c.outcome, status_details.c.details)
            .where(status_details.c.status_id == status_id)
            .order_by(status_details.c.id)
        )
        lists = {
            "success": status.successes,
            "failure": status.failures,
            "pending": status.pendings,
        }
        for outcome, details in groups:
            lists[outcome].extend(Detail(*detail) for detail in orjson.loads(details))
        return status
