"""The sharing rules end to end: an industry member pushes to the inbox with taxii2-client,
a government member and a peer pull their feeds and get exactly what the policy says."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from taxii2client.v21 import Collection, Server, as_pages

from hub.services import Hub, review
from hub.sharing.pseudonyms import member_identity_id
from hub.stix.markings import CONSENT_MARKING_IDS, TLP2_MARKING_IDS
from tests.support.hubs import Account, LiveServer, add_account, make_hub
from tests.support.stix import envelope, indicator

TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
UNKNOWN_MARKING = "marking-definition--0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
CANARY = "canary-7f3e9a"


@dataclass
class Scene:
    hub: Hub
    live: LiveServer
    acme: Account  # industry, consents to government
    northwind: Account  # industry, consents to nobody
    cert: Account  # government

    def collection(self, account: Account, alias: str) -> Collection:
        server = Server(f"{self.live.url}/taxii2/", user=account.key_id, password=account.secret)
        for collection in server.default.collections:
            if collection.alias == alias:
                return collection
        raise AssertionError(f"{alias} is not visible to {account.member.name}")

    def feed(self, account: Account, alias: str) -> list[dict[str, Any]]:
        collection = self.collection(account, alias)
        pages = as_pages(collection.get_objects, per_request=50)
        return [o for page in pages for o in page.get("objects", [])]


@pytest.fixture
def scene(tmp_path: Path, database_url: str) -> Iterator[Scene]:
    hub = make_hub(tmp_path / "var", database_url)
    acme = add_account(hub, "Acme Bank", "industry", sector="finance", consent="government")
    northwind = add_account(hub, "Northwind Energy", "industry", sector="energy")
    cert = add_account(hub, "National CERT", "government", sector="government")
    live = LiveServer(hub)
    yield Scene(hub, live, acme, northwind, cert)
    live.stop()
    hub.close()


def _marked(value: str, *refs: str, **extra: Any) -> dict[str, Any]:
    return (
        indicator(value, object_marking_refs=list(refs), **extra)
        if refs
        else indicator(value, **extra)
    )


def _by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def test_each_audience_gets_exactly_what_the_policy_says(scene: Scene) -> None:
    own_identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "Acme Bank",
        "identity_class": "organization",
    }
    mine = {"created_by_ref": own_identity["id"]}
    clear = _marked("198.51.100.1", TLP2_MARKING_IDS["clear"], **mine)
    white = _marked("198.51.100.2", TLP1_WHITE, **mine)
    green = _marked(
        "198.51.100.3",
        TLP1_GREEN,
        description=f"Reported by Acme Bank ({CANARY}); contact soc@acme.example",
        x_acme_bank_internal=CANARY,
        **mine,
    )
    amber_default = _marked("198.51.100.4", **mine)
    amber_everyone = _marked(
        "198.51.100.5", TLP2_MARKING_IDS["amber"], CONSENT_MARKING_IDS["everyone"], **mine
    )
    strict = _marked("198.51.100.6", OPENCTI_AMBER_STRICT, **mine)
    red = _marked("198.51.100.7", TLP2_MARKING_IDS["red"], **mine)
    granular_red = _marked(
        "198.51.100.8",
        TLP2_MARKING_IDS["green"],
        granular_markings=[{"marking_ref": TLP2_MARKING_IDS["red"], "selectors": ["description"]}],
        description="partly red",
        **mine,
    )
    unknown = _marked("198.51.100.9", UNKNOWN_MARKING, **mine)
    account = {
        "type": "user-account",
        "spec_version": "2.1",
        "id": f"user-account--{uuid.uuid4()}",
        "user_id": "jdoe",
        "object_marking_refs": [TLP2_MARKING_IDS["green"]],
    }
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "sighting_of_ref": green["id"],
        "where_sighted_refs": [own_identity["id"]],
        "object_marking_refs": [TLP2_MARKING_IDS["green"]],
        **mine,
    }
    unknown_definition = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": UNKNOWN_MARKING,
        "created": "2026-01-01T00:00:00.000Z",
        "name": "Partner handling code 7",
        "extensions": {
            "extension-definition--11111111-2222-4333-8444-555555555555": {
                "extension_type": "property-extension",
                "code": 7,
            }
        },
    }
    sent = [
        own_identity,
        unknown_definition,
        clear,
        white,
        green,
        amber_default,
        amber_everyone,
        strict,
        red,
        granular_red,
        unknown,
        account,
        sighting,
    ]
    inbox = scene.collection(scene.acme, "inbox")
    status = inbox.add_objects(envelope(*sent))
    assert status.status == "complete"
    assert (status.success_count, status.failure_count) == (len(sent), 0)
    messages = {s["id"]: s.get("message", "") for s in status.successes}
    assert messages[red["id"]].startswith("not released")
    assert messages[unknown["id"]].startswith("held for review")
    assert messages[account["id"]].startswith("held for review")
    assert "government (named)" in messages[green["id"]]

    expected_everywhere = {clear["id"], white["id"]}
    expected_amber = {green["id"], amber_default["id"], amber_everyone["id"], sighting["id"]}
    never = {strict["id"], red["id"], granular_red["id"], unknown["id"], account["id"]}

    government = scene.feed(scene.cert, "government")
    members = scene.feed(scene.northwind, "members")
    public = scene.feed(scene.northwind, "public")
    for objects in (government, members):
        ids = {o["id"] for o in objects if o["type"] not in ("identity", "marking-definition")}
        assert ids == expected_everywhere | expected_amber
    assert {o["id"] for o in public if o["type"] == "indicator"} == expected_everywhere
    for objects in (government, members, public):
        assert not never & {o["id"] for o in objects}
        assert own_identity["id"] not in json.dumps(objects)
        for obj in objects:
            if obj["type"] not in ("marking-definition", "identity"):  # the hub's own
                assert len(obj["object_marking_refs"]) == 1
                assert obj["object_marking_refs"][0] in TLP2_MARKING_IDS.values()

    # Government: Acme consented, so it is named there (one real identity, no pseudonym).
    real = member_identity_id(scene.acme.member.id)
    gov = _by_id(government)
    assert gov[real]["name"] == "Acme Bank"
    assert all(gov[i]["created_by_ref"] == real for i in expected_everywhere | expected_amber)
    assert gov[sighting["id"]]["where_sighted_refs"] == [real]
    # Personal data and custom properties are redacted in every feed.
    assert gov[green["id"]]["description"] == (
        f"Reported by Acme Bank ({CANARY}); contact [REDACTED:email]"
    )
    assert gov[green["id"]]["x_acme_bank_internal"] == "[REDACTED:custom-property]"

    # Peers: Acme did not consent, so a pseudonym stands in, except where one object's own
    # consent marking says everyone.
    peer = _by_id(members)
    pseudonyms = {o["id"] for o in members if o["type"] == "identity"} - {real}
    assert len(pseudonyms) == 1
    (alias,) = pseudonyms
    assert peer[alias]["name"].startswith("Member ")
    assert peer[amber_everyone["id"]]["created_by_ref"] == real
    hidden = [peer[i] for i in (expected_everywhere | expected_amber) - {amber_everyone["id"]}]
    assert all(o["created_by_ref"] == alias for o in hidden)
    text = json.dumps(hidden).lower()
    assert "acme bank" not in text
    assert "x_acme_bank_internal" not in peer[green["id"]]  # a property named after it
    assert CANARY in text  # the canary was in text beside the name, not the name itself
    assert peer[sighting["id"]]["where_sighted_refs"] == [alias]
    # Each feed has its own pseudonym: the public one differs from the peers' one.
    public_ids = {o["id"] for o in public if o["type"] == "identity"}
    assert public_ids and not public_ids & {alias, real}


def test_held_object_reaches_the_feeds_after_approval_and_a_rejected_one_never(
    scene: Scene,
) -> None:
    inbox = scene.collection(scene.acme, "inbox")
    unknown = _marked("192.0.2.10", UNKNOWN_MARKING, TLP2_MARKING_IDS["green"])
    second = _marked("192.0.2.11", UNKNOWN_MARKING, TLP2_MARKING_IDS["green"])
    inbox.add_objects(envelope(unknown, second))
    held = {item.object_id: item for item in review.list_items(scene.hub)}
    assert set(held) == {unknown["id"], second["id"]}
    assert "unknown marking definition" in held[unknown["id"]].reason_list[0]
    assert scene.feed(scene.northwind, "members") == []

    outcome = review.approve(scene.hub, held[unknown["id"]].id, "analyst@hub.local")
    assert outcome.item.state == "approved"
    assert outcome.message.startswith("released to")
    review.reject(scene.hub, held[second["id"]].id, "analyst@hub.local", note="not ours")
    ids = {o["id"] for o in scene.feed(scene.northwind, "members")}
    assert unknown["id"] in ids
    assert second["id"] not in ids
    with pytest.raises(review.ReviewError):
        review.approve(scene.hub, held[second["id"]].id, "analyst@hub.local")


def test_revocation_and_deletion_reach_every_feed(scene: Scene) -> None:
    inbox = scene.collection(scene.acme, "inbox")
    clear = _marked("203.0.113.20", TLP2_MARKING_IDS["clear"])
    green = _marked("203.0.113.21", TLP2_MARKING_IDS["green"])
    inbox.add_objects(envelope(clear, green))
    assert clear["id"] in {o["id"] for o in scene.feed(scene.cert, "public")}

    # A revocation marked RED is not released as such, but the revocation still goes out.
    revoked = {
        **green,
        "modified": "2026-03-01T00:00:00.000Z",
        "revoked": True,
        "object_marking_refs": [TLP2_MARKING_IDS["red"]],
    }
    inbox.add_objects(envelope(revoked))
    for account, alias in ((scene.cert, "government"), (scene.northwind, "members")):
        latest = _by_id(scene.feed(account, alias))[green["id"]]
        assert latest["revoked"] is True
        assert latest["modified"] == "2026-03-01T00:00:00.000Z"
        assert latest["object_marking_refs"] == [TLP2_MARKING_IDS["green"]]

    # Deleting from the inbox deletes from every feed it went to.
    inbox.delete_object(clear["id"])
    for account, alias in (
        (scene.cert, "public"),
        (scene.cert, "government"),
        (scene.northwind, "members"),
    ):
        assert clear["id"] not in {o["id"] for o in scene.feed(account, alias)}


def test_only_the_first_submitter_may_add_versions(scene: Scene) -> None:
    original = _marked("203.0.113.30", TLP2_MARKING_IDS["green"])
    scene.collection(scene.acme, "inbox").add_objects(envelope(original))
    hijack = {**original, "modified": "2026-04-01T00:00:00.000Z", "revoked": True}
    status = scene.collection(scene.northwind, "inbox").add_objects(envelope(hijack))
    assert (status.success_count, status.failure_count) == (0, 1)
    assert "another member" in status.failures[0]["message"]
    feed = _by_id(scene.feed(scene.cert, "government"))
    assert "revoked" not in feed[original["id"]]


def test_resending_a_bundle_releases_nothing_twice(scene: Scene) -> None:
    objects = [_marked(f"203.0.113.{i}", TLP2_MARKING_IDS["green"]) for i in range(40, 45)]
    inbox = scene.collection(scene.acme, "inbox")
    inbox.add_objects(envelope(*objects))
    again = inbox.add_objects(envelope(*objects))
    assert again.success_count == 5
    assert {s["message"] for s in again.successes} == {"already received"}
    feed = scene.feed(scene.northwind, "members")
    indicators = [o["id"] for o in feed if o["type"] == "indicator"]
    assert sorted(indicators) == sorted(o["id"] for o in objects)
