"""The loop that drains the submission queue: `hub worker`, or a thread of the web process."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import OperationalError

from hub.queue import Delivery, QueueUnavailable
from hub.services import retention
from hub.services.context import Hub
from hub.services.heartbeat import Heartbeat
from hub.services.pipeline import process, reconcile

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, hub: Hub, *, poll_seconds: float = 1.0, kind: str = "worker") -> None:
        self.hub = hub
        self.poll_seconds = poll_seconds
        self.reclaim_after = float(hub.settings.queue.reclaim_after_seconds)
        self.stopping = threading.Event()
        self.processed = 0
        # kind: "worker" for `hub worker`, "web" for the web process's pipeline thread.
        self.heartbeat = Heartbeat(hub, kind)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Until stop(): record a heartbeat, and work the queue (see _work)."""
        self.heartbeat.start()
        try:
            self._work()
        finally:
            # Asked to stop: recorded as stopped. Anything else ends the beats, so the worker
            # turns stale, as one killed would.
            self.heartbeat.stop(clean=self.stopping.is_set())

    def _work(self) -> None:
        """Reconcile now and then, apply retention every interval, take over abandoned
        entries, process new ones."""
        last_reconcile = 0.0
        retention_every = self.hub.settings.retention.interval_seconds
        last_retention = time.monotonic()  # the first run comes one interval after start
        while not self.stopping.is_set():
            try:
                if time.monotonic() - last_reconcile >= self.reclaim_after / 2:
                    reconcile(self.hub)
                    last_reconcile = time.monotonic()
                if retention_every and time.monotonic() - last_retention >= retention_every:
                    last_retention = time.monotonic()
                    retention.run(self.hub)
                for delivery in self.hub.queue.reclaim(self.reclaim_after):
                    self._handle(delivery)
                taken = self.hub.queue.take(self.poll_seconds)
                if taken is not None:
                    self._handle(taken)
            except (QueueUnavailable, OperationalError) as exc:
                log.warning("worker waiting for its services: %s", exc)
                self.stopping.wait(1.0)
            except Exception:
                log.exception("worker loop error")
                self.stopping.wait(1.0)

    def _handle(self, delivery: Delivery) -> None:
        self.heartbeat.working_on(delivery.submission_id)
        done = False
        try:
            done = process(
                self.hub, delivery.submission_id, on_chunk=self.heartbeat.processed_objects
            )
            if done:
                self.hub.queue.ack(delivery)
                self.processed += 1
        finally:
            self.heartbeat.finished(done=done)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, name="hub-pipeline", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """True while the background thread started by start_thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
