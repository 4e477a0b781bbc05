"""The console's Receipts pages against a live hub: every figure is what subscribers really
pulled over TAXII with taxii2-client, object by object and feed by feed, and what the REST API
says; the CSV exports say the same; a member-admin sees its own organisation's and nothing of
another's (404, as if missing), and an admin opens any member's from the member's page."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from taxii2client.v21 import Server, as_pages

from hub.services import Hub, membership, review
from hub.stix.markings import TLP2_MARKING_IDS
from hub.stix.timestamps import parse_us
from tests.support.console import ADMIN, PASSWORD, LiveConsole, Row, table_rows
from tests.support.hubs import Account, LiveServer, add_account, make_hub
from tests.support.stix import indicator

UNKNOWN_MARKING = "marking-definition--1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ACME_ADMIN = "soc@acme.example"
NORTHWIND_ADMIN = "it@northwind.example"


def _marked(value: str, tlp: str, **extra: Any) -> dict[str, Any]:
    return indicator(value, object_marking_refs=[TLP2_MARKING_IDS[tlp]], **extra)


@dataclass
class Pulled:
    """What the subscribers received over TAXII, counted on the clients' side."""

    who: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    government_reads: Counter[tuple[str, str]] = field(default_factory=Counter)
    received: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    government_objects: int = 0  # the submitter's objects in government members' reads


@dataclass
class Scene:
    hub: Hub
    live: LiveServer
    acme: Account  # the submitter: industry, finance
    gulf: Account  # industry, finance
    northwind: Account  # industry, energy
    cert: Account  # government, sector government
    defence: Account  # government, sector defence
    ours: set[str]  # the ids of Acme's objects
    pulled: Pulled = field(default_factory=Pulled)

    @property
    def accounts(self) -> dict[str, Account]:
        found = (self.acme, self.gulf, self.northwind, self.cert, self.defence)
        return {a.member.id: a for a in found}

    def feed(self, account: Account, alias: str) -> Any:
        server = Server(f"{self.live.url}/taxii2/", user=account.key_id, password=account.secret)
        return next(c for c in server.default.collections if c.alias == alias)

    def pull(self, account: Account, alias: str, *, per_request: int = 100) -> None:
        """Page through a whole feed as a subscriber does; each page is one read."""
        for envelope in as_pages(self.feed(account, alias).get_objects, per_request=per_request):
            self._count(account, alias, envelope.get("objects", []))

    def pull_first_page(self, account: Account, alias: str, limit: int) -> None:
        self._count(account, alias, self.feed(account, alias).get_objects(limit=limit)["objects"])

    def pull_one(self, account: Account, alias: str, object_id: str) -> None:
        envelope = self.feed(account, alias).get_object(object_id)
        self._count(account, alias, envelope.get("objects", []))

    def _count(self, account: Account, alias: str, objects: list[dict[str, Any]]) -> None:
        mine = [o for o in objects if o["id"] in self.ours]
        government = account.member.kind == "government"
        for obj in mine:
            self.pulled.who[(alias, obj["id"])].add(account.member.id)
            self.pulled.received[(alias, obj["id"])] = obj
            if government:
                self.pulled.government_reads[(alias, obj["id"])] += 1
        if government:
            self.pulled.government_objects += len(mine)

    def submit(self, *objects: dict[str, Any]) -> str:
        response = requests.post(
            f"{self.live.url}/api/v1/submissions",
            data=json.dumps(
                {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
            ),
            headers={"Content-Type": "application/json"},
            auth=self.acme.basic,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"]["status"] == "complete"
        return str(response.json()["id"])

    def console(self, email: str, password: str = PASSWORD) -> LiveConsole:
        console = LiveConsole(self.live.url)
        assert console.sign_in(email, password).status_code == 302
        return console


@contextmanager
def _scene(tmp_path: Path, database_url: str, **sections: dict[str, Any]) -> Iterator[Scene]:
    # A small console page, so the receipts come in several pages.
    hub = make_hub(tmp_path / "var", database_url, console={"page_size": 4}, **sections)
    acme = add_account(hub, "Acme Bank", "industry", sector="finance")
    northwind = add_account(hub, "Northwind Energy", "industry", sector="energy")
    scene = Scene(
        hub,
        LiveServer(hub),
        acme,
        add_account(hub, "Gulf Bank", "industry", sector="finance"),
        northwind,
        add_account(hub, "National CERT", "government", sector="government"),
        add_account(hub, "Defence CERT", "government", sector="defence"),
        set(),
    )
    membership.add_user(hub, ACME_ADMIN, PASSWORD, "member-admin", member_id=acme.member.id)
    membership.add_user(
        hub, NORTHWIND_ADMIN, PASSWORD, "member-admin", member_id=northwind.member.id
    )
    try:
        yield scene
    finally:
        scene.live.stop()
        hub.close()


@pytest.fixture
def scene(tmp_path: Path, database_url: str) -> Iterator[Scene]:
    with _scene(tmp_path, database_url) as built:
        yield built


def _receipt_pages(console: LiveConsole, path: str) -> tuple[list[Row], list[str]]:
    """Every row of the receipts table over all its pages, and each page's text."""
    rows: list[Row] = []
    texts: list[str] = []
    page = 1
    while True:
        response = console.get(f"{path}?page={page}")
        assert response.status_code == 200, response.text
        texts.append(response.text)
        rows += table_rows(response.text, "receipts")
        if 'rel="next"' not in response.text:
            return rows, texts
        page += 1


def _counts(text: str) -> dict[str, int]:
    """ "energy 1; finance 2" (or "—") as a dict."""
    if text == "—":
        return {}
    return {name: int(n) for name, _, n in (part.rpartition(" ") for part in text.split("; "))}


def _expected(scene: Scene, alias: str, object_id: str) -> dict[str, Any]:
    members = [scene.accounts[m].member for m in scene.pulled.who.get((alias, object_id), set())]
    return {
        "organisations": len(members),
        "by_kind": dict(Counter(m.kind for m in members)),
        "by_sector": dict(Counter(m.sector or "unknown" for m in members)),
        "government_reads": scene.pulled.government_reads[(alias, object_id)],
    }


def test_receipts_page_shows_what_subscribers_pulled_over_taxii(scene: Scene) -> None:
    greens = [_marked(f"198.51.100.{i}", "green") for i in range(1, 6)]
    redacted = _marked(
        "198.51.100.40", "green", description="Reported by jane.doe@victim.example to our SOC"
    )
    clear = _marked("198.51.100.50", "clear")
    red = _marked("198.51.100.99", "red")
    approved = indicator("198.51.100.60", object_marking_refs=[UNKNOWN_MARKING])
    refused = indicator("198.51.100.61", object_marking_refs=[UNKNOWN_MARKING])
    invalid = _marked(
        "198.51.100.70",
        "green",
        valid_from="2026-02-01T00:00:00.000Z",
        valid_until="2026-01-01T00:00:00.000Z",
    )
    objects = [*greens, redacted, clear, red, approved, refused, invalid]
    scene.ours = {o["id"] for o in objects}
    submission = scene.submit(*objects)

    # Two held objects: one approved (then released), one rejected.
    items = {item.object_id: item for item in review.list_items(scene.hub)}
    assert set(items) == {approved["id"], refused["id"]}
    review.approve(scene.hub, items[approved["id"]].id, "analyst@hub.local")
    review.reject(scene.hub, items[refused["id"]].id, "analyst@hub.local")

    # What the subscribers pull, with a stock TAXII 2.1 client.
    scene.pull(scene.cert, "government", per_request=3)
    scene.pull_one(scene.defence, "government", greens[0]["id"])
    scene.pull_first_page(scene.northwind, "members", limit=4)
    scene.pull(scene.gulf, "members")
    scene.pull(scene.northwind, "public")
    scene.pull(scene.cert, "government")  # a second time: reads, not organisations, grow

    console = scene.console(ACME_ADMIN)
    listing = console.get(f"/console/members/{scene.acme.member.id}/receipts")
    assert listing.status_code == 200
    path = f"/console/members/{scene.acme.member.id}/receipts/{submission}"
    assert f'href="{path}"' in listing.text
    rows, texts = _receipt_pages(console, path)
    assert len(texts) > 1  # paged: four objects a page

    # Per object: its state, and why.
    states = {row.attrs["data-object"]: row.cell("state") for row in rows if _has(row, "state")}
    assert set(states) == scene.ours
    for obj in [*greens, redacted, clear]:
        assert states[obj["id"]].startswith("released released to ")
    assert states[approved["id"]] == "released approved at review"
    assert states[refused["id"]] == "rejected rejected at review"
    assert states[red["id"]].startswith("withheld TLP:RED is never released")
    assert states[invalid["id"]].startswith("rejected ")
    assert "valid_until" in states[invalid["id"]]

    # Per object and feed: as which version, under which identity, and who pulled it.
    by_feed = {
        (r.attrs["data-object"], r.attrs["data-feed"]): r for r in rows if "data-feed" in r.attrs
    }
    released = [*greens, redacted, clear, approved]
    expected_feeds = {(o["id"], f) for o in released for f in ("government", "members")}
    expected_feeds.add((clear["id"], "public"))
    assert set(by_feed) == expected_feeds
    for (object_id, alias), row in by_feed.items():
        want = _expected(scene, alias, object_id)
        assert int(row.cell("organisations")) == want["organisations"], (object_id, alias)
        assert _counts(row.cell("by-kind")) == want["by_kind"], (object_id, alias)
        assert _counts(row.cell("by-sector")) == want["by_sector"], (object_id, alias)
        assert int(row.cell("government-reads")) == want["government_reads"], (object_id, alias)
        received = scene.pulled.received.get((alias, object_id))
        if received is not None:  # as the subscribers got it: that version, that identity
            assert parse_us(row.cell("feed-version")) == parse_us(received["modified"])
            assert row.cell("appears-as") == f"a pseudonym {received['created_by_ref']}"
    # The CERT read its whole feed twice; Defence CERT one object once.
    assert _expected(scene, "government", greens[0]["id"]) == {
        "organisations": 2,
        "by_kind": {"government": 2},
        "by_sector": {"defence": 1, "government": 1},
        "government_reads": 3,
    }
    # What was redacted, by detector and property, never the content; the feed's copy agrees.
    for alias in ("government", "members"):
        assert by_feed[(redacted["id"], alias)].cell("redactions") == "email in description"
        assert "jane.doe" not in scene.pulled.received[(alias, redacted["id"])]["description"]
    # Subscribers are counted, never named (the default policy), and nothing leaks.
    page_text = "".join(texts)
    for name in ("Gulf Bank", "Northwind Energy", "National CERT", "Defence CERT"):
        assert name not in page_text
    assert "jane.doe" not in page_text

    # The REST API gives the same figures for the same submission.
    api = requests.get(
        f"{scene.live.url}/api/v1/submissions/{submission}/receipts",
        auth=scene.acme.basic,
        timeout=30,
    ).json()
    for obj in api["objects"]:
        assert states[obj["id"]].startswith(f"{obj['state']} {obj['reason']}")
        for receipt in obj["receipts"]:
            row = by_feed[(obj["id"], receipt["feed"])]
            assert int(row.cell("organisations")) == receipt["pulled_by"]["organisations"]
            assert _counts(row.cell("by-sector")) == receipt["pulled_by"]["by_sector"]
    assert api["states"]["released"] == len(released)

    # The export has every row the pages have, with the same figures.
    export = console.get(f"{path}?format=csv")
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.text)))
    assert {(r["object_id"], r["feed"]) for r in table if r["feed"]} == expected_feeds
    for record in table:
        if not record["feed"]:
            continue
        want = _expected(scene, record["feed"], record["object_id"])
        assert int(record["organisations"]) == want["organisations"]
        assert _counts(record["by_sector"] or "—") == want["by_sector"]
        assert int(record["government_reads"]) == want["government_reads"]
    assert "subscribers" not in table[0]

    # Government access: the objects of Acme's that government members pulled, read by read.
    assert scene.pulled.government_objects > 0
    assert f'id="government-objects">{scene.pulled.government_objects}<' in listing.text
    assert 'id="government-organisations">2<' in listing.text
    access_csv = console.get(
        f"/console/members/{scene.acme.member.id}/receipts/government-access.csv"
    )
    assert access_csv.status_code == 200
    from_api = requests.get(
        f"{scene.live.url}/api/v1/receipts/government-access?format=csv",
        auth=scene.acme.basic,
        timeout=30,
    )
    assert access_csv.text == from_api.text
    months = list(csv.DictReader(io.StringIO(access_csv.text)))
    assert sum(int(m["objects"]) for m in months) == scene.pulled.government_objects


def _plain(html: str, *ids: str) -> str:
    """A page without the ids its URL named, nor its CSRF token (signed with the time)."""
    for found in ids:
        html = html.replace(found, "?")
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


def _has(row: Row, cls: str) -> bool:
    return any(cls in classes for classes, _ in row.cells)


def test_a_member_admin_never_sees_another_members_receipts(scene: Scene) -> None:
    submission = scene.submit(_marked("203.0.113.5", "green"))
    scene.ours = set()
    acme, northwind = scene.acme.member.id, scene.northwind.member.id
    other = scene.console(NORTHWIND_ADMIN)
    made_up = str(uuid.uuid4())
    for path in (
        f"/console/members/{acme}/receipts",
        f"/console/members/{acme}/receipts/{submission}",
        f"/console/members/{acme}/receipts/{submission}?format=csv",
        f"/console/members/{acme}/receipts/government-access.csv",
        # Acme's submission under Northwind's own page: as missing as a made-up id.
        f"/console/members/{northwind}/receipts/{submission}",
        f"/console/members/{northwind}/receipts/{submission}?format=csv",
    ):
        response = other.get(path)
        assert response.status_code == 404, path
        assert "Acme" not in response.text
        # Word for word the answer a made-up id gets: nothing tells that it exists.
        missing = other.get(path.replace(submission, made_up).replace(acme, made_up))
        assert missing.status_code == 404
        assert _plain(response.text, submission, acme) == _plain(missing.text, made_up)
    own = other.get(f"/console/members/{northwind}/receipts")
    assert own.status_code == 200
    assert submission not in own.text
    assert 'aria-current="page">Receipts<' in own.text

    # An admin opens Acme's receipts from Acme's page and sees what Acme's own admin sees.
    admin = scene.console(*ADMIN)
    member_page = admin.get(f"/console/members/{acme}")
    assert f'href="/console/members/{acme}/receipts"' in member_page.text
    path = f"/console/members/{acme}/receipts/{submission}"
    staff_rows, _ = _receipt_pages(admin, path)
    own_rows, _ = _receipt_pages(scene.console(ACME_ADMIN), path)
    assert [r.cells for r in staff_rows] == [r.cells for r in own_rows]
    assert len(staff_rows) == 2  # government and members


def test_subscribers_are_named_only_where_the_policy_allows(
    tmp_path: Path, database_url: str
) -> None:
    with _scene(tmp_path, database_url, transparency={"name_subscribers": True}) as scene:
        green = _marked("203.0.113.9", "green")
        scene.ours = {green["id"]}
        submission = scene.submit(green)
        scene.pull(scene.gulf, "members")
        scene.pull(scene.northwind, "members")
        console = scene.console(ACME_ADMIN)
        path = f"/console/members/{scene.acme.member.id}/receipts/{submission}"
        rows, _ = _receipt_pages(console, path)
        by_feed = {r.attrs["data-feed"]: r for r in rows}
        assert by_feed["members"].cell("names") == "Gulf Bank; Northwind Energy"
        assert by_feed["government"].cell("names") == "—"
        table = list(csv.DictReader(io.StringIO(console.get(f"{path}?format=csv").text)))
        names = {r["feed"]: r["subscribers"] for r in table}
        assert names == {"members": "Gulf Bank; Northwind Energy", "government": ""}
