"""One suite, run against the in-process queue and the Redis Stream queue."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from hub.queue import MemoryQueue, QueueUnavailable, SubmissionQueue
from hub.queue.redis_stream import RedisStreamQueue
from tests.support.redis_server import PrivateRedis


def _redis_pair(url: str) -> tuple[RedisStreamQueue, RedisStreamQueue]:
    stream = f"test:{uuid.uuid4().hex}"
    return (
        RedisStreamQueue(url, stream=stream, group="g", consumer="one"),
        RedisStreamQueue(url, stream=stream, group="g", consumer="two"),
    )


@pytest.fixture(params=["memory", "redis"])
def queues(request: pytest.FixtureRequest) -> Iterator[tuple[SubmissionQueue, SubmissionQueue]]:
    """Two consumers of one queue (for memory: one object, as one process would share it)."""
    if request.param == "memory":
        queue = MemoryQueue()
        yield queue, queue
        return
    url: str = request.getfixturevalue("shared_redis_url")
    one, two = _redis_pair(url)
    yield one, two
    one._redis.delete(one.stream, one.members_key)
    one.close()
    two.close()


def test_both_implement_the_interface(queues: tuple[SubmissionQueue, SubmissionQueue]) -> None:
    for queue in queues:
        assert isinstance(queue, SubmissionQueue)


def test_put_take_ack(queues: tuple[SubmissionQueue, SubmissionQueue]) -> None:
    queue, _ = queues
    queue.put("s1")
    queue.put("s2")
    first = queue.take(1.0)
    second = queue.take(1.0)
    assert first is not None and second is not None
    assert [first.submission_id, second.submission_id] == ["s1", "s2"]
    assert queue.depth() == 2  # held until acknowledged
    queue.ack(first)
    queue.ack(second)
    assert queue.depth() == 0
    assert queue.take(0.05) is None


def test_each_entry_goes_to_one_consumer(queues: tuple[SubmissionQueue, SubmissionQueue]) -> None:
    one, two = queues
    for i in range(6):
        one.put(f"s{i}")
    taken = []
    for consumer in (one, two, one, two, one, two):
        delivery = consumer.take(1.0)
        assert delivery is not None
        taken.append(delivery.submission_id)
    assert sorted(taken) == [f"s{i}" for i in range(6)]


def test_an_abandoned_entry_is_reclaimed_after_the_timeout(
    queues: tuple[SubmissionQueue, SubmissionQueue],
) -> None:
    dead, alive = queues
    dead.put("held")
    assert dead.take(1.0) is not None  # taken, never acknowledged: its consumer died
    assert alive.reclaim(idle_s=5.0) == []  # not idle long enough yet
    time.sleep(0.3)
    reclaimed = alive.reclaim(idle_s=0.2)
    assert [d.submission_id for d in reclaimed] == ["held"]
    alive.ack(reclaimed[0])
    assert alive.depth() == 0


def test_redis_queue_survives_a_flush_and_a_restart(private_redis: PrivateRedis) -> None:
    queue, _ = _redis_pair(private_redis.url)
    queue.put("before")
    private_redis.flush()  # the stream, the group and the set are gone
    assert queue.queued(["before"]) == set()
    queue.put("after-flush")
    delivery = queue.take(1.0)
    assert delivery is not None and delivery.submission_id == "after-flush"
    queue.ack(delivery)
    private_redis.stop()
    with pytest.raises(QueueUnavailable):
        queue.put("while-down")
    private_redis.start()
    queue.put("after-restart")
    delivery = queue.take(1.0)
    assert delivery is not None and delivery.submission_id == "after-restart"
    queue.close()


def test_queued_says_what_the_queue_holds(queues: tuple[SubmissionQueue, SubmissionQueue]) -> None:
    queue, _ = queues
    queue.put("waiting")
    queue.put("taken")
    assert queue.queued(["waiting", "taken", "never"]) == {"waiting", "taken"}
    first = queue.take(1.0)
    assert first is not None
    assert queue.queued(["waiting", "taken"]) == {"waiting", "taken"}  # held counts
    assert first.submission_id == "waiting"
    queue.ack(first)
    assert queue.queued(["waiting", "taken", "never"]) == {"taken"}
