"""Workers' heartbeats: each process that works the queue records itself in the database every
`queue.heartbeat_seconds`, so the dashboard and /metrics know which workers are alive on any
host, which stopped, and which went silent without stopping (killed, or hung)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, replace

from hub import __version__
from hub.services.context import Hub
from hub.stix.timestamps import now_us
from hub.storage.workers import WorkerRepository, WorkerRow

log = logging.getLogger(__name__)

_HOUR_US = 3600 * 1_000_000


class Heartbeat:
    """One worker's record, written by a thread of its own: a long submission never delays a
    beat, and a process that dies or is killed stops beating and turns stale."""

    def __init__(self, hub: Hub, kind: str) -> None:
        self.hub = hub
        started = now_us()
        self._row = WorkerRow(
            id=str(uuid.uuid4()),
            kind=kind,
            host=socket.gethostname()[:255],
            pid=os.getpid(),
            version=__version__,
            started_us=started,
            last_seen_us=started,
            stopped_us=None,
            submissions=0,
            objects=0,
            current_submission=None,
            current_since_us=None,
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def id(self) -> str:
        return self._row.id

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-heartbeat", daemon=True)
        self._thread.start()

    def working_on(self, submission_id: str) -> None:
        with self._lock:
            self._row = replace(
                self._row, current_submission=submission_id, current_since_us=now_us()
            )

    def processed_objects(self, count: int) -> None:
        with self._lock:
            self._row = replace(self._row, objects=self._row.objects + count)

    def finished(self, *, done: bool) -> None:
        """The submission worked on is over (done, or left for another worker)."""
        with self._lock:
            self._row = replace(
                self._row,
                submissions=self._row.submissions + (1 if done else 0),
                current_submission=None,
                current_since_us=None,
            )

    def beat(self, *, stopped: bool = False) -> None:
        """Record the worker now, and forget workers silent for `worker_forget_hours`."""
        now = now_us()
        with self._lock:
            ended = now if stopped else self._row.stopped_us
            self._row = replace(self._row, last_seen_us=now, stopped_us=ended)
            row = self._row
        forget_before = now - self.hub.settings.queue.worker_forget_hours * _HOUR_US
        with self.hub.db.write() as conn:
            repo = WorkerRepository(conn)
            repo.put(row)
            repo.forget_seen_before(forget_before)

    def _run(self) -> None:
        interval = self.hub.settings.queue.heartbeat_seconds
        while True:
            try:
                self.beat()
            except Exception as exc:  # the database is away: the next beat tries again
                log.warning("worker heartbeat not recorded: %s", exc)
            if self._stopping.wait(interval):
                return

    def stop(self, *, clean: bool) -> None:
        """Stop beating; a clean stop records the worker as stopped, else it turns stale."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
        if clean:
            try:
                self.beat(stopped=True)
            except Exception as exc:
                log.warning("worker stop not recorded: %s", exc)


@dataclass(frozen=True)
class WorkerView:
    row: WorkerRow
    state: str  # "alive", "stale" (not heard from for worker_stale_seconds) or "stopped"


def state_of(row: WorkerRow, now: int, stale_after_us: int) -> str:
    if row.stopped_us is not None:
        return "stopped"
    return "stale" if now - row.last_seen_us > stale_after_us else "alive"


def _stale_after_us(hub: Hub) -> int:
    return hub.settings.queue.worker_stale_seconds * 1_000_000


def workers(hub: Hub) -> list[WorkerView]:
    """Every worker the database knows, the most recently seen first, with its state."""
    now = now_us()
    with hub.db.read() as conn:
        rows = WorkerRepository(conn).all()
    stale_after = _stale_after_us(hub)
    return [WorkerView(row, state_of(row, now, stale_after)) for row in rows]


def counts(hub: Hub) -> tuple[int, int]:
    """(alive, stale) workers now."""
    since = now_us() - _stale_after_us(hub)
    with hub.db.read() as conn:
        repo = WorkerRepository(conn)
        return repo.count_alive(since), repo.count_stale(since)
