"""The whole TAXII 2.1 conversation, driven by taxii2-client (unmodified) over loopback."""

from __future__ import annotations

import pytest
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from tests.support.hubs import LiveServer, World
from tests.support.stix import envelope, indicator, malware


def test_full_conversation(engine_server: tuple[World, LiveServer]) -> None:
    world, live = engine_server
    server = Server(f"{live.url}/taxii2/", user=world.acme.key_id, password=world.acme.secret)

    # discovery -> API root -> collections
    assert server.title == "Threat-sharing hub"
    assert [root.url for root in server.api_roots] == [live.api_root]
    root: ApiRoot = server.default
    assert root.max_content_length == world.hub.settings.taxii.max_content_length
    assert root.versions == ["application/taxii+json;version=2.1"]
    seen = {c.alias: c for c in root.collections}
    # Acme (industry, finance) sees the inbox (write), members and public (read) and its group.
    assert set(seen) == {"inbox", "members", "public", "finance-tg"}
    assert (seen["inbox"].can_read, seen["inbox"].can_write) == (False, True)
    assert (seen["members"].can_read, seen["members"].can_write) == (True, False)
    group: Collection = seen["finance-tg"]
    assert (group.can_read, group.can_write) == (True, True)

    # add_objects, synchronously complete, with a status resource
    first = [indicator(f"203.0.113.{i}") for i in range(25)]
    status = group.add_objects(envelope(*first))
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (25, 25, 0)
    assert {s["id"] for s in status.successes} == {o["id"] for o in first}
    again = root.get_status(status.id)
    assert again.id == status.id
    assert again.success_count == 25

    # paging with next: every object once, in the order added
    pages = list(as_pages(group.get_objects, per_request=10))
    assert [len(p["objects"]) for p in pages] == [10, 10, 5]
    assert [o["id"] for p in pages for o in p["objects"]] == [o["id"] for o in first]
    assert pages[0]["more"] is True
    assert pages[-1]["more"] is False

    # manifest
    manifest_pages = list(as_pages(group.get_manifest, per_request=20))
    records = [r for p in manifest_pages for r in p["objects"]]
    assert [r["id"] for r in records] == [o["id"] for o in first]
    assert all(r["media_type"] == "application/stix+json;version=2.1" for r in records)
    assert records[0]["version"] == first[0]["modified"]

    # a second version of one object; versions lists both, default reads return the latest
    target = first[3]
    newer = {**target, "modified": "2026-02-01T00:00:00.000Z", "name": "updated"}
    group.add_objects(envelope(newer))
    versions = group.object_versions(target["id"])
    assert versions["versions"] == [target["modified"], newer["modified"]]
    latest = group.get_object(target["id"])
    assert [o["name"] for o in latest["objects"]] == ["updated"]
    every = group.get_object(target["id"], version="all")
    assert len(every["objects"]) == 2
    oldest = group.get_object(target["id"], version="first")
    assert oldest["objects"][0]["modified"] == target["modified"]

    # filters: type
    group.add_objects(envelope(malware()))
    only_malware = group.get_objects(type="malware")
    assert [o["type"] for o in only_malware["objects"]] == ["malware"]

    # delete removes every version of the object
    group.delete_object(target["id"])
    with pytest.raises(Exception, match="404"):
        group.get_object(target["id"])
    remaining = [
        o["id"] for p in as_pages(group.get_objects, per_request=100) for o in p["objects"]
    ]
    assert target["id"] not in remaining
    assert len(remaining) == 25  # 24 indicators left + 1 malware


def test_write_only_inbox_refuses_reading_through_the_client(
    server: LiveServer, world: World
) -> None:
    inbox = Collection(
        server.collection_url(world.collection_ids["inbox"]),
        user=world.acme.key_id,
        password=world.acme.secret,
    )
    status = inbox.add_objects(envelope(indicator()))
    assert status.success_count == 1
    with pytest.raises(AccessError):
        inbox.get_objects()


def test_government_member_sees_only_its_collections(server: LiveServer, world: World) -> None:
    root = ApiRoot(server.api_root, user=world.cert.key_id, password=world.cert.secret)
    aliases = {c.alias: (c.can_read, c.can_write) for c in root.collections}
    assert aliases == {
        "government": (True, False),
        "public": (True, False),
        "finance-tg": (True, False),
    }


def test_bearer_token_is_accepted(server: LiveServer, world: World) -> None:
    import requests

    response = requests.get(
        server.api_root + "collections/",
        headers={
            "Accept": "application/taxii+json;version=2.1",
            "Authorization": f"Bearer {world.northwind.secret}",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert "finance-tg" not in {c["alias"] for c in response.json()["collections"]}
