"""Who may see, read and write each collection over TAXII, and how revoking a key or suspending
a member cuts that off at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from hub.services import collections as collection_service
from hub.services import membership
from tests.support.hubs import Account, LiveServer, World, add_account
from tests.support.stix import TAXII, envelope, indicator

ALIASES = ("inbox", "government", "members", "public", "finance-tg")
# (can_read, can_write) for each collection a member sees; the ones missing do not exist for it.
PERMISSIONS = {
    "acme": {  # industry, finance
        "inbox": (False, True),
        "members": (True, False),
        "public": (True, False),
        "finance-tg": (True, True),
    },
    "northwind": {  # industry, energy
        "inbox": (False, True),
        "members": (True, False),
        "public": (True, False),
    },
    "cert": {  # government
        "government": (True, False),
        "public": (True, False),
        "finance-tg": (True, False),
    },
}
SUCCESS = {"GET": 200, "POST": 202, "DELETE": 200}


def send(
    method: str,
    url: str,
    account: Account | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """One TAXII request; a POST carries an envelope with one new indicator."""
    sent = {"Accept": TAXII, **(headers or {})}
    body = None
    if method == "POST":
        sent["Content-Type"] = TAXII
        body = json.dumps(envelope(indicator())).encode()
    auth = account.basic if account else None
    return requests.request(method, url, auth=auth, headers=sent, data=body, timeout=10)


def listed(server: LiveServer, account: Account) -> dict[str, tuple[bool, bool]]:
    response = send("GET", server.api_root + "collections/", account)
    assert response.status_code == 200
    collections = response.json().get("collections", [])
    return {c["alias"]: (c["can_read"], c["can_write"]) for c in collections}


def post(url: str, account: Account, *objects: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        url + "objects/",
        auth=account.basic,
        headers={"Accept": TAXII, "Content-Type": TAXII},
        data=json.dumps(envelope(*objects)).encode(),
        timeout=10,
    )
    assert response.status_code == 202, response.text
    status: dict[str, Any] = response.json()
    return status


def object_ids(url: str, account: Account) -> list[str]:
    response = send("GET", url + "objects/", account)
    assert response.status_code == 200
    return [o["id"] for o in response.json().get("objects", [])]


@pytest.mark.parametrize("who", sorted(PERMISSIONS))
def test_each_member_reads_and_writes_exactly_the_collections_it_is_allowed(
    server: LiveServer, world: World, who: str
) -> None:
    account: Account = getattr(world, who)
    expected = PERMISSIONS[who]
    assert listed(server, account) == expected

    observed: dict[str, tuple[Any, ...]] = {}
    wanted: dict[str, tuple[Any, ...]] = {}
    for alias in ALIASES:
        url = server.collection_url(world.collection_ids[alias])
        one = send("GET", url, account)
        flags = (one.json()["can_read"], one.json()["can_write"]) if one.ok else None
        observed[alias] = (
            one.status_code,
            flags,
            send("GET", url + "objects/", account).status_code,
            send("GET", url + "manifest/", account).status_code,
            send("POST", url + "objects/", account).status_code,
        )
        if alias not in expected:
            wanted[alias] = (404, None, 404, 404, 404)
        else:
            can_read, can_write = expected[alias]
            read = 200 if can_read else 403
            wanted[alias] = (200, expected[alias], read, read, 202 if can_write else 403)
    assert observed == wanted


def test_what_a_finance_member_shares_in_its_group_reaches_only_the_group(
    server: LiveServer, world: World
) -> None:
    group = server.collection_url(world.trust_group_id)
    obj = indicator()
    post(group, world.acme, obj)

    assert obj["id"] in object_ids(group, world.acme)
    assert obj["id"] in object_ids(group, world.cert)
    assert send("GET", f"{group}objects/{obj['id']}/", world.northwind).status_code == 404


def test_sector_trust_group_is_invisible_outside_its_sector(
    server: LiveServer, world: World
) -> None:
    regulator = add_account(world.hub, "Energy Regulator", "government", sector="energy")
    group = collection_service.add_collection(
        world.hub,
        "energy-tg",
        "Energy trust group",
        readers=["sector:energy"],
        writers=["industry:energy"],
    )
    url = server.collection_url(group.id)
    obj = indicator()
    post(url, world.northwind, obj)

    assert listed(server, world.northwind)["energy-tg"] == (True, True)
    assert listed(server, regulator)["energy-tg"] == (True, False)
    assert object_ids(url, regulator) == [obj["id"]]

    for outsider in (world.acme, world.cert):
        assert "energy-tg" not in listed(server, outsider)
        for address in (url, server.collection_url("energy-tg")):
            refused = {
                (method, resource): send(method, address + resource, outsider).status_code
                for method, resource in (
                    ("GET", ""),
                    ("GET", "objects/"),
                    ("GET", "manifest/"),
                    ("GET", f"objects/{obj['id']}/"),
                    ("GET", f"objects/{obj['id']}/versions/"),
                    ("POST", "objects/"),
                    ("DELETE", f"objects/{obj['id']}/"),
                )
            }
            assert set(refused.values()) == {404}, refused
    assert object_ids(url, regulator) == [obj["id"]]  # the outsiders' DELETEs did nothing


def test_member_reads_the_status_of_its_own_submissions_and_no_one_else_does(
    server: LiveServer, world: World
) -> None:
    group = server.collection_url(world.trust_group_id)
    inbox = server.collection_url(world.collection_ids["inbox"])
    other_key = membership.issue_key(world.hub, world.acme.member.id, "read")
    same_member = Account(world.acme.member, other_key.key.id, other_key.secret)

    for url in (group, inbox):  # the inbox cannot be read, but its statuses can
        status = post(url, world.acme, indicator(), indicator())
        status_url = f"{server.api_root}status/{status['id']}/"
        for reader in (world.acme, same_member):
            response = send("GET", status_url, reader)
            assert response.status_code == 200
            assert response.json() == status
        assert status["success_count"] == 2
        for stranger in (world.northwind, world.cert):
            assert send("GET", status_url, stranger).status_code == 404


def every_endpoint(server: LiveServer, world: World, account: Account) -> list[tuple[str, str]]:
    """(method, url) of each TAXII endpoint, with a real object and status of `account`'s."""
    group = server.collection_url(world.trust_group_id)
    obj = indicator()
    status = post(group, account, obj)
    return [
        ("GET", f"{server.url}/taxii2/"),
        ("GET", server.api_root),
        ("GET", server.api_root + "collections/"),
        ("GET", group),
        ("GET", group + "objects/"),
        ("GET", group + "manifest/"),
        ("GET", f"{group}objects/{obj['id']}/"),
        ("GET", f"{group}objects/{obj['id']}/versions/"),
        ("GET", f"{server.api_root}status/{status['id']}/"),
        ("POST", group + "objects/"),
        ("DELETE", f"{group}objects/{obj['id']}/"),  # last: it removes the object
    ]


def outcomes(
    endpoints: list[tuple[str, str]],
    account: Account | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> dict[tuple[str, str], int]:
    return {(m, u): send(m, u, account, headers=headers).status_code for m, u in endpoints}


def all_succeed(endpoints: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    return {(m, u): SUCCESS[m] for m, u in endpoints}


def all_refused(endpoints: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    return dict.fromkeys(endpoints, 401)


def test_revoked_key_is_refused_everywhere_while_the_members_other_keys_work(
    server: LiveServer, world: World
) -> None:
    spare = membership.issue_key(world.hub, world.acme.member.id, "read,write")
    other = Account(world.acme.member, spare.key.id, spare.secret)
    endpoints = every_endpoint(server, world, world.acme)
    reads = endpoints[:-1]
    assert outcomes(reads, world.acme) == all_succeed(reads)

    membership.revoke_key(world.hub, world.acme.key_id)

    assert outcomes(endpoints, world.acme) == all_refused(endpoints)
    bearer = {"Authorization": f"Bearer {world.acme.secret}"}
    assert outcomes(endpoints, headers=bearer) == all_refused(endpoints)
    assert outcomes(endpoints, other) == all_succeed(endpoints)


def test_suspended_member_is_refused_everywhere_until_reinstated(
    server: LiveServer, world: World
) -> None:
    spare = membership.issue_key(world.hub, world.acme.member.id, "read,write")
    keys = [world.acme, Account(world.acme.member, spare.key.id, spare.secret)]
    endpoints = every_endpoint(server, world, world.acme)
    group = server.collection_url(world.trust_group_id)

    membership.set_member_status(world.hub, world.acme.member.id, "suspended")

    for key in keys:
        assert outcomes(endpoints, key) == all_refused(endpoints)
        bearer = {"Authorization": f"Bearer {key.secret}"}
        assert outcomes(endpoints, headers=bearer) == all_refused(endpoints)
    # Other members are untouched, and what Acme shared before stays shared.
    assert listed(server, world.northwind) == PERMISSIONS["northwind"]
    assert len(object_ids(group, world.cert)) == 1

    membership.set_member_status(world.hub, world.acme.member.id, "active")

    reads = endpoints[:-1]
    for key in keys:
        assert outcomes(reads, key) == all_succeed(reads)
    assert outcomes(endpoints[-1:], keys[1]) == all_succeed(endpoints[-1:])


def test_reinstating_a_member_does_not_revive_a_revoked_key(
    server: LiveServer, world: World
) -> None:
    url = server.api_root + "collections/"
    membership.revoke_key(world.hub, world.acme.key_id)
    membership.set_member_status(world.hub, world.acme.member.id, "suspended")
    membership.set_member_status(world.hub, world.acme.member.id, "active")

    assert send("GET", url, world.acme).status_code == 401
    fresh = membership.issue_key(world.hub, world.acme.member.id, "read")
    assert send("GET", url, Account(world.acme.member, fresh.key.id, fresh.secret)).ok
