"""Rate limits per key and object quotas per member: 429 with Retry-After, in each protocol's
own error format, shared through Redis across processes."""

from __future__ import annotations

from pathlib import Path

import requests

from hub.services.limits import MemoryBuckets
from tests.support.hubs import LiveServer, World, make_hub, make_world
from tests.support.redis_server import PrivateRedis
from tests.support.stix import TAXII, envelope, indicator


def _discovery(live: LiveServer, auth: tuple[str, str]) -> requests.Response:
    return requests.get(f"{live.url}/taxii2/", headers={"Accept": TAXII}, auth=auth, timeout=10)


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [100.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    assert [buckets.take("k", 1.0, 2).allowed for _ in range(3)] == [True, True, False]
    refused = buckets.take("k", 1.0, 2)
    assert not refused.allowed and 0 < refused.retry_after <= 1
    assert buckets.take("other", 1.0, 2).allowed  # each key has its own bucket
    now[0] += 1.0
    assert buckets.take("k", 1.0, 2).allowed
    assert not buckets.take("k", 1.0, 2).allowed


def test_a_key_past_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "var", limits={"requests_per_minute": 6, "burst": 3})
    world: World = make_world(hub)
    live = LiveServer(hub)
    try:
        answers = [_discovery(live, world.acme.basic).status_code for _ in range(3)]
        assert answers == [200, 200, 200]
        refused = _discovery(live, world.acme.basic)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["Content-Type"].startswith("application/taxii+json")
        assert refused.json()["http_status"] == "429"
        assert "6 requests a minute" in refused.json()["description"]
        problem = requests.get(
            f"{live.url}/api/v1/submissions/nope", auth=world.acme.basic, timeout=10
        )
        assert problem.status_code == 429
        assert problem.headers["Content-Type"] == "application/problem+json"
        # Another member's key is not affected.
        assert _discovery(live, world.cert.basic).status_code == 200
    finally:
        live.stop()
        hub.close()


def test_redis_shares_the_bucket_between_processes_and_fails_open(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    sections = {
        "limits": {"requests_per_minute": 6, "burst": 3},
        "queue": {"redis_url": private_redis.url},
    }
    hub = make_hub(tmp_path / "var", **sections)  # type: ignore[arg-type]
    world = make_world(hub)
    first, second = LiveServer(hub), LiveServer(hub)
    second.app.extensions["hub"].cache.pop("rate_buckets", None)
    try:
        assert _discovery(first, world.acme.basic).status_code == 200
        assert _discovery(second, world.acme.basic).status_code == 200
        assert _discovery(first, world.acme.basic).status_code == 200
        assert _discovery(second, world.acme.basic).status_code == 429
        # Without Redis the limiter lets requests through rather than take the hub down.
        private_redis.stop()
        assert _discovery(first, world.acme.basic).status_code == 200
    finally:
        first.stop()
        second.stop()
        hub.close()


def test_object_quota_per_member(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "var", limits={"objects_per_day": 5})
    world = make_world(hub)
    live = LiveServer(hub)
    url = live.collection_url(world.collection_ids["inbox"]) + "objects/"
    headers = {"Accept": TAXII, "Content-Type": TAXII}

    def post(objects: list[dict[str, object]]) -> requests.Response:
        return requests.post(
            url, json=envelope(*objects), headers=headers, auth=world.acme.basic, timeout=30
        )

    try:
        first = post([indicator(f"198.51.100.{i}") for i in range(3)])
        assert first.status_code == 202
        more = [indicator(f"198.51.100.{i}") for i in range(10, 13)]
        refused = post(more)
        assert refused.status_code == 429
        assert "quota of 5 objects in 24 hours (3 used)" in refused.json()["description"]
        assert 86_000 <= int(refused.headers["Retry-After"]) <= 86_400
        two = post(more[:2])
        assert two.status_code == 202  # exactly up to the quota is fine
    finally:
        live.stop()
        hub.close()
