"""The in-process queue, for the embedded default where no Redis is configured.

Entries live in this process only; what a crash loses, the reconciler queues again from the
database (submissions still pending), so the guarantee is the same as with Redis.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time

from hub.queue.base import Delivery


class MemoryQueue:
    def __init__(self) -> None:
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._held: dict[str, tuple[Delivery, float]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def put(self, submission_id: str) -> None:
        self._queue.put(Delivery(submission_id, str(next(self._ids))))

    def take(self, timeout_s: float) -> Delivery | None:
        try:
            delivery = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        with self._lock:
            self._held[delivery.receipt] = (delivery, time.monotonic())
        return delivery

    def ack(self, delivery: Delivery) -> None:
        with self._lock:
            self._held.pop(delivery.receipt, None)

    def reclaim(self, idle_s: float, count: int = 10) -> list[Delivery]:
        now = time.monotonic()
        taken: list[Delivery] = []
        with self._lock:
            for receipt, (delivery, since) in list(self._held.items()):
                if len(taken) >= count:
                    break
                if now - since >= idle_s:
                    self._held[receipt] = (delivery, now)
                    taken.append(delivery)
        return taken

    def queued(self, submission_ids: list[str]) -> set[str]:
        with self._lock:
            held = {d.submission_id for d, _ in self._held.values()}
            waiting = {d.submission_id for d in list(self._queue.queue)}
        return (held | waiting) & set(submission_ids)

    def depth(self) -> int:
        with self._lock:
            return self._queue.qsize() + len(self._held)

    def close(self) -> None:
        pass
