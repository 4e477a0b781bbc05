"""Real processes for tests: the web app on loopback in this process, `hub worker` processes
started with `python -m hub.cli worker`, PostgreSQL and a private Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import requests
from sqlalchemy import func, select

from hub.services import Hub
from hub.storage.tables import object_versions, receipts
from tests.support.hubs import LiveServer, World, make_hub, make_world
from tests.support.redis_server import PrivateRedis
from tests.support.stix import TAXII, envelope


class Cluster:
    """The web app in this process, `hub worker` processes, PostgreSQL and a private Redis."""

    def __init__(
        self,
        tmp_path: Path,
        database_url: str,
        redis: PrivateRedis,
        queue: dict[str, int] | None = None,
    ) -> None:
        self.redis = redis
        sections: dict[str, dict[str, Any]] = {
            "storage": {"data_dir": str(tmp_path / "var"), "url": database_url},
            "queue": {"redis_url": redis.url, "reclaim_after_seconds": 2, **(queue or {})},
            "ingest": {"inline_max_objects": 0, "chunk_size": 100},
        }
        # The workers read the same settings from a file, as `hub worker` does in production.
        self.config = tmp_path / "hub.toml"
        self.config.write_text(_toml(sections), encoding="utf-8")
        storage = sections.pop("storage")
        self.hub: Hub = make_hub(tmp_path / "var", storage["url"], **sections)
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


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    """Tables of strings and integers as TOML (JSON's quoting of a string is TOML's)."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {orjson.dumps(value).decode()}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
