"""Reading a feed over HTTP on each storage engine, as a poller does: one keep-alive session.

Each GET reads the key, the collection and the page in one transaction; these tests show that
nothing is carried from one request to the next (a revoked key or a suspended member is refused
on the very next request) and that objects come back exactly as they were sent.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from hub.services import membership
from tests.support.hubs import LiveServer, World
from tests.support.stix import TAXII, envelope, indicator


def session(key_id: str, secret: str) -> requests.Session:
    client = requests.Session()
    client.auth = (key_id, secret)
    client.headers["Accept"] = TAXII
    return client


def post(client: requests.Session, url: str, objects: list[dict[str, Any]]) -> None:
    body = json.dumps(envelope(*objects)).encode()
    response = client.post(url, data=body, headers={"Content-Type": TAXII})
    assert response.status_code == 202
    assert response.json()["success_count"] == len(objects)


def test_pages_carry_the_objects_as_sent(engine_server: tuple[World, LiveServer]) -> None:
    world, live = engine_server
    url = live.collection_url(world.trust_group_id)
    client = session(*world.acme.basic)
    sent = [
        indicator(f"203.0.113.{n}", description=f'caf\u00e9 \u65e5\u672c \U0001f600 \\x41 "{n}"')
        for n in range(7)
    ]
    post(client, url + "objects/", sent)
    manifest = client.get(url + "manifest/", params={"limit": "100"}).json()["objects"]

    received: list[dict[str, Any]] = []
    params = {"limit": "3"}
    while True:
        response = client.get(url + "objects/", params=params)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == TAXII
        page = response.json()
        objects = page["objects"]
        start = len(received)
        received += objects
        assert response.headers["X-TAXII-Date-Added-First"] == manifest[start]["date_added"]
        assert (
            response.headers["X-TAXII-Date-Added-Last"] == manifest[len(received) - 1]["date_added"]
        )
        if not page["more"]:
            break
        params = {"limit": "3", "next": page["next"]}
    assert received == sent


def test_a_revoked_key_is_refused_on_the_next_request(
    engine_server: tuple[World, LiveServer],
) -> None:
    world, live = engine_server
    url = live.collection_url(world.trust_group_id) + "objects/"
    post(session(*world.acme.basic), url, [indicator()])
    issued = membership.issue_key(world.hub, world.acme.member.id, "read")
    client = session(issued.key.id, issued.secret)
    assert client.get(url).status_code == 200

    membership.revoke_key(world.hub, issued.key.id)

    assert client.get(url).status_code == 401


def test_a_suspended_member_is_refused_on_the_next_request(
    engine_server: tuple[World, LiveServer],
) -> None:
    world, live = engine_server
    url = live.collection_url(world.trust_group_id) + "objects/"
    client = session(*world.acme.basic)
    post(client, url, [indicator()])
    assert client.get(url).status_code == 200

    membership.set_member_status(world.hub, world.acme.member.id, "suspended")
    assert client.get(url).status_code == 401

    membership.set_member_status(world.hub, world.acme.member.id, "active")
    assert client.get(url).status_code == 200
