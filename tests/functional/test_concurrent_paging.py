"""A client paging through a collection while others write to it skips and repeats nothing."""

from __future__ import annotations

import threading

from taxii2client.v21 import Collection

from tests.support.hubs import LiveServer, World
from tests.support.stix import envelope, indicator


def test_paging_while_writers_add(engine_server: tuple[World, LiveServer]) -> None:
    world, live = engine_server
    url = live.collection_url(world.trust_group_id)
    reader = Collection(url, user=world.cert.key_id, password=world.cert.secret)
    initial = [indicator(f"192.0.2.{i % 250}") for i in range(200)]
    Collection(url, user=world.acme.key_id, password=world.acme.secret).add_objects(
        envelope(*initial)
    )

    written: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        writer = Collection(url, user=world.acme.key_id, password=world.acme.secret)
        try:
            while not stop.is_set() and len(written) < 600:
                batch = [indicator("198.51.100.1") for _ in range(7)]
                writer.add_objects(envelope(*batch))
                written.extend(o["id"] for o in batch)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for thread in writers:
        thread.start()
    seen: list[str] = []
    try:
        response = reader.get_objects(limit=13)
        seen += [o["id"] for o in response.get("objects", [])]
        while response.get("more"):
            response = reader.get_objects(limit=13, next=response["next"])
            seen += [o["id"] for o in response.get("objects", [])]
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=60)
    assert not errors
    assert len(seen) > len(initial), "the writers did not overlap the paging"
    assert len(seen) == len(set(seen)), "an object was repeated"
    assert seen[:200] == [o["id"] for o in initial], "an object written before paging was skipped"
    # Whatever arrived while paging was seen in the order it was written, without gaps: each
    # writer's batches are contiguous in seq order, so what was seen is a prefix of the store.
    stored = []
    response = reader.get_objects(limit=1000)
    stored += [o["id"] for o in response.get("objects", [])]
    while response.get("more"):
        response = reader.get_objects(limit=1000, next=response["next"])
        stored += [o["id"] for o in response.get("objects", [])]
    assert seen == stored[: len(seen)]
    assert set(stored) == {o["id"] for o in initial} | set(written)
