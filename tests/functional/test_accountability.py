"""Accountability end to end: receipts and counts that match what subscribers really pulled
over TAXII, the government access log, the transparency report's thresholds, and retention."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from taxii2client.v21 import Collection, Server

from hub.services import Hub, accountability, retention
from hub.stix.markings import TLP2_MARKING_IDS
from hub.stix.timestamps import parse_us
from hub.storage.accountability import PurgeRepository
from hub.storage.collections import CollectionRepository
from hub.storage.objects import ObjectRepository
from hub.storage.submissions import SubmissionRepository
from tests.support.hubs import Account, LiveServer, add_account, make_hub
from tests.support.stix import indicator

DAY_US = 86_400 * 1_000_000


@dataclass
class Scene:
    hub: Hub
    live: LiveServer
    acme: Account  # industry, finance: the submitter
    northwind: Account  # industry, energy
    gulf: Account  # industry, finance
    cert: Account  # government

    def collection(self, account: Account, alias: str) -> Collection:
        server = Server(f"{self.live.url}/taxii2/", user=account.key_id, password=account.secret)
        return next(c for c in server.default.collections if c.alias == alias)

    def push(self, account: Account, *objects: dict[str, Any]) -> str:
        response = requests.post(
            f"{self.live.url}/api/v1/submissions",
            data=json.dumps(
                {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
            ),
            headers={"Content-Type": "application/json"},
            auth=account.basic,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"]["status"] == "complete"
        return str(body["id"])

    def receipts(self, account: Account, submission_id: str) -> requests.Response:
        return requests.get(
            f"{self.live.url}/api/v1/submissions/{submission_id}/receipts",
            auth=account.basic,
            timeout=30,
        )


def _scene(tmp_path: Path, database_url: str, **sections: dict[str, Any]) -> Scene:
    hub = make_hub(tmp_path / "var", database_url, **sections)
    scene = Scene(
        hub,
        LiveServer(hub),
        add_account(hub, "Acme Bank", "industry", sector="finance"),
        add_account(hub, "Northwind Energy", "industry", sector="energy"),
        add_account(hub, "Gulf Bank", "industry", sector="finance"),
        add_account(hub, "National CERT", "government", sector="government"),
    )
    return scene


@pytest.fixture
def scene(tmp_path: Path, database_url: str) -> Iterator[Scene]:
    built = _scene(tmp_path, database_url)
    yield built
    built.live.stop()
    built.hub.close()


def _green(value: str, **extra: Any) -> dict[str, Any]:
    return indicator(value, object_marking_refs=[TLP2_MARKING_IDS["green"]], **extra)


def test_receipts_count_exactly_who_pulled_what(scene: Scene) -> None:
    greens = [_green(f"198.51.100.{i}") for i in range(1, 6)]
    red = indicator("198.51.100.99", object_marking_refs=[TLP2_MARKING_IDS["red"]])
    submission = scene.push(scene.acme, *greens, red)

    # The government member pulls its whole feed; Northwind one page of the members feed;
    # Gulf Bank one object by id.
    government = scene.collection(scene.cert, "government").get_objects()["objects"]
    assert {o["id"] for o in greens} <= {o["id"] for o in government}
    page = scene.collection(scene.northwind, "members").get_objects(limit=4)["objects"]
    northwind_got = {o["id"] for o in page} & {o["id"] for o in greens}
    assert 0 < len(northwind_got) < len(greens)  # some, not all
    scene.collection(scene.gulf, "members").get_object(greens[-1]["id"])

    response = scene.receipts(scene.acme, submission)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 6
    by_id = {entry["id"]: entry for entry in body["objects"]}
    assert by_id[red["id"]]["receipts"] == []
    assert by_id[red["id"]]["outcome"].startswith("not released")
    assert by_id[red["id"]]["state"] == "withheld"
    assert body["states"]["released"] == len(greens)
    assert body["states"]["withheld"] == 1
    for obj in greens:
        feeds = {r["feed"]: r for r in by_id[obj["id"]]["receipts"]}
        assert set(feeds) == {"government", "members"}
        assert feeds["government"]["pulled_by"] == {
            "organisations": 1,
            "by_kind": {"government": 1},
            "by_sector": {"government": 1},
        }
        assert feeds["government"]["government_reads"] == 1
        assert not feeds["members"]["named"]
        assert feeds["members"]["identity"].startswith("identity--")
        expected: dict[str, int] = {}
        if obj["id"] in northwind_got:
            expected["energy"] = 1
        if obj["id"] == greens[-1]["id"]:
            expected["finance"] = 1
        pulled = feeds["members"]["pulled_by"]
        assert pulled["by_sector"] == expected
        assert pulled["organisations"] == len(expected)
        assert "names" not in pulled  # no names unless the policy allows them
        assert feeds["members"]["government_reads"] == 0

    # Only the submitter sees its receipts; to others the submission does not exist.
    assert scene.receipts(scene.gulf, submission).status_code == 404

    # The government access log has the government member's one read; the submitter sees
    # counts of government access to its objects, never who.
    log = accountability.read_log(scene.hub, kind="government")
    assert [(r["member"], r["feed"]) for r in log] == [("National CERT", "government")]
    assert log[0]["objects"] == len(government)
    summary = requests.get(
        f"{scene.live.url}/api/v1/receipts/government-access", auth=scene.acme.basic, timeout=30
    ).json()
    assert summary["objects_pulled_by_government"] == len(greens)
    assert summary["government_organisations"] == 1
    csv_text = requests.get(
        f"{scene.live.url}/api/v1/receipts/government-access?format=csv",
        auth=scene.acme.basic,
        timeout=30,
    ).text
    assert csv_text.splitlines()[0] == "month,objects"
    exported = accountability.as_csv(log, accountability.READ_LOG_COLUMNS)
    assert "National CERT" in exported.splitlines()[1]


def test_transparency_report_never_exposes_small_groups_names_or_indicators(
    tmp_path: Path, database_url: str
) -> None:
    scene = _scene(tmp_path, database_url, transparency={"min_group_size": 3})
    try:
        canary = "canary-51d2"
        finance = [scene.acme, scene.gulf]
        finance.append(add_account(scene.hub, "Harbour Bank", "industry", sector="finance"))
        values = []
        for number, account in enumerate([*finance, scene.northwind]):
            value = f"203.0.113.{number + 10}"
            values.append(value)
            scene.push(
                account,
                _green(value, description=f"{canary} seen by {account.member.name}"),
                indicator(
                    f"203.0.113.{number + 50}", object_marking_refs=[TLP2_MARKING_IDS["clear"]]
                ),
            )
        scene.collection(scene.cert, "government").get_objects()

        response = requests.get(f"{scene.live.url}/transparency.json", timeout=30)
        assert response.status_code == 200  # public: no key needed
        report = response.json()
        page = requests.get(f"{scene.live.url}/transparency", timeout=30)
        assert page.status_code == 200
        assert "Transparency report" in page.text
        for text in (response.text, page.text):
            for name in ("Acme Bank", "Gulf Bank", "Harbour Bank", "Northwind Energy", "CERT"):
                assert name not in text
            assert canary not in text
            for value in values:
                assert value not in text
            assert "indicator--" not in text
            assert "identity--" not in text

        sectors = {row["label"]: row for row in report["received_by_sector"]["rows"]}
        # Energy has one organisation: withheld. The total (four organisations) is published,
        # so finance, the only other row, is withheld too: else total - finance = energy.
        assert sectors["energy"]["suppressed"] and sectors["energy"]["count"] is None
        assert sectors["finance"]["suppressed"] and sectors["finance"]["count"] is None
        assert report["received_by_sector"]["total"] == 8
        # One government organisation read a feed: below the threshold, so withheld.
        reads = report["government_feed_reads"]["reads_by_month"]
        assert all(row["suppressed"] for row in reads["rows"])
        assert reads["total"] is None
        # Every published row stands for at least k organisations: check against the data.
        released = {r["label"]: r for r in report["released_by_feed_and_tlp"]["rows"]}
        assert released["public / TLP:CLEAR"]["count"] == 4
        assert not released["public / TLP:CLEAR"]["suppressed"]

        with_key = requests.get(
            f"{scene.live.url}/transparency.json", auth=scene.acme.basic, timeout=30
        )
        assert with_key.status_code == 200
    finally:
        scene.live.stop()
        scene.hub.close()


def test_a_private_transparency_report_needs_a_key(tmp_path: Path, database_url: str) -> None:
    scene = _scene(tmp_path, database_url, transparency={"public": False})
    try:
        assert requests.get(f"{scene.live.url}/transparency.json", timeout=30).status_code == 401
        answer = requests.get(
            f"{scene.live.url}/transparency.json", auth=scene.gulf.basic, timeout=30
        )
        assert answer.status_code == 200
    finally:
        scene.live.stop()
        scene.hub.close()


def _feed_ids(hub: Hub, alias: str) -> list[str]:
    with hub.db.read() as conn:
        feed = CollectionRepository(conn).find(alias)
        assert feed is not None
        page = ObjectRepository(conn).page(feed.id, _latest_versions(), after_seq=0, limit=10_000)
    return [row.object_id for row in page.rows if row.type == "indicator"]


def _latest_versions() -> Any:
    """The latest version of each object, as a default TAXII read returns them."""
    from hub.storage.objects import ObjectQuery

    return ObjectQuery()


def test_retention_purges_what_the_rules_say_and_paging_stays_exact(
    tmp_path: Path, database_url: str
) -> None:
    scene = _scene(tmp_path, database_url)
    try:
        hub = scene.hub
        expiring = [
            _green(f"192.0.2.{i}", valid_until="2026-02-01T00:00:00.000Z") for i in range(1, 4)
        ]
        lasting = [
            _green(f"192.0.2.{i}", valid_until="2030-01-01T00:00:00.000Z") for i in range(10, 14)
        ]
        renewed = _green("192.0.2.50", valid_until="2026-02-01T00:00:00.000Z")
        mixed = [lasting[0], expiring[0], lasting[1], expiring[1], lasting[2], expiring[2]]
        submission = scene.push(scene.acme, *mixed, lasting[3], renewed)
        # A new version of one expiring indicator extends it: it must stay.
        scene.push(
            scene.acme,
            {
                **renewed,
                "modified": "2026-01-15T00:00:00.000Z",
                "valid_until": "2031-01-01T00:00:00.000Z",
            },
        )

        # A reader pages through the members feed two at a time and stops halfway.
        members = scene.collection(scene.northwind, "members")
        first = members.get_objects(limit=4)
        token = first["next"]
        seen = [o["id"] for o in first["objects"]]

        expires = parse_us("2026-02-01T00:00:00.000Z")
        results = retention.run(hub, now=expires + 31 * DAY_US)
        rules = {r.rule: r.count for r in results}
        assert rules["feed:members:expired"] == 3
        assert rules["feed:government:expired"] == 3
        assert "feed:public:expired" not in rules
        for alias in ("members", "government"):
            remaining = _feed_ids(hub, alias)
            assert not {o["id"] for o in expiring} & set(remaining)
            assert {o["id"] for o in lasting} | {renewed["id"]} <= set(remaining)
        # The inbox keeps what the member sent.
        inbox = _feed_ids(hub, "inbox")
        assert {o["id"] for o in expiring} <= set(inbox)

        # Paging resumes exactly: everything after the token that still exists, once.
        rest = []
        page = members.get_objects(limit=4, next=token)
        rest += [o["id"] for o in page.get("objects", [])]
        while page.get("more"):
            page = members.get_objects(limit=4, next=page["next"])
            rest += [o["id"] for o in page.get("objects", [])]
        assert len(rest) == len(set(rest))
        assert not set(rest) & set(seen)
        expected = [o for o in _feed_ids(hub, "members") if o not in seen]
        assert [o for o in rest if o.startswith("indicator--")] == expected

        # Raw bodies go after raw_submission_days; the submission and its status stay.
        with hub.db.read() as conn:
            recorded = SubmissionRepository(conn).get(submission)
            assert recorded is not None
        later = recorded.received_us + 31 * DAY_US
        rules = {r.rule: r.count for r in retention.run(hub, now=later)}
        assert rules["raw-submissions"] == 2
        with hub.db.read() as conn:
            assert SubmissionRepository(conn).raw(submission) == b""
            purges = PurgeRepository(conn).list()
        assert scene.receipts(scene.acme, submission).status_code == 200
        # Every purge is recorded, with the cut-off and never the content.
        assert {p.rule for p in purges} >= {"raw-submissions", "feed:members:expired"}
        for purge in purges:
            assert set(json.loads(purge.detail or "{}")) == {"cutoff"}
        # A second run at the same time finds nothing more.
        assert retention.run(hub, now=later) == []
    finally:
        scene.live.stop()
        scene.hub.close()


def test_feed_age_retention_and_decided_review_items(tmp_path: Path, database_url: str) -> None:
    from hub.config import DEFAULT_COLLECTIONS, CollectionSettings
    from hub.services import review

    collections = tuple(
        CollectionSettings(**{**c.__dict__, "retention_days": 7}) if c.alias == "public" else c
        for c in DEFAULT_COLLECTIONS
    )
    scene = _scene(tmp_path, database_url, collections=collections)  # type: ignore[arg-type]
    try:
        clear = indicator("192.0.2.70", object_marking_refs=[TLP2_MARKING_IDS["clear"]])
        held = indicator(
            "192.0.2.71",
            object_marking_refs=["marking-definition--1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"],
        )
        scene.push(scene.acme, clear, held)
        (item,) = review.list_items(scene.hub)
        review.reject(scene.hub, item.id, "analyst@hub.local")
        assert _feed_ids(scene.hub, "public") == [clear["id"]]
        from hub.stix.timestamps import now_us

        results = {r.rule: r.count for r in retention.run(scene.hub, now=now_us() + 8 * DAY_US)}
        assert results["feed:public:age"] >= 1
        assert _feed_ids(scene.hub, "public") == []
        assert clear["id"] in _feed_ids(scene.hub, "members")  # other feeds keep theirs
        results = {r.rule: r.count for r in retention.run(scene.hub, now=now_us() + 91 * DAY_US)}
        assert results["review-items"] == 1
        assert review.list_items(scene.hub, state=None) == []
    finally:
        scene.live.stop()
        scene.hub.close()
