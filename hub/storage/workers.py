"""Repository of the workers' heartbeats: one row per run of a process that works the queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from hub.storage.tables import workers


@dataclass(frozen=True, slots=True)
class WorkerRow:
    id: str
    kind: str  # "worker" (a `hub worker` process) or "web" (the web process's pipeline thread)
    host: str
    pid: int
    version: str
    started_us: int
    last_seen_us: int
    stopped_us: int | None
    submissions: int
    objects: int
    current_submission: str | None
    current_since_us: int | None


_COLS = [workers.c[name] for name in WorkerRow.__slots__]


class WorkerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put(self, row: WorkerRow) -> None:
        """Record the worker as it is now (its row is made again if it was forgotten)."""
        values = {name: getattr(row, name) for name in WorkerRow.__slots__}
        changed = self.conn.execute(update(workers).where(workers.c.id == row.id).values(**values))
        if changed.rowcount == 0:
            self.conn.execute(insert(workers).values(**values))

    def all(self) -> list[WorkerRow]:
        """Every worker known, the most recently seen first."""
        rows = self.conn.execute(
            select(*_COLS).order_by(workers.c.last_seen_us.desc(), workers.c.id)
        )
        return [WorkerRow(*row) for row in rows]

    def count_alive(self, seen_since_us: int) -> int:
        """Workers running and heard from at or after `seen_since_us`."""
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(workers)
                .where(workers.c.stopped_us.is_(None), workers.c.last_seen_us >= seen_since_us)
            ).scalar_one()
        )

    def count_stale(self, seen_since_us: int) -> int:
        """Workers that did not stop cleanly and were last heard from before `seen_since_us`."""
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(workers)
                .where(workers.c.stopped_us.is_(None), workers.c.last_seen_us < seen_since_us)
            ).scalar_one()
        )

    def forget_seen_before(self, cutoff_us: int) -> int:
        """Delete the workers not heard from since `cutoff_us` (stopped or dead long ago)."""
        return int(
            self.conn.execute(delete(workers).where(workers.c.last_seen_us < cutoff_us)).rowcount
        )
