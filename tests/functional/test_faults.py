"""Faults with real processes: workers killed with SIGKILL, Redis restarted or flushed mid-load.

Whatever happens, at the end every valid object is stored exactly once, released exactly once
to each feed the policy sends it to (with one receipt each), and every status resource is
complete and adds up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from sqlalchemy import func, select

from hub.services import Hub
from hub.storage.tables import object_versions, receipts
from tests.support.hubs import LiveServer, World, make_hub, make_world
from tests.support.redis_server import PrivateRedis
from tests.support.stix import TAXII, envelope, indicator

SUBMISSIONS = 6
PER_SUBMISSION = 1500


class Cluster:
    """The web app in this process, `hub worker` processes, PostgreSQL and a private Redis."""

    def __init__(self, tmp_path: Path, database_url: str, redis: PrivateRedis) -> None:
        self.redis = redis
        self.config = tmp_path / "hub.toml"
        self.config.write_text(
            f'[storage]\ndata_dir = "{tmp_path / "var"}"\nurl = "{database_url}"\n'
            f'[queue]\nredis_url = "{redis.url}"\nreclaim_after_seconds = 2\n'
            "[ingest]\ninline_max_objects = 0\nchunk_size = 100\n"
        )
        self.hub: Hub = make_hub(
            tmp_path / "var",
            database_url,
            queue={"redis_url": redis.url, "reclaim_after_seconds": 2},
            ingest={"inline_max_objects": 0, "chunk_size": 100},
        )
        self.world: World = make_world(self.hub)
        self.web = LiveServer(self.hub)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs = tmp_path
        self._log_files: list[Any] = []

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115
        self._log_files.append(log)
        env = {**os.environ, "HUB_CONFIG": str(self.config)}
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "worker"], env=env, stdout=log, stderr=log
        )
        self.workers.append(process)
        return process

    def submit(self, objects: list[dict[str, Any]]) -> str:
        response = requests.post(
            self.web.collection_url(self.world.collection_ids["inbox"]) + "objects/",
            data=orjson.dumps(envelope(*objects)),
            headers={"Accept": TAXII, "Content-Type": TAXII},
            auth=self.world.acme.basic,
            timeout=60,
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def status(self, status_id: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.web.api_root}status/{status_id}/",
            headers={"Accept": TAXII},
            auth=self.world.acme.basic,
            timeout=30,
        )
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    def progress(self, status_ids: list[str]) -> int:
        return sum(self.status(s)["pending_count"] for s in status_ids)

    def stored(self, alias: str = "inbox", object_type: str = "indicator") -> int:
        with self.hub.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(object_versions)
                    .where(
                        object_versions.c.collection_id == self.world.collection_ids[alias],
                        object_versions.c.type == object_type,
                    )
                ).scalar_one()
            )

    def receipts(self) -> int:
        with self.hub.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(receipts)).scalar_one())

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self._log_files:
            log.close()
        self.web.stop()
        self.hub.close()


@pytest.fixture
def cluster(tmp_path: Path, pg_schema_url: str, private_redis: PrivateRedis) -> Iterator[Cluster]:
    running = Cluster(tmp_path, pg_schema_url, private_redis)
    yield running
    running.close()


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


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
    _wait(lambda: cluster.progress(status_ids) < total_pending * 0.8, 60, "progress")
    assert cluster.progress(status_ids) > 0, "the load finished before the fault"
    if fault == "kill-worker":
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        cluster.start_worker()
    elif fault == "restart-redis":
        cluster.redis.restart()
    else:
        cluster.redis.flush()
    _wait(lambda: cluster.progress(status_ids) == 0, 120, "every submission to complete")

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
