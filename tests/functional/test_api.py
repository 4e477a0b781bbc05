"""The member REST API: uploads, their status, and every reject in problem+json."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import requests

from tests.support.hubs import LiveServer, World
from tests.support.stix import indicator, malware

PROBLEM = "application/problem+json"
DEEP = b'{"objects": [{"a": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}]}"


def upload(
    server: LiveServer,
    world: World,
    body: bytes,
    content_type: str | None = "application/json",
    **params: str,
) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return requests.post(
        f"{server.url}/api/v1/submissions",
        data=body,
        headers=headers,
        params=params,
        auth=world.acme.basic,
        timeout=30,
    )


def assert_problem(response: requests.Response, status: int, mention: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert mention.lower() in problem["detail"].lower(), problem
    return problem


def test_bundle_upload_goes_to_the_inbox(server: LiveServer, world: World) -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "objects": [indicator(), malware()],
    }
    response = upload(server, world, orjson.dumps(bundle))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["collection_id"] == world.collection_ids["inbox"]
    assert body["state"] == "done"
    assert body["status"]["success_count"] == 2
    assert len(body["sha256"]) == 64
    again = requests.get(
        f"{server.url}/api/v1/submissions/{body['id']}", auth=world.acme.basic, timeout=10
    )
    assert again.status_code == 200
    assert again.json()["status"]["id"] == body["status"]["id"]


def test_upload_to_a_named_trust_group(server: LiveServer, world: World) -> None:
    response = upload(
        server, world, orjson.dumps({"objects": [indicator()]}), collection="finance-tg"
    )
    assert response.status_code == 202
    assert response.json()["collection_id"] == world.trust_group_id


def test_another_members_submission_does_not_exist_for_you(
    server: LiveServer, world: World
) -> None:
    created = upload(server, world, orjson.dumps({"objects": [indicator()]})).json()
    response = requests.get(
        f"{server.url}/api/v1/submissions/{created['id']}", auth=world.northwind.basic, timeout=10
    )
    assert_problem(response, 404, "no submission")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "mention"),
    [
        (b'{"objects": [', "application/json", 400, "line 1, column 14"),
        (b"[1, 2]", "application/json", 422, "objects"),
        (b'{"type": "bundle"}', "application/json", 422, "no 'objects'"),
        (b'{"objects": {}}', "application/json", 422, "must be a list"),
        (b"<xml/>", "application/xml", 415, "application/xml"),
        (b"{}", None, 400, "Content-Type"),
        (DEEP, "application/json", 400, "deeper than 32"),
    ],
)
def test_rejects_say_what_is_wrong(
    server: LiveServer,
    world: World,
    body: bytes,
    content_type: str | None,
    status: int,
    mention: str,
) -> None:
    assert_problem(upload(server, world, body, content_type), status, mention)


def test_too_many_objects_is_413(tmp_path: Any) -> None:
    from tests.support.hubs import make_hub, make_world

    hub = make_hub(tmp_path / "var", ingest={"max_objects": 3})
    world = make_world(hub)
    live = LiveServer(hub)
    try:
        response = upload(live, world, orjson.dumps({"objects": [indicator() for _ in range(4)]}))
        assert_problem(response, 413, "the limit is 3")
    finally:
        live.stop()
        hub.close()


def test_a_collection_you_cannot_write_is_refused(server: LiveServer, world: World) -> None:
    assert_problem(
        upload(server, world, b'{"objects": []}', collection="members"), 403, "may not write"
    )
    assert_problem(
        upload(server, world, b'{"objects": []}', collection="nope"), 404, "no collection"
    )


def test_without_a_key_is_401(server: LiveServer) -> None:
    response = requests.post(f"{server.url}/api/v1/submissions", data=b"{}", timeout=10)
    assert_problem(response, 401, "API key")


def test_the_same_idempotency_key_returns_the_first_submission(
    server: LiveServer, world: World
) -> None:
    body = b"type,value\nipv4,198.51.100.7\ndomain,evil.example\n"

    def send(key: str, payload: bytes = body) -> requests.Response:
        return requests.post(
            f"{server.url}/api/v1/submissions",
            data=payload,
            headers={"Content-Type": "text/csv", "Idempotency-Key": key},
            auth=world.acme.basic,
            timeout=30,
        )

    first = send("batch-1")
    again = send("batch-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    other_member = requests.post(
        f"{server.url}/api/v1/submissions",
        data=body,
        headers={"Content-Type": "text/csv", "Idempotency-Key": "batch-1"},
        auth=world.northwind.basic,
        timeout=30,
    )
    assert other_member.json()["id"] != first.json()["id"]  # keys are per member
    assert_problem(send("batch-1", body + b"url,http://x.example/\n"), 409, "another body")


def test_csv_upload_becomes_indicators_with_the_given_tlp(server: LiveServer, world: World) -> None:
    body = b"type,value,tlp\nipv4,198.51.100.7,\nsha256," + b"a" * 64 + b",red\nnonsense,1,\n"
    response = upload(server, world, body, "text/csv", collection="finance-tg", tlp="green")
    assert response.status_code == 202, response.text
    status = response.json()["status"]
    assert (status["success_count"], status["failure_count"]) == (2, 1)
    assert status["failures"][0]["id"] == "line 4"
    feed = requests.get(
        server.collection_url(world.trust_group_id) + "objects/",
        headers={"Accept": "application/taxii+json;version=2.1"},
        auth=world.cert.basic,
        timeout=10,
    ).json()["objects"]
    by_pattern = {o["pattern"]: o for o in feed}
    green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    red = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    assert by_pattern["[ipv4-addr:value = '198.51.100.7']"]["object_marking_refs"] == [green]
    assert by_pattern["[file:hashes.'SHA-256' = '" + "a" * 64 + "']"]["object_marking_refs"] == [
        red
    ]


def test_tlp_parameter_is_checked(server: LiveServer, world: World) -> None:
    assert_problem(upload(server, world, b"ipv4,1.2.3.4", "text/csv", tlp="purple"), 400, "tlp")
    bundle = orjson.dumps({"objects": [indicator()]})
    assert_problem(upload(server, world, bundle, tlp="green"), 400, "CSV and text")
