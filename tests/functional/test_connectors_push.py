"""taxii-push: a hub feed forwarded to a downstream TAXII 2.1 collection (medallion, another
hub), by real `hub connector run` processes, one of them killed in the middle."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.remote import version_of
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
    start_hub,
    write_config,
    write_secret,
)
from tests.support.stix import indicator

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[LiveHub]:
    yield from live_hub(tmp_path / "source")


def green(count: int, prefix: str) -> list[dict[str, Any]]:
    return [indicator(f"{prefix}.{n}", object_marking_refs=[GREEN]) for n in range(1, count + 1)]


def push_config(tmp_path: Path, hub: LiveHub, url: str, collection: str, **extra: Any) -> Path:
    write_secret(
        tmp_path / "feed.key", f"{hub.world.northwind.key_id}:{hub.world.northwind.secret}"
    )
    return write_config(
        tmp_path / "connectors.toml",
        {
            "out": {
                "kind": "taxii-push",
                "hub_url": hub.server.url,
                "hub_key_file": "feed.key",
                "hub_collection": "members",
                "url": url,
                "collection": collection,
                "page_size": 10,
                "batch_objects": 5,
                **extra,
            }
        },
    )


def posted_versions(proxy: Proxy) -> Counter[tuple[str, str]]:
    """(id, version) → how many times the connector POSTed it downstream."""
    found: Counter[tuple[str, str]] = Counter()
    for seen in proxy.posted("/objects/$"):
        found.update(version_of(o) for o in orjson.loads(seen.body)["objects"])
    return found


def test_push_to_medallion_survives_a_kill_and_never_sends_a_version_twice(
    tmp_path: Path, source: LiveHub
) -> None:
    source.post("inbox", green(30, "198.51.100"))
    feed = source.stored("members")
    assert len(feed) > 30  # the indicators and the TLP marking definition they use
    medallion = Medallion(tmp_path / "medallion")
    proxy = Proxy(medallion.url)
    # The second batch reaches medallion, which stores it; the answer is lost.
    proxy.hold = lambda seen: len(proxy.posted("/objects/$")) == 2
    write_secret(tmp_path / "medallion.password", MEDALLION_USER[1])
    config = push_config(
        tmp_path,
        source,
        f"{proxy.url}/trustgroup1/",
        MEDALLION_COLLECTION,
        username=MEDALLION_USER[0],
        password_file="medallion.password",
    )
    try:
        code, report, stderr = crash_then_run(config, "out", proxy, tmp_path / "run1.log")
        assert code == 0, stderr
        assert report["outcome"] == "ok"
        downstream = Counter(version_of(o) for o in medallion.objects())
        assert set(downstream) == set(feed)  # every version of the feed, nothing else
        sent = posted_versions(proxy)
        assert set(sent) == set(feed)
        assert set(sent.values()) == {1}  # not one version sent twice, the held batch included
        status = connector_status(config, "out")
        assert status["counters"]["submitted"] == len(feed)
        assert status["counters"]["failed"] == 0

        # Later: only what the feed gained is sent.
        source.post("inbox", green(3, "203.0.113"))
        code, report, stderr = run_connector(config, "out")
        assert code == 0, stderr
        assert report["submitted"] == 3
        assert set(posted_versions(proxy).values()) == {1}
        assert set(Counter(version_of(o) for o in medallion.objects())) == set(
            source.stored("members")
        )
    finally:
        proxy.stop()
        medallion.stop()


def test_push_to_another_hub_delivers_each_version_once(tmp_path: Path, source: LiveHub) -> None:
    downstream = start_hub(tmp_path / "downstream")
    try:
        source.post("inbox", green(12, "192.0.2"))
        write_secret(tmp_path / "downstream.secret", downstream.world.acme.secret)
        config = push_config(
            tmp_path,
            source,
            downstream.server.api_root,
            "finance-tg",
            username=downstream.world.acme.key_id,
            password_file="downstream.secret",
        )
        code, report, stderr = run_connector(config, "out")
        assert code == 0, stderr
        feed = source.stored("members")
        received = downstream.stored("finance-tg")
        assert set(received) == set(feed)
        assert set(received.values()) == {1}
        assert report["submitted"] == len(feed)
        code, report, stderr = run_connector(config, "out")
        assert (code, report["fetched"], report["submitted"]) == (0, 0, 0)
        assert source.world.northwind.secret not in stderr
        assert downstream.world.acme.secret not in stderr
    finally:
        downstream.close()
