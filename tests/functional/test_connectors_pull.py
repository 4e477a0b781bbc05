"""taxii-pull against real TAXII 2.1 servers on loopback (a second hub, medallion), run as real
`hub connector run` processes, killed with SIGKILL in the middle and started again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.connectors import (
    MEDALLION_COLLECTION,
    MEDALLION_USER,
    LiveHub,
    Medallion,
    Proxy,
    connector_status,
    crash_then_run,
    live_hub,
    run_connector,
    write_config,
    write_secret,
)
from tests.support.stix import indicator


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[LiveHub]:
    yield from live_hub(tmp_path / "upstream")


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LiveHub]:
    yield from live_hub(tmp_path / "target")


def ids(objects: list[dict[str, Any]]) -> set[str]:
    return {o["id"] for o in objects}


def pull_config(tmp_path: Path, target_url: str, url: str, collection: str, **extra: Any) -> Path:
    return write_config(
        tmp_path / "connectors.toml",
        {
            "upstream": {
                "kind": "taxii-pull",
                "url": url,
                "collection": collection,
                "hub_url": target_url,
                "hub_key_file": "hub.key",
                "page_size": 10,
                "batch_objects": 4,
                **extra,
            }
        },
    )


def test_pull_from_another_hub_survives_a_kill_without_loss_or_duplicates(
    tmp_path: Path, upstream: LiveHub, target: LiveHub
) -> None:
    batches = [[indicator(f"198.51.100.{n + 20 * b}") for n in range(20)] for b in range(3)]
    for objects in batches:  # three POSTs: three distinct date_added groups upstream
        upstream.post("finance-tg", objects)
    expected = {o["id"] for objects in batches for o in objects}
    write_secret(tmp_path / "hub.key", f"{target.world.acme.key_id}:{target.world.acme.secret}")
    write_secret(tmp_path / "upstream.password", upstream.world.acme.secret)
    proxy = Proxy(target.server.url)
    # The 4th submission reaches the hub, which stores it; its answer never comes back.
    proxy.hold = lambda seen: len(proxy.posted("/api/v1/submissions")) == 4
    config = pull_config(
        tmp_path,
        proxy.url,
        upstream.server.api_root,
        "finance-tg",
        username=upstream.world.acme.key_id,
        password_file="upstream.password",
    )
    code, report, stderr = crash_then_run(config, "upstream", proxy, tmp_path / "run1.log")
    assert code == 0, stderr
    assert report["outcome"] == "ok"

    stored = target.stored("inbox")
    assert {object_id for object_id, _ in stored} == expected  # nothing lost
    assert set(stored.values()) == {1}  # nothing stored twice
    submissions, objects = target.submitted_objects()
    assert objects == 60  # no object was submitted twice, not even the held batch
    posts = proxy.posted("/api/v1/submissions")
    # The held batch was sent again after the restart, and named the submission it had made.
    assert len(posts) == submissions + 1
    assert len({p.body for p in posts}) == submissions
    status = connector_status(config, "upstream")
    # Resuming by date reads the last object of the last page again; it is skipped, not sent.
    assert status["counters"]["fetched"] - status["counters"]["skipped"] == 60
    assert status["counters"]["submitted"] == 60
    assert status["counters"]["succeeded"] == 60
    assert status["runs"][1]["outcome"] == "interrupted"
    assert status["cursor"]["next"] is None

    # New upstream objects: the next run takes just those.
    later = [indicator(f"203.0.113.{n}") for n in range(5)]
    upstream.post("finance-tg", later)
    code, report, stderr = run_connector(config, "upstream")
    assert code == 0, stderr
    assert report["fetched"] == 5
    assert {object_id for object_id, _ in target.stored("inbox")} == expected | ids(later)
    assert target.submitted_objects()[1] == 65
    assert target.world.acme.secret not in stderr
    assert upstream.world.acme.secret not in stderr
    proxy.stop()


def test_pull_from_medallion_resumes_after_a_kill_mid_session(
    tmp_path: Path, target: LiveHub
) -> None:
    objects = [indicator(f"192.0.2.{n}") for n in range(45)]
    medallion = Medallion(tmp_path / "medallion", objects)
    proxy = Proxy(medallion.url)
    # Hold the third page: two pages are staged and delivered, the session is under way.
    proxy.hold = lambda seen: (
        seen.method == "GET"
        and (len([s for s in proxy.seen if s.method == "GET" and "/objects/" in s.path]) == 3)
    )
    write_secret(tmp_path / "hub.key", f"{target.world.acme.key_id}:{target.world.acme.secret}")
    write_secret(tmp_path / "medallion.password", MEDALLION_USER[1])
    config = pull_config(
        tmp_path,
        target.server.url,
        f"{proxy.url}/trustgroup1/",
        MEDALLION_COLLECTION,
        username=MEDALLION_USER[0],
        password_file="medallion.password",
    )
    try:
        code, _, stderr = crash_then_run(config, "upstream", proxy, tmp_path / "run1.log")
        assert code == 0, stderr
        stored = target.stored("inbox")
        assert {object_id for object_id, _ in stored} == ids(objects)
        assert set(stored.values()) == {1}
        assert target.submitted_objects()[1] == 45
        status = connector_status(config, "upstream")
        assert status["counters"]["submitted"] == 45
    finally:
        proxy.stop()
        medallion.stop()


def test_a_pull_with_wrong_credentials_fails_with_one_clear_line(
    tmp_path: Path, upstream: LiveHub, target: LiveHub
) -> None:
    write_secret(tmp_path / "hub.key", f"{target.world.acme.key_id}:{target.world.acme.secret}")
    write_secret(tmp_path / "upstream.password", "not the secret")
    config = pull_config(
        tmp_path,
        target.server.url,
        upstream.server.api_root,
        "finance-tg",
        username=upstream.world.acme.key_id,
        password_file="upstream.password",
    )
    code, report, stderr = run_connector(config, "upstream")
    assert code == 1
    assert report["outcome"] == "failed"
    assert "401" in report["error"]
    assert "not the secret" not in stderr
    status = connector_status(config, "upstream")
    assert status["last_error"]["error"] == report["error"]
