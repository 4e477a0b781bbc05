"""Workers' heartbeats, with real processes: `hub worker` processes on PostgreSQL and Redis
record themselves, one killed with SIGKILL turns stale, one stopped with SIGTERM is recorded
as stopped; the web process's pipeline thread does the same; /metrics counts the live ones
and the dashboard lists them all."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import hub as hub_package
from hub.services import Hub, heartbeat
from hub.stix.timestamps import now_us
from hub.storage.workers import WorkerRepository, WorkerRow
from tests.support.cluster import Cluster, wait_for
from tests.support.console import ADMIN, Console
from tests.support.hubs import LiveServer, make_hub, make_world
from tests.support.redis_server import PrivateRedis
from tests.support.stix import indicator

# A beat a second, stale after three silent seconds: a killed worker shows within seconds.
QUEUE = {"heartbeat_seconds": 1, "worker_stale_seconds": 3}
DAY_US = 86_400 * 1_000_000


@pytest.fixture
def cluster(tmp_path: Path, pg_schema_url: str, private_redis: PrivateRedis) -> Iterator[Cluster]:
    running = Cluster(tmp_path, pg_schema_url, private_redis, queue=QUEUE)
    yield running
    running.close()


def states(hub: Hub) -> dict[int, str]:
    """Each `hub worker` process's state, by process id."""
    return {v.row.pid: v.state for v in heartbeat.workers(hub) if v.row.kind == "worker"}


def metric(url: str, name: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=30).text
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


def dashboard(cluster_app: LiveServer) -> str:
    console = Console(cluster_app.app)
    assert console.sign_in(*ADMIN).status_code == 302
    return console.get("/console/dashboard").get_data(as_text=True)


def test_worker_processes_record_themselves_and_a_killed_one_turns_stale(
    cluster: Cluster,
) -> None:
    first, second = cluster.start_worker(), cluster.start_worker()
    both = {first.pid: "alive", second.pid: "alive"}
    wait_for(lambda: states(cluster.hub) == both, 60, "both workers to record themselves")
    assert metric(cluster.web.url, "hub_workers_alive") == 2

    batches = [[indicator(f"198.51.{b}.{i}") for i in range(150)] for b in range(4)]
    status_ids = [cluster.submit(batch) for batch in batches]
    wait_for(lambda: cluster.progress(status_ids) == 0, 120, "every submission to complete")

    def totals() -> tuple[int, int]:
        rows = [v.row for v in heartbeat.workers(cluster.hub)]
        return sum(r.submissions for r in rows), sum(r.objects for r in rows)

    # Between them the two did all the work (the next beats carry the last counts).
    wait_for(lambda: totals() == (4, 600), 30, "the heartbeats to carry the counts")
    for view in heartbeat.workers(cluster.hub):
        row = view.row
        assert (row.kind, row.host, row.version) == (
            "worker",
            socket.gethostname(),
            hub_package.__version__,
        )
        assert row.started_us <= row.last_seen_us
        assert row.current_submission is None
    page = dashboard(cluster.web)
    assert f'<td class="num">{first.pid}</td>' in page
    assert page.count('<span class="badge alive">alive</span>') == 2
    assert 'Pipeline health: <span class="health ok">ok</span>' in page

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    wait_for(lambda: states(cluster.hub)[first.pid] == "stale", 60, "the killed worker to be stale")
    assert states(cluster.hub)[second.pid] == "alive"
    assert metric(cluster.web.url, "hub_workers_alive") == 1
    assert metric(cluster.web.url, "hub_workers_stale") == 1
    page = dashboard(cluster.web)
    assert '<span class="badge stale">stale</span>' in page
    assert "1 worker went silent without stopping" in page
    assert 'Pipeline health: <span class="health ok">ok</span>' in page  # the other works on

    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0
    # A clean stop is recorded on the way out: no waiting for it to go silent.
    assert states(cluster.hub) == {first.pid: "stale", second.pid: "stopped"}
    assert metric(cluster.web.url, "hub_workers_alive") == 0
    page = dashboard(cluster.web)
    assert 'Pipeline health: <span class="health bad">stalled</span>' in page
    assert "no hub worker has been heard from in the last 3 seconds" in page


def _old(kind: str, *, stopped: bool) -> WorkerRow:
    """A worker last heard from two days ago."""
    seen = now_us() - 2 * DAY_US
    return WorkerRow(
        id=f"old-{kind}-{stopped}",
        kind=kind,
        host="elsewhere",
        pid=1,
        version="0.0.1",
        started_us=seen - DAY_US,
        last_seen_us=seen,
        stopped_us=seen if stopped else None,
        submissions=3,
        objects=30,
        current_submission=None,
        current_since_us=None,
    )


def test_the_web_process_thread_records_itself_and_old_workers_are_forgotten(
    tmp_path: Path, database_url: str
) -> None:
    hub = make_hub(tmp_path / "var", database_url, queue=QUEUE, ingest={"inline_max_objects": 0})
    with hub.db.write() as conn:
        for row in (_old("worker", stopped=True), _old("worker", stopped=False)):
            WorkerRepository(conn).put(row)
    world = make_world(hub)
    live = LiveServer(hub)  # no Redis: the web process works the queue on a thread
    try:
        # Its first beat forgets workers silent for longer than worker_forget_hours (24).
        wait_for(
            lambda: [v.row.kind for v in heartbeat.workers(hub)] == ["web"],
            30,
            "the pipeline thread to record itself and forget the old workers",
        )
        answer = requests.post(
            f"{live.url}/api/v1/submissions",
            json={"objects": [indicator(f"203.0.113.{i}") for i in range(40)]},
            auth=world.acme.basic,
            timeout=30,
        )
        assert answer.status_code == 202
        wait_for(
            lambda: (
                [(v.row.submissions, v.row.objects) for v in heartbeat.workers(hub)] == [(1, 40)]
            ),
            60,
            "the thread to process the submission and record it",
        )
        assert metric(live.url, "hub_workers_alive") == 1
    finally:
        live.stop()
    (view,) = heartbeat.workers(hub)
    assert (view.state, view.row.stopped_us is not None) == ("stopped", True)
    hub.close()
