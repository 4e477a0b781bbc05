"""Every error path of the TAXII server, over HTTP on loopback.

Each error must carry its status, be a TAXII error message (title, http_status, a description
naming the fault) and be served as TAXII 2.1 JSON, so any client can tell what went wrong.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests

from hub.services import membership
from tests.support.hubs import (
    Account,
    LiveServer,
    World,
    add_account,
    make_hub,
    make_world,
    unique,
)
from tests.support.stix import TAXII, envelope, indicator, malware

# One world and one server for the whole module (a hub takes about a second to build). The
# tests here only add objects, keys and members, so they cannot disturb one another; they
# override the function-scoped fixtures of the same name in tests/conftest.py.


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    hub = make_hub(tmp_path_factory.mktemp("errors") / "var")
    yield make_world(hub)
    hub.close()


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[LiveServer]:
    live = LiveServer(world.hub)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, LiveServer]]:
    """A world whose TAXII server refuses bodies over 2048 bytes."""
    hub = make_hub(tmp_path_factory.mktemp("small") / "var", taxii={"max_content_length": 2048})
    world = make_world(hub)
    live = LiveServer(hub)
    yield world, live
    live.stop()
    hub.close()


@pytest.fixture(scope="module")
def stocked(server: LiveServer, world: World) -> list[dict[str, Any]]:
    """Three indicators and a malware in finance-tg, posted by Acme: enough to page through."""
    objects = [indicator(f"192.0.2.{i}") for i in range(3)] + [malware()]
    response = post_objects(group_url(server, world), world.acme, envelope(*objects))
    assert response.status_code == 202
    return objects


# --- helpers -----------------------------------------------------------------------------


def send(
    method: str,
    url: str,
    account: Account | None = None,
    *,
    accept: str | None = TAXII,
    body: bytes | Iterable[bytes] | None = None,
    content_type: str | None = TAXII,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    """One request as a TAXII client sends it; accept or content_type None leaves it out."""
    sent: dict[str, str | None] = {"Accept": accept}
    if body is not None:
        sent["Content-Type"] = content_type
    sent.update(headers or {})
    return requests.request(
        method,
        url,
        auth=account.basic if account else None,
        headers=sent,  # type: ignore[arg-type]  # None drops a header requests adds itself
        data=body,
        params=params,
        timeout=10,
    )


def post_objects(collection_url: str, account: Account, document: Any) -> requests.Response:
    return send("POST", collection_url + "objects/", account, body=json.dumps(document).encode())


def group_url(server: LiveServer, world: World, alias: str = "finance-tg") -> str:
    return server.collection_url(world.collection_ids[alias])


def assert_taxii_error(response: requests.Response, status: int, *mentions: str) -> dict[str, Any]:
    """The response is a TAXII error message for `status` whose description names each mention."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == TAXII
    body: dict[str, Any] = response.json()
    assert body["http_status"] == str(status)
    assert isinstance(body["title"], str)
    assert body["title"]
    description = body["description"]
    assert isinstance(description, str)
    assert description
    for mention in mentions:
        assert mention.lower() in description.lower(), description
    return body


def assert_same_not_found(
    found: requests.Response, found_id: str, missing: requests.Response, missing_id: str
) -> None:
    """Both are 404s that differ only by the id echoed back: nothing tells that one exists."""
    found_error = assert_taxii_error(found, 404, found_id)
    missing_error = assert_taxii_error(missing, 404, missing_id)
    assert found_error.keys() == missing_error.keys()
    assert found_error["title"] == missing_error["title"]
    masked = found_error["description"].replace(found_id, "<id>")
    assert masked == missing_error["description"].replace(missing_id, "<id>")


def basic(key_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_key(world: World, account: Account, scope: str, **options: Any) -> Account:
    issued = membership.issue_key(world.hub, account.member.id, scope, **options)
    return Account(account.member, issued.key.id, issued.secret)


def first_page_token(url: str, account: Account, params: dict[str, str] | None = None) -> str:
    response = send("GET", url, account, params={**(params or {}), "limit": "1"})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["more"] is True
    token: str = page["next"]
    return token


def random_id(object_type: str = "indicator") -> str:
    return f"{object_type}--{uuid.uuid4()}"


# --- 400 Bad request ---------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["objects/", "manifest/"])
@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        pytest.param({"limit": "0"}, ("limit", "'0'"), id="limit-zero"),
        pytest.param({"limit": "-1"}, ("limit", "'-1'"), id="limit-negative"),
        pytest.param({"limit": "abc"}, ("limit", "'abc'"), id="limit-not-a-number"),
        pytest.param({"limit": "2.5"}, ("limit", "'2.5'"), id="limit-fraction"),
        pytest.param({"added_after": "yesterday"}, ("added_after", "yesterday"), id="added-after"),
        pytest.param(
            {"added_after": "2026-01-01"}, ("added_after", "2026-01-01"), id="added-after-date"
        ),
        pytest.param(
            {"added_after": "2026-02-30T00:00:00Z"}, ("added_after",), id="added-after-no-such-day"
        ),
        pytest.param(
            {"match[version]": "2026-01-01T00:00:00"},
            ("match[version]", "2026-01-01T00:00:00"),
            id="version-without-zone",
        ),
        pytest.param(
            {"match[version]": "last,newest"}, ("match[version]", "newest"), id="version-keyword"
        ),
        pytest.param(
            {"match[spec_version]": "2"}, ("match[spec_version]", "'2'"), id="spec-version-2"
        ),
        pytest.param(
            {"match[spec_version]": "v2.1"},
            ("match[spec_version]", "v2.1"),
            id="spec-version-prefixed",
        ),
        pytest.param({"match[type]": " , "}, ("match[type]", "empty"), id="type-empty-list"),
    ],
)
def test_bad_query_parameter_is_400_naming_it(
    server: LiveServer,
    world: World,
    resource: str,
    params: dict[str, str],
    mentions: tuple[str, ...],
) -> None:
    response = send("GET", group_url(server, world) + resource, world.acme, params=params)
    assert_taxii_error(response, 400, *mentions)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        pytest.param(
            b'{"objects": [\n  {"type": "indicator",}\n]}',
            ("not valid JSON", "trailing comma", "line 2, column 23"),
            id="trailing-comma",
        ),
        pytest.param(b'{"objects": [', ("not valid JSON", "line 1, column"), id="truncated"),
        pytest.param(b"", ("not valid JSON", "line 1, column 1"), id="empty"),
        pytest.param(b'{"objects": ["\xff"]}', ("not valid JSON", "UTF-8"), id="not-utf-8"),
    ],
)
def test_malformed_json_body_is_400_naming_line_and_column(
    server: LiveServer, world: World, body: bytes, mentions: tuple[str, ...]
) -> None:
    response = send("POST", group_url(server, world) + "objects/", world.acme, body=body)
    assert_taxii_error(response, 400, *mentions)


def flip_one_character(token: str) -> str:
    """The token with one base64 character in the middle changed (not the last, whose low
    bits may be padding that decoding ignores)."""
    at = len(token) // 2
    if token[at] == ".":
        at += 1
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1 :]


@pytest.mark.usefixtures("stocked")
def test_tampered_next_token_is_400(server: LiveServer, world: World) -> None:
    url = group_url(server, world) + "objects/"
    token = first_page_token(url, world.acme)
    assert send("GET", url, world.acme, params={"next": token}).status_code == 200

    tampered = send("GET", url, world.acme, params={"next": flip_one_character(token)})
    assert_taxii_error(tampered, 400, "'next' token", "not valid")

    garbage = send("GET", url, world.acme, params={"next": "not-a-token"})
    assert_taxii_error(garbage, 400, "'next' token", "not valid")


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize(
    "elsewhere",
    [
        pytest.param(lambda s, w: group_url(s, w, "public") + "objects/", id="other-collection"),
        pytest.param(lambda s, w: group_url(s, w) + "manifest/", id="manifest-of-same"),
    ],
)
def test_next_token_used_on_another_resource_is_400(
    server: LiveServer, world: World, elsewhere: Callable[[LiveServer, World], str]
) -> None:
    token = first_page_token(group_url(server, world) + "objects/", world.acme)
    response = send("GET", elsewhere(server, world), world.acme, params={"next": token})
    assert_taxii_error(response, 400, "'next' token", "another collection")


@pytest.mark.usefixtures("stocked")
def test_next_token_reused_with_other_filters_is_400(server: LiveServer, world: World) -> None:
    url = group_url(server, world) + "objects/"
    token = first_page_token(url, world.acme, {"match[type]": "indicator"})
    same = send("GET", url, world.acme, params={"match[type]": "indicator", "next": token})
    assert same.status_code == 200

    for params in ({"match[type]": "malware"}, {"match[type]": "indicator,malware"}, {}):
        response = send("GET", url, world.acme, params={**params, "next": token})
        assert_taxii_error(response, 400, "'next' token", "filters")


# --- 401 Authentication required ---------------------------------------------------------


def assert_challenged(response: requests.Response) -> dict[str, Any]:
    body = assert_taxii_error(response, 401, "API key")
    challenge = response.headers.get("WWW-Authenticate", "")
    assert "Basic" in challenge
    assert "Bearer" in challenge
    return body


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-authorization"),
        pytest.param({"Authorization": "Digest username=acme"}, id="unknown-scheme"),
        pytest.param({"Authorization": "Basic !!!"}, id="basic-not-base64"),
        pytest.param(basic("hk_0123456789abcdef", ""), id="basic-without-secret"),
        pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
    ],
)
def test_request_without_usable_credentials_is_401_with_a_challenge(
    server: LiveServer, headers: dict[str, str]
) -> None:
    response = send("GET", server.api_root + "collections/", headers=headers)
    assert_challenged(response)


def wrong_secret(world: World) -> dict[str, str]:
    return basic(world.acme.key_id, "hks_" + "x" * 43)


def unknown_key_id_with_a_valid_secret(world: World) -> dict[str, str]:
    return basic("hk_0123456789abcdef", world.acme.secret)


def unknown_key_id_and_secret(world: World) -> dict[str, str]:
    return basic("hk_0123456789abcdef", "hks_nothing")


def garbage_bearer(world: World) -> dict[str, str]:
    return bearer("this is not a key")


def another_members_key_id(world: World) -> dict[str, str]:
    return basic(world.northwind.key_id, world.acme.secret)


def expired_key(world: World) -> dict[str, str]:
    expired = new_key(world, world.acme, "read", expires_us=1)
    return basic(expired.key_id, expired.secret)


def expired_key_as_bearer(world: World) -> dict[str, str]:
    return bearer(new_key(world, world.acme, "read", expires_us=1).secret)


@pytest.mark.parametrize(
    "credentials",
    [
        wrong_secret,
        unknown_key_id_with_a_valid_secret,
        unknown_key_id_and_secret,
        garbage_bearer,
        another_members_key_id,
        expired_key,
        expired_key_as_bearer,
    ],
)
def test_refused_api_key_is_401_and_indistinguishable_from_a_wrong_secret(
    server: LiveServer, world: World, credentials: Callable[[World], dict[str, str]]
) -> None:
    url = server.api_root + "collections/"
    refused = assert_challenged(send("GET", url, headers=credentials(world)))
    assert_taxii_error(send("GET", url, headers=credentials(world)), 401, "not valid")
    assert refused == send("GET", url, headers=wrong_secret(world)).json()


def test_revoked_key_is_401_at_once(server: LiveServer, world: World) -> None:
    key = new_key(world, world.acme, "read,write")
    url = server.api_root + "collections/"
    assert send("GET", url, key).status_code == 200

    membership.revoke_key(world.hub, key.key_id)

    assert_challenged(send("GET", url, key))
    assert_taxii_error(send("GET", url, headers=bearer(key.secret)), 401, "not valid")
    assert send("GET", url, world.acme).status_code == 200  # the member's other key still works


def test_key_of_a_suspended_member_is_401_at_once(server: LiveServer, world: World) -> None:
    member = add_account(world.hub, unique("Suspended Bank"), "industry", sector="finance")
    url = group_url(server, world) + "objects/"
    assert send("GET", url, member).status_code == 200

    membership.set_member_status(world.hub, member.member.id, "suspended")

    assert_challenged(send("GET", url, member))
    assert_taxii_error(send("GET", url, headers=bearer(member.secret)), 401, "not valid")
    assert send("GET", url, world.acme).status_code == 200  # other members are unaffected


# --- 403 Forbidden -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource", ["objects/", "manifest/", "objects/{oid}/", "objects/{oid}/versions/"]
)
def test_reading_a_collection_the_caller_may_only_write_is_403(
    server: LiveServer, world: World, resource: str
) -> None:
    url = group_url(server, world, "inbox") + resource.format(oid=random_id())
    assert_taxii_error(send("GET", url, world.acme), 403, "may not read")


@pytest.mark.parametrize(
    ("who", "alias", "method"),
    [
        ("acme", "members", "POST"),
        ("acme", "members", "DELETE"),
        ("acme", "public", "POST"),
        ("cert", "finance-tg", "POST"),
        ("cert", "finance-tg", "DELETE"),
        ("cert", "government", "POST"),
    ],
)
def test_writing_to_a_collection_the_caller_may_only_read_is_403(
    server: LiveServer, world: World, who: str, alias: str, method: str
) -> None:
    account: Account = getattr(world, who)
    url = group_url(server, world, alias)
    if method == "POST":
        response = post_objects(url, account, envelope(indicator()))
    else:
        response = send("DELETE", f"{url}objects/{random_id()}/", account)
    assert_taxii_error(response, 403, "may not write")


def test_read_scope_key_may_not_write(server: LiveServer, world: World) -> None:
    reader = new_key(world, world.acme, "read")
    url = group_url(server, world)
    assert send("GET", url + "objects/", reader).status_code == 200

    assert_taxii_error(post_objects(url, reader, envelope(indicator())), 403, "may not write")
    deleted = send("DELETE", f"{url}objects/{random_id()}/", reader)
    assert_taxii_error(deleted, 403, "may not write")


def test_write_scope_key_may_not_read(server: LiveServer, world: World) -> None:
    writer = new_key(world, world.acme, "write")
    url = group_url(server, world)
    assert post_objects(url, writer, envelope(indicator())).status_code == 202

    for resource in ("objects/", "manifest/", f"objects/{random_id()}/"):
        assert_taxii_error(send("GET", url + resource, writer), 403, "may not read")


# --- 404 Not found -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/taxii2/nope/", "/taxii2/nope/collections/", "/taxii2/nope/status/{sid}/"]
)
def test_unknown_api_root_is_404(server: LiveServer, world: World, path: str) -> None:
    url = server.url + path.format(sid=uuid.uuid4())
    assert_taxii_error(send("GET", url, world.acme), 404, "API root", "'nope'")


@pytest.mark.parametrize("resource", ["", "objects/", "manifest/"])
def test_unknown_collection_is_404(server: LiveServer, world: World, resource: str) -> None:
    missing = str(uuid.uuid4())
    response = send("GET", server.collection_url(missing) + resource, world.acme)
    assert_taxii_error(response, 404, "no collection", missing)


RESOURCES = [
    pytest.param("GET", "", id="collection"),
    pytest.param("GET", "objects/", id="objects"),
    pytest.param("GET", "manifest/", id="manifest"),
    pytest.param("GET", "objects/{oid}/", id="object"),
    pytest.param("GET", "objects/{oid}/versions/", id="versions"),
    pytest.param("POST", "objects/", id="add-objects"),
    pytest.param("DELETE", "objects/{oid}/", id="delete"),
]


@pytest.mark.parametrize(("method", "resource"), RESOURCES)
@pytest.mark.parametrize(
    ("who", "alias"),
    [
        ("northwind", "finance-tg"),
        ("northwind", "government"),
        ("cert", "members"),
        ("cert", "inbox"),
        ("acme", "government"),
    ],
)
def test_collection_hidden_from_caller_is_indistinguishable_from_a_missing_one(
    server: LiveServer,
    world: World,
    stocked: list[dict[str, Any]],
    who: str,
    alias: str,
    method: str,
    resource: str,
) -> None:
    account: Account = getattr(world, who)
    suffix = resource.format(oid=stocked[0]["id"])  # an object that exists in finance-tg
    body = json.dumps(envelope(indicator())).encode() if method == "POST" else None
    hidden_id, missing_id = world.collection_ids[alias], str(uuid.uuid4())

    hidden = send(method, server.collection_url(hidden_id) + suffix, account, body=body)
    missing = send(method, server.collection_url(missing_id) + suffix, account, body=body)

    assert_same_not_found(hidden, hidden_id, missing, missing_id)


@pytest.mark.usefixtures("stocked")
@pytest.mark.parametrize("resource", ["objects/{oid}/", "objects/{oid}/versions/"])
def test_unknown_object_is_404(server: LiveServer, world: World, resource: str) -> None:
    missing = random_id()
    url = group_url(server, world) + resource.format(oid=missing)
    assert_taxii_error(send("GET", url, world.acme), 404, "no object", missing)


def test_unknown_status_is_404(server: LiveServer, world: World) -> None:
    missing = str(uuid.uuid4())
    response = send("GET", f"{server.api_root}status/{missing}/", world.acme)
    assert_taxii_error(response, 404, "no status", missing)


@pytest.mark.parametrize("who", ["northwind", "cert"])
def test_status_of_another_member_is_404_like_an_unknown_one(
    server: LiveServer, world: World, who: str
) -> None:
    posted = post_objects(group_url(server, world), world.acme, envelope(indicator()))
    status_id = posted.json()["id"]
    assert send("GET", f"{server.api_root}status/{status_id}/", world.acme).status_code == 200
    missing = str(uuid.uuid4())
    account: Account = getattr(world, who)

    theirs = send("GET", f"{server.api_root}status/{status_id}/", account)
    unknown = send("GET", f"{server.api_root}status/{missing}/", account)

    assert_same_not_found(theirs, status_id, unknown, missing)


@pytest.mark.parametrize(
    "path",
    [
        "/taxii2/hub/nothing/",
        "/taxii2/hub/collections/{cid}/objects/{oid}/extra/",
        "/taxii2/hub/status/",
        "/taxii2/hub/collections/{cid}/nothing/",
    ],
)
def test_unknown_route_is_404(server: LiveServer, world: World, path: str) -> None:
    url = server.url + path.format(cid=world.collection_ids["finance-tg"], oid=random_id())
    assert_taxii_error(send("GET", url, world.acme), 404, "URL")


def test_deleting_an_object_another_member_submitted_is_404(
    server: LiveServer, world: World
) -> None:
    inbox = group_url(server, world, "inbox")  # both Acme and Northwind may write here
    obj = indicator()
    assert post_objects(inbox, world.acme, envelope(obj)).status_code == 202

    refused = send("DELETE", f"{inbox}objects/{obj['id']}/", world.northwind)
    assert_taxii_error(refused, 404, obj["id"], "submitted by you")

    assert send("DELETE", f"{inbox}objects/{obj['id']}/", world.acme).status_code == 200


def test_deleting_an_unknown_object_is_404(server: LiveServer, world: World) -> None:
    missing = random_id()
    response = send("DELETE", f"{group_url(server, world)}objects/{missing}/", world.acme)
    assert_taxii_error(response, 404, missing)


# --- 405 Method not allowed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "resource", "allowed"),
    [
        ("PUT", "objects/", "POST"),
        ("PATCH", "objects/", "GET"),
        ("DELETE", "", "GET"),
        ("POST", "manifest/", "GET"),
        ("PUT", "objects/{oid}/", "DELETE"),
        ("POST", "objects/{oid}/versions/", "GET"),
    ],
)
def test_wrong_method_is_405_in_taxii_json(
    server: LiveServer, world: World, method: str, resource: str, allowed: str
) -> None:
    url = group_url(server, world) + resource.format(oid=random_id())
    response = send(method, url, world.acme)
    assert_taxii_error(response, 405, "method")
    assert allowed in response.headers["Allow"]


def test_wrong_method_on_status_is_405(server: LiveServer, world: World) -> None:
    response = send("DELETE", f"{server.api_root}status/{uuid.uuid4()}/", world.acme)
    assert_taxii_error(response, 405, "method")
    assert "GET" in response.headers["Allow"]


# --- 406 Not acceptable --------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/taxii+json;version=2.0",
        None,
        "application/taxii+json;version=2.1;q=0",
        "application/stix+json;version=2.1",
    ],
)
@pytest.mark.parametrize("resource", ["", "objects/"])
def test_unacceptable_accept_header_is_406(
    server: LiveServer, world: World, accept: str | None, resource: str
) -> None:
    response = send("GET", group_url(server, world) + resource, world.acme, accept=accept)
    assert_taxii_error(response, 406, "Accept", TAXII)


def test_taxii_21_among_other_accepted_types_is_acceptable(
    server: LiveServer, world: World
) -> None:
    accept = "application/json, application/taxii+json; version=2.1;q=0.5"
    assert send("GET", group_url(server, world), world.acme, accept=accept).status_code == 200


# --- 413 Request entity too large ----------------------------------------------------------


def body_of(*objects: dict[str, Any]) -> bytes:
    return json.dumps(envelope(*objects)).encode()


def in_chunks(body: bytes, size: int = 500) -> Iterator[bytes]:
    """The body as a generator, which requests sends chunked, without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def stored_ids(url: str, account: Account, ids: Iterable[str]) -> list[str]:
    response = send("GET", url + "objects/", account, params={"match[id]": ",".join(ids)})
    assert response.status_code == 200
    return [o["id"] for o in response.json().get("objects", [])]


def test_body_over_max_content_length_is_413(small: tuple[World, LiveServer]) -> None:
    world, server = small
    url = group_url(server, world)
    objects = [indicator(f"198.51.100.{i}") for i in range(10)]
    body = body_of(*objects)
    assert len(body) > 2048

    response = send("POST", url + "objects/", world.acme, body=body)

    assert_taxii_error(response, 413, f"{len(body)} bytes", "2048")
    assert stored_ids(url, world.acme, [o["id"] for o in objects]) == []


def test_body_within_max_content_length_is_accepted(small: tuple[World, LiveServer]) -> None:
    world, server = small
    url = group_url(server, world)
    obj = indicator()
    for body in (body_of(obj), in_chunks(body_of(obj), 100)):
        response = send("POST", url + "objects/", world.acme, body=body)
        assert response.status_code == 202, response.text
    assert stored_ids(url, world.acme, [obj["id"]]) == [obj["id"]]


@pytest.mark.parametrize("padded", [False, True], ids=["cut-mid-json", "whitespace-after-json"])
def test_chunked_body_over_max_content_length_is_413(
    small: tuple[World, LiveServer], padded: bool
) -> None:
    world, server = small
    url = group_url(server, world)
    count = 1 if padded else 10
    objects = [indicator(f"203.0.113.{i}") for i in range(count)]
    body = body_of(*objects) + (b" " * 4096 if padded else b"")
    assert len(body) > 2048

    response = send("POST", url + "objects/", world.acme, body=in_chunks(body))

    assert_taxii_error(response, 413, "2048")
    assert stored_ids(url, world.acme, [o["id"] for o in objects]) == []


# --- 415 Unsupported media type ------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        None,
        "application/taxii+json;version=2.0",
        "application/stix+json;version=2.1",
        "text/plain",
    ],
)
def test_body_not_declared_as_taxii_21_is_415(
    server: LiveServer, world: World, content_type: str | None
) -> None:
    url = group_url(server, world) + "objects/"
    obj = indicator()
    response = send("POST", url, world.acme, body=body_of(obj), content_type=content_type)
    assert_taxii_error(response, 415, "Content-Type", TAXII)
    assert stored_ids(group_url(server, world), world.acme, [obj["id"]]) == []


# --- 422 Unprocessable content -------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([indicator()], id="array"),
        pytest.param({}, id="no-objects"),
        pytest.param({"more": False}, id="envelope-without-objects"),
        pytest.param({"type": "bundle", "id": f"bundle--{uuid.uuid4()}"}, id="empty-bundle"),
        pytest.param({"objects": {"0": indicator()}}, id="objects-is-a-map"),
        pytest.param({"objects": "indicator"}, id="objects-is-a-string"),
        pytest.param(None, id="null"),
        pytest.param("objects", id="string"),
    ],
)
def test_body_that_is_not_an_envelope_is_422(
    server: LiveServer, world: World, document: Any
) -> None:
    response = post_objects(group_url(server, world), world.acme, document)
    assert_taxii_error(response, 422, "objects")


# --- per-object failures in a 202 ----------------------------------------------------------


def test_envelope_mixing_good_and_bad_objects_stores_the_good_and_names_each_fault(
    server: LiveServer, world: World
) -> None:
    good = [indicator(), malware()]
    no_id = indicator()
    del no_id["id"]
    wrong_type_id = {**indicator(), "id": random_id("malware")}
    stix_20 = indicator(spec_version="2.0")
    bad_timestamp = {**indicator(), "modified": "last tuesday"}
    backwards = indicator(created="2026-02-01T00:00:00.000Z", modified="2026-01-01T00:00:00.000Z")
    no_type = {**indicator(), "type": "Not A Type"}
    objects: list[Any] = [
        good[0],
        no_id,
        wrong_type_id,
        stix_20,
        good[1],
        bad_timestamp,
        backwards,
        no_type,
        42,
    ]
    url = group_url(server, world)

    response = post_objects(url, world.acme, envelope(*objects))

    assert response.status_code == 202, response.text
    assert response.headers["Content-Type"] == TAXII
    status = response.json()
    assert status["status"] == "complete"
    counts = [status[f"{n}_count"] for n in ("total", "success", "failure", "pending")]
    assert counts == [9, 2, 7, 0]
    assert [s["id"] for s in status["successes"]] == [o["id"] for o in good]
    faults = {f["id"]: f["message"] for f in status["failures"]}
    expected = {
        "objects[1]": ["'id'"],
        wrong_type_id["id"]: ["'id'", "indicator--"],
        stix_20["id"]: ["'spec_version'", "'2.0'"],
        bad_timestamp["id"]: ["'modified'", "last tuesday"],
        backwards["id"]: ["'modified'", "'created'"],
        no_type["id"]: ["'type'"],
        "objects[8]": ["JSON object"],
    }
    assert set(faults) == set(expected)
    for object_id, mentions in expected.items():
        assert all(m in faults[object_id] for m in mentions), (object_id, faults[object_id])

    again = send("GET", f"{server.api_root}status/{status['id']}/", world.acme)
    assert again.json() == status
    candidates = [o["id"] for o in objects if isinstance(o, dict) and "id" in o]
    assert stored_ids(url, world.acme, candidates) == [o["id"] for o in good]


def test_same_version_posted_twice_is_a_success_both_times_and_stored_once(
    server: LiveServer, world: World
) -> None:
    url = group_url(server, world)
    obj = indicator()

    first = post_objects(url, world.acme, envelope(obj)).json()
    second = post_objects(url, world.acme, envelope(obj)).json()

    for status in (first, second):
        assert (status["success_count"], status["failure_count"]) == (1, 0)
        assert status["successes"] == [{"id": obj["id"], "version": obj["modified"]}]
    assert first["id"] != second["id"]
    versions = send("GET", f"{url}objects/{obj['id']}/versions/", world.acme).json()
    assert versions["versions"] == [obj["modified"]]
    every = send("GET", f"{url}objects/{obj['id']}/", world.acme, params={"match[version]": "all"})
    assert len(every.json()["objects"]) == 1
