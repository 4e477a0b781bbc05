"""The submission queue: a Redis Stream with a consumer group, or an in-process fallback.

Both implement `SubmissionQueue` (base.py); the same test-suite runs against both. The queue
only carries submission ids: the submission itself is already durable in the database before it
is queued, so a lost queue entry delays a submission (the reconciler queues it again) but never
loses it.
"""

from __future__ import annotations

from hub.config import Settings
from hub.queue.base import Delivery, QueueUnavailable, SubmissionQueue
from hub.queue.memory import MemoryQueue


def make_queue(settings: Settings, consumer: str) -> SubmissionQueue:
    """The queue the settings ask for; `consumer` names this process in the consumer group."""
    if settings.queue.redis_url:
        from hub.queue.redis_stream import RedisStreamQueue

        return RedisStreamQueue(
            settings.queue.redis_url,
            stream=settings.queue.stream,
            group=settings.queue.group,
            consumer=consumer,
        )
    return MemoryQueue()


__all__ = ["Delivery", "MemoryQueue", "QueueUnavailable", "SubmissionQueue", "make_queue"]
