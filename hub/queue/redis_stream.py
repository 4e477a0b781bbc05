"""The submission queue on a Redis Stream with a consumer group.

`XADD` queues, `XREADGROUP` hands an entry to one consumer, `XACK` + `XDEL` retire it, and
`XAUTOCLAIM` lets a live worker take over entries a dead one held. A set beside the stream
(`<stream>:queued`, changed in the same MULTI as the stream) says which submissions are in it,
so the reconciler re-queues only what is really missing. If Redis restarts empty (or is
flushed) the group is recreated on first use, the set is empty, and the reconciler re-queues
from the database everything the lost entries carried.
"""

from __future__ import annotations

import redis
from redis.exceptions import RedisError, ResponseError

from hub.queue.base import Delivery, QueueUnavailable

FIELD = "submission"
# Keep the stream bounded even if acknowledgements are lost; far above any real backlog.
MAX_LENGTH = 1_000_000


class RedisStreamQueue:
    def __init__(self, url: str, *, stream: str, group: str, consumer: str) -> None:
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self._redis = redis.Redis.from_url(
            url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        )
        self._group_ready = False

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _call(self, action: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Run a command, recreating the group once if Redis lost it; wrap connection errors."""
        try:
            self._ensure_group()
            try:
                return func(*args, **kwargs)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self._group_ready = False
                self._ensure_group()
                return func(*args, **kwargs)
        except RedisError as exc:
            self._group_ready = False
            raise QueueUnavailable(f"Redis {action} failed: {exc}") from exc

    @property
    def members_key(self) -> str:
        return f"{self.stream}:queued"

    def put(self, submission_id: str) -> None:
        def add() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.sadd(self.members_key, submission_id)
            pipe.xadd(self.stream, {FIELD: submission_id}, maxlen=MAX_LENGTH, approximate=True)
            pipe.execute()

        self._call("XADD", add)

    def take(self, timeout_s: float) -> Delivery | None:
        block = max(1, int(timeout_s * 1000))
        reply = self._call(
            "XREADGROUP",
            self._redis.xreadgroup,
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=1,
            block=block,
        )
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                return _delivery(entry_id, fields)
        return None

    def ack(self, delivery: Delivery) -> None:
        def retire() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.xack(self.stream, self.group, delivery.receipt)
            pipe.xdel(self.stream, delivery.receipt)
            pipe.srem(self.members_key, delivery.submission_id)
            pipe.execute()

        self._call("XACK", retire)

    def reclaim(self, idle_s: float, count: int = 10) -> list[Delivery]:
        reply = self._call(
            "XAUTOCLAIM",
            self._redis.xautoclaim,
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=int(idle_s * 1000),
            start_id="0-0",
            count=count,
        )
        entries = reply[1] if reply else []
        # An entry deleted while still pending comes back without fields: just retire it.
        empty = [entry_id for entry_id, fields in entries if not fields]
        if empty:
            self._call("XACK", self._redis.xack, self.stream, self.group, *empty)
        return [_delivery(entry_id, fields) for entry_id, fields in entries if fields]

    def queued(self, submission_ids: list[str]) -> set[str]:
        if not submission_ids:
            return set()
        flags = self._call("SMISMEMBER", self._redis.smismember, self.members_key, submission_ids)
        return {sid for sid, flag in zip(submission_ids, flags, strict=True) if flag}

    def depth(self) -> int:
        return int(self._call("XLEN", self._redis.xlen, self.stream))

    def close(self) -> None:
        self._redis.close()


def _delivery(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Delivery:
    receipt = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    value = fields.get(FIELD.encode()) or fields.get(FIELD)  # type: ignore[call-overload]
    submission = value.decode() if isinstance(value, bytes) else str(value)
    return Delivery(submission, receipt)
