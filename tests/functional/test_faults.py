"""Faults with real processes: workers killed with SIGKILL, Redis restarted or flushed mid-load.

Whatever happens, at the end every valid object is stored exactly once, released exactly once
to each feed the policy sends it to (with one receipt each), and every status resource is
complete and adds up.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster, wait_for
from tests.support.redis_server import PrivateRedis
from tests.support.stix import indicator

SUBMISSIONS = 6
PER_SUBMISSION = 1500


@pytest.fixture
def cluster(tmp_path: Path, pg_schema_url: str, private_redis: PrivateRedis) -> Iterator[Cluster]:
    running = Cluster(tmp_path, pg_schema_url, private_redis)
    yield running
    running.close()


@pytest.mark.parametrize("fault", ["kill-worker", "restart-redis", "flush-redis"])
def test_nothing_lost_or_duplicated(cluster: Cluster, fault: str) -> None:
    batches = [
        [indicator(f"10.{b}.{i // 250}.{i % 250}") for i in range(PER_SUBMISSION)]
        for b in range(SUBMISSIONS)
    ]
    bad = {**indicator(), "pattern": "[broken"}
    batches[0].append(bad)  # one invalid object: a failure, never stored
    first = cluster.start_worker()
    if fault != "kill-worker":
        cluster.start_worker()
    status_ids = [cluster.submit(batch) for batch in batches]
    total_pending = sum(len(b) for b in batches)
    # Let the workers get some way into the load, then strike.
    wait_for(lambda: cluster.progress(status_ids) < total_pending * 0.8, 60, "progress")
    assert cluster.progress(status_ids) > 0, "the load finished before the fault"
    if fault == "kill-worker":
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        cluster.start_worker()
    elif fault == "restart-redis":
        cluster.redis.restart()
    else:
        cluster.redis.flush()
    wait_for(lambda: cluster.progress(status_ids) == 0, 120, "every submission to complete")

    expected_ids = {o["id"] for batch in batches for o in batch} - {bad["id"]}
    assert cluster.stored() == len(expected_ids)
    # No TLP: the default (AMBER) sends each to the members and government feeds, once.
    assert cluster.stored("members") == len(expected_ids)
    assert cluster.stored("government") == len(expected_ids)
    assert cluster.stored("public") == 0
    assert cluster.receipts() == 2 * len(expected_ids)
    for status_id, batch in zip(status_ids, batches, strict=True):
        status = cluster.status(status_id)
        assert status["status"] == "complete"
        assert status["total_count"] == len(batch)
        assert status["success_count"] + status["failure_count"] == len(batch)
        assert status["pending_count"] == 0
        assert len(status["successes"]) == status["success_count"]  # each object counted once
    first_status = cluster.status(status_ids[0])
    assert [f["id"] for f in first_status["failures"]] == [bad["id"]]
