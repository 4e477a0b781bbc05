"""Health, readiness, metrics and request ids, over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.services import Hub
from hub.stix.markings import TLP2_MARKING_IDS
from tests.support.hubs import LiveServer, World, make_hub, make_world
from tests.support.redis_server import PrivateRedis
from tests.support.stix import TAXII, envelope, indicator


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, LiveServer]]:
    hub: Hub = make_hub(tmp_path / "var")
    world = make_world(hub)
    live = LiveServer(hub)
    yield world, live
    live.stop()
    hub.close()


def _metric(text: str, name: str, *labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels} in the metrics")


def test_health_readiness_and_request_ids(served: tuple[World, LiveServer]) -> None:
    _, live = served
    health = requests.get(f"{live.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = requests.get(f"{live.url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}
    echoed = requests.get(
        f"{live.url}/healthz", headers={"X-Request-Id": "abc-1234567"}, timeout=10
    )
    assert echoed.headers["X-Request-Id"] == "abc-1234567"
    # A malformed id (spaces, too short) is replaced, never echoed into logs or headers.
    replaced = requests.get(f"{live.url}/healthz", headers={"X-Request-Id": "a b"}, timeout=10)
    assert replaced.headers["X-Request-Id"] != "a b"
    assert len(replaced.headers["X-Request-Id"]) == 32


def test_metrics_count_requests_reads_queue_and_held_objects(
    served: tuple[World, LiveServer],
) -> None:
    world, live = served
    held = indicator(
        object_marking_refs=["marking-definition--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]
    )
    green = indicator("198.51.100.30", object_marking_refs=[TLP2_MARKING_IDS["green"]])
    posted = requests.post(
        live.collection_url(world.collection_ids["inbox"]) + "objects/",
        json=envelope(held, green),
        headers={"Accept": TAXII, "Content-Type": TAXII},
        auth=world.acme.basic,
        timeout=30,
    )
    assert posted.status_code == 202
    read = requests.get(
        live.collection_url(world.collection_ids["government"]) + "objects/",
        headers={"Accept": TAXII},
        auth=world.cert.basic,
        timeout=30,
    )
    assert read.status_code == 200
    text = requests.get(f"{live.url}/metrics", timeout=10).text
    assert _metric(text, "hub_feed_reads_total", 'kind="government"') >= 1
    assert _metric(text, "hub_feed_objects_returned_total", 'kind="government"') >= 1
    assert _metric(text, "hub_review_held_objects") == 1
    assert _metric(text, "hub_ingest_objects_total", 'outcome="success"') == 2
    assert _metric(text, "hub_queue_pending_submissions") == 0
    assert _metric(text, "hub_queue_lag_seconds") == 0
    assert (
        _metric(
            text,
            "hub_http_request_duration_seconds_count",
            'endpoint="taxii.get_objects"',
            'status="2xx"',
        )
        >= 1
    )


def test_metrics_need_the_token_when_one_is_configured(tmp_path: Path) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text("a-long-random-metrics-token\n")
    hub = make_hub(tmp_path / "var", observability={"metrics_token_file": str(token_file)})
    live = LiveServer(hub)
    try:
        assert requests.get(f"{live.url}/metrics", timeout=10).status_code == 403
        wrong = {"Authorization": "Bearer not-the-token"}
        assert requests.get(f"{live.url}/metrics", headers=wrong, timeout=10).status_code == 403
        right = {"Authorization": "Bearer a-long-random-metrics-token"}
        answer = requests.get(f"{live.url}/metrics", headers=right, timeout=10)
        assert answer.status_code == 200
        assert "hub_queue_pending_submissions" in answer.text
    finally:
        live.stop()
        hub.close()


def test_readiness_names_redis_when_it_is_down(tmp_path: Path, private_redis: PrivateRedis) -> None:
    hub = make_hub(tmp_path / "var", queue={"redis_url": private_redis.url})
    live = LiveServer(hub)
    try:
        assert requests.get(f"{live.url}/readyz", timeout=10).json()["checks"] == {
            "database": "ok",
            "redis": "ok",
        }
        private_redis.stop()
        down = requests.get(f"{live.url}/readyz", timeout=30)
        assert down.status_code == 503
        assert down.json()["status"] == "not ready"
        assert down.json()["checks"]["redis"].startswith("down")
        assert down.json()["checks"]["database"] == "ok"
    finally:
        live.stop()
        hub.close()


def test_metrics_export_each_connectors_counters(tmp_path: Path) -> None:
    from connectors.runner import state_path
    from connectors.state import StateStore
    from hub.config import load_settings

    (tmp_path / "drop").mkdir()
    (tmp_path / "hub.key").write_text("hk_x:hks_y\n")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[storage]\ndata_dir = "{tmp_path / "var"}"\n'
        '[connectors.drop]\nkind = "directory"\npath = "drop"\n'
        'hub_url = "http://127.0.0.1:9"\nhub_key_file = "hub.key"\n'
    )
    settings = load_settings(str(config), env={})
    hub = Hub.open(settings)
    from hub.services import setup

    setup.init(hub, admin_password="an admin password for tests")
    path = state_path(settings, "drop")
    path.parent.mkdir(parents=True, exist_ok=True)
    store = StateStore.open(path)
    store.count(fetched=12, submitted=10, failed=2)
    store.close()
    live = LiveServer(hub)
    try:
        text = requests.get(f"{live.url}/metrics", timeout=10).text
        labels = ('connector="drop"', 'kind="directory"')
        assert _metric(text, "hub_connector_objects_total", *labels, 'outcome="fetched"') == 12
        assert _metric(text, "hub_connector_objects_total", *labels, 'outcome="submitted"') == 10
        assert _metric(text, "hub_connector_objects_total", *labels, 'outcome="failed"') == 2
    finally:
        live.stop()
        hub.close()


def test_the_request_id_reaches_the_worker_that_processes_the_submission(
    tmp_path: Path, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from hub.services.pipeline import process

    hub = make_hub(
        tmp_path / "var",
        queue={"redis_url": private_redis.url},
        ingest={"inline_max_objects": 0},
    )
    world = make_world(hub)
    live = LiveServer(hub)  # with Redis configured, no pipeline thread: the test is the worker
    try:
        answer = requests.post(
            f"{live.url}/api/v1/submissions",
            json={"objects": [indicator("198.51.100.77")]},
            headers={"X-Request-Id": "push-batch-000123"},
            auth=world.acme.basic,
            timeout=30,
        )
        assert answer.status_code == 202
        assert answer.json()["state"] == "pending"
        with caplog.at_level(logging.INFO, logger="hub.services.pipeline"):
            assert process(hub, answer.json()["id"])  # outside any request, as a worker runs
        done = [r for r in caplog.records if "processed" in r.getMessage()]
        assert [getattr(r, "request_id", None) for r in done] == ["push-batch-000123"]
        assert getattr(done[0], "submission_id", None) == answer.json()["id"]
    finally:
        live.stop()
        hub.close()
