"""What admins and analysts do in the console: members, keys, the review queue, the policy,
the audit trail, the dashboard and the object browser, each act in the audit trail."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from hub.services import membership, review
from hub.services.sharing import current_policy
from tests.functional.console.conftest import Site
from tests.support.console import (
    ADMIN,
    PASSWORD,
    Console,
    audit_actions,
    held_indicator,
    submit,
    version_made,
)
from tests.support.hubs import make_hub
from tests.support.stix import indicator

AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"


def shown(element_id: str, page: str) -> str:
    """The text of the element with this id (a key id or secret shown once)."""
    found = re.search(rf'id="{element_id}"[^>]*>([^<]+)<', page)
    assert found is not None, element_id
    return found.group(1)


def admin(site: Site) -> Console:
    console = site.console()
    assert console.sign_in(*ADMIN).status_code == 302
    return console


def analyst(site: Site) -> Console:
    console = site.console()
    assert console.sign_in("analyst@hub.local", PASSWORD).status_code == 302
    return console


def test_members_search_and_filters(site: Site) -> None:
    console = admin(site)
    page = console.get("/console/members?q=north").get_data(as_text=True)
    assert "Northwind Energy" in page
    assert "Acme Bank" not in page
    page = console.get("/console/members?kind=government").get_data(as_text=True)
    assert "National CERT" in page
    assert "Acme Bank" not in page
    page = console.get("/console/members?sector=finance").get_data(as_text=True)
    assert "Acme Bank" in page
    assert "Northwind" not in page


def test_add_edit_suspend_and_reinstate_a_member(site: Site) -> None:
    console = admin(site)
    response = console.post(
        "/console/members/new",
        {
            "name": "Contoso Water",
            "kind": "industry",
            "sector": "water",
            "consent": "government",
            "contact": "soc@contoso.example",
            "aliases": "contoso.example, Contoso",
        },
    )
    assert response.status_code == 302
    member = membership.find_member(site.hub, "Contoso Water")
    assert (member.sector, member.consent, member.aliases) == (
        "water",
        "government",
        ("contoso.example", "Contoso"),
    )
    duplicate = console.post(
        "/console/members/new", {"name": "Contoso Water", "kind": "industry", "consent": "none"}
    )
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.get_data(as_text=True)

    edited = console.post(
        f"/console/members/{member.id}/edit",
        {
            "name": "Contoso Water Ltd",
            "kind": "industry",
            "sector": "water",
            "consent": "none",
            "contact": "cert@contoso.example",
            "aliases": "contoso.example",
        },
    )
    assert edited.status_code == 302
    member = membership.find_member(site.hub, member.id)
    assert (member.name, member.consent, member.contact) == (
        "Contoso Water Ltd",
        "none",
        "cert@contoso.example",
    )
    (event,) = audit_actions(site.hub, "member.update")
    assert event["actor"] == ADMIN[0]
    assert "cert@contoso.example" not in event["detail"]  # contacts are not copied

    issued = console.post(
        f"/console/members/{member.id}/keys", {"scope_read": "1", "scope_write": "1"}
    )
    secret = re.search(r'id="key-secret" class="secret">([^<]+)<', issued.get_data(as_text=True))
    assert secret is not None
    assert membership.authenticate(site.hub, None, secret.group(1)).member_id == member.id
    console.post(f"/console/members/{member.id}/status", {"status": "suspended"})
    with pytest.raises(Exception, match="not valid"):
        membership.authenticate(site.hub, None, secret.group(1))
    console.post(f"/console/members/{member.id}/status", {"status": "active"})
    assert membership.authenticate(site.hub, None, secret.group(1)).member_id == member.id
    actions = [e["action"] for e in audit_actions(site.hub) if e["actor"] == ADMIN[0]]
    assert actions[-5:] == [
        "member.add",
        "member.update",
        "key.issue",
        "member.suspend",
        "member.reinstate",
    ]


def test_keys_issue_with_expiry_rotate_and_revoke(site: Site) -> None:
    console = admin(site)
    acme = site.world.acme
    page = console.post(
        f"/console/members/{acme.member.id}/keys",
        {"scope_read": "1", "label": "siem", "expires_days": "30"},
    ).get_data(as_text=True)
    key_id = shown("key-id", page)
    (key,) = [k for k in membership.list_keys(site.hub, acme.member.id) if k.id == key_id]
    assert key.scope == "read"
    assert key.expires_us is not None
    assert abs(key.expires_us - key.created_us - 30 * 86_400_000_000) < 60_000_000
    # The member page lists it, never its secret.
    member_page = console.get(f"/console/members/{acme.member.id}").get_data(as_text=True)
    assert key_id in member_page
    assert "hks_" not in member_page

    # Rotation with a grace period: the old key works a day longer, the new one at once.
    rotated = console.post(
        f"/console/members/{acme.member.id}/keys/{acme.key_id}/rotate", {"grace_hours": "24"}
    ).get_data(as_text=True)
    new_secret = shown("key-secret", rotated)
    assert membership.authenticate(site.hub, None, new_secret).member_id == acme.member.id
    old = next(k for k in membership.list_keys(site.hub, acme.member.id) if k.id == acme.key_id)
    assert old.revoked_us is None
    assert old.expires_us is not None
    assert membership.authenticate(site.hub, acme.key_id, acme.secret)

    console.post(f"/console/members/{acme.member.id}/keys/{acme.key_id}/revoke")
    with pytest.raises(Exception, match="not valid"):
        membership.authenticate(site.hub, acme.key_id, acme.secret)
    # Rotating without grace revokes the old key at once.
    new_id = shown("key-id", rotated)
    console.post(f"/console/members/{acme.member.id}/keys/{new_id}/rotate", {"grace_hours": "0"})
    with pytest.raises(Exception, match="not valid"):
        membership.authenticate(site.hub, None, new_secret)
    assert [e["action"] for e in audit_actions(site.hub, "key.*")] == [
        "key.issue",
        "key.rotate",
        "key.revoke",
        "key.rotate",
    ]


def test_member_page_shows_submissions_with_status_and_what_it_read(site: Site) -> None:
    acme = site.world.acme
    result = submit(site.app, acme.secret, indicator("198.51.100.40"))
    site.app.test_client().get(
        f"/taxii2/hub/collections/{site.world.collection_ids['members']}/objects/",
        headers={
            "Authorization": f"Bearer {acme.secret}",
            "Accept": "application/taxii+json;version=2.1",
        },
    )
    console = admin(site)
    page = console.get(f"/console/members/{acme.member.id}").get_data(as_text=True)
    assert f"/submissions/{result['id']}" in page
    assert "members" in page.split("What it received")[1]
    detail = console.get(f"/console/members/{acme.member.id}/submissions/{result['id']}")
    assert "released to" in detail.get_data(as_text=True)


def test_review_approve_edit_and_reject_record_the_reviewer(site: Site) -> None:
    acme = site.world.acme
    first, second, third = (held_indicator(f"203.0.113.{n}") for n in (1, 2, 3))
    submit(site.app, acme.secret, first, second, third)
    items = {i.object_id: i for i in review.list_items(site.hub)}
    console = analyst(site)
    page = console.get(f"/console/review/{items[first['id']].id}").get_data(as_text=True)
    assert '<mark title="found by email">jane.doe@victim.example' in page

    assert console.post(f"/console/review/{items[first['id']].id}/approve").status_code == 302
    edited = dict(second, description="Seen near 203.0.113.2")
    response = console.post(
        f"/console/review/{items[second['id']].id}/approve",
        {"edited": orjson.dumps(edited).decode(), "note": "dropped the address"},
    )
    assert response.status_code == 302
    bad = dict(third, id="indicator--00000000-0000-4000-8000-000000000000")
    refused = console.post(
        f"/console/review/{items[third['id']].id}/approve", {"edited": orjson.dumps(bad).decode()}
    )
    assert refused.status_code == 422
    assert "id and modified must stay" in refused.get_data(as_text=True)
    assert (
        console.post(
            f"/console/review/{items[third['id']].id}/approve", {"edited": "{not json"}
        ).status_code
        == 400
    )
    assert console.post(f"/console/review/{items[third['id']].id}/reject").status_code == 302

    decided = {i.object_id: i for i in review.list_items(site.hub, None)}
    assert [decided[o["id"]].state for o in (first, second, third)] == [
        "approved",
        "approved",
        "rejected",
    ]
    assert {i.decided_by for i in decided.values()} == {"analyst@hub.local"}
    assert decided[second["id"]].note == "dropped the address"
    events = audit_actions(site.hub, "review.*")
    assert [e["action"] for e in events] == ["review.approve", "review.approve", "review.reject"]
    assert {e["actor"] for e in events} == {"analyst@hub.local"}
    assert {e["actor_kind"] for e in events} == {"user"}
    # A decided item cannot be decided again.
    assert console.post(f"/console/review/{items[first['id']].id}/reject").status_code == 409


def test_policy_change_shows_its_effect_then_becomes_a_console_version(site: Site) -> None:
    acme = site.world.acme
    submit(
        site.app,
        acme.secret,
        indicator("198.51.100.61", object_marking_refs=[AMBER]),
        indicator("198.51.100.62", object_marking_refs=[AMBER]),
        indicator("198.51.100.63"),  # no marking: the default TLP, AMBER, too
    )
    version, _ = current_policy(site.hub)
    console = admin(site)
    form = {
        "base_version": str(version),
        "tlp-government": ["clear", "green", "amber"],
        "tlp-members": ["clear", "green"],
        "tlp-public": ["clear"],
        "identity-government": "consent",
        "identity-members": "never",
        "identity-public": "consent",
    }
    page = console.post("/console/feeds/propose", form).get_data(as_text=True)
    assert "<li>members no longer takes AMBER</li>" in page
    assert "<li>members: submitter named consent → never</li>" in page
    # Industry members read public, where a consenting submitter is named, and members, where
    # it now is not: an object in both would give its pseudonym away. The page says so.
    warnings = page.split('id="policy-warnings">')[1].split("</div>")[0]
    assert "industry members read both &#39;public&#39;" in warnings
    row = page.split("<tr><td><code>members</code></td>")[1].split("</tr>")[0]
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["0", "3", "0"]
    assert current_policy(site.hub)[0] == version  # nothing stored yet

    response = console.post("/console/feeds/apply", {**form, "note": "AMBER to government only"})
    assert response.status_code == 302
    number, policy = current_policy(site.hub)
    assert number == version + 1
    members_feed = policy.feed("members")
    assert members_feed is not None
    assert members_feed.tlp == frozenset({"clear", "green"})
    assert members_feed.identity == "never"
    assert version_made(site.hub, number) == ("console", ADMIN[0], "AMBER to government only")
    (event,) = audit_actions(site.hub, "policy.change")
    assert event["actor"] == ADMIN[0]
    history = console.get("/console/policy/versions").get_data(as_text=True)
    assert "members no longer takes AMBER" in history

    # A form made for the old version is refused, and so is a forged TLP:RED.
    stale = console.post("/console/feeds/apply", {**form, "note": "again"})
    assert stale.status_code == 400
    assert "changed" in stale.get_data(as_text=True)
    forged = console.post(
        "/console/feeds/propose",
        {**form, "base_version": str(number), "tlp-public": ["clear", "red"]},
    )
    assert forged.status_code == 400
    assert "TLP:RED is never released" in forged.get_data(as_text=True)
    assert current_policy(site.hub)[0] == number


def test_rotating_the_pseudonym_key_from_the_console(site: Site) -> None:
    from hub.services.policy_admin import epochs

    submit(site.app, site.world.acme.secret, indicator("198.51.100.70"))
    before = epochs(site.hub)[0].epoch
    console = admin(site)
    assert console.post("/console/policy/pseudonyms/rotate", {"confirm": "no"}).status_code == 302
    assert epochs(site.hub)[0].epoch == before
    console.post("/console/policy/pseudonyms/rotate", {"confirm": "rotate"})
    assert epochs(site.hub)[0].epoch == before + 1
    (event,) = audit_actions(site.hub, "keys.rotate-pseudonyms")
    assert (event["actor"], event["actor_kind"]) == (ADMIN[0], "user")


def test_audit_trail_filters_and_csv_export_with_feed_reads(site: Site) -> None:
    cert = site.world.cert
    site.app.test_client().get(
        f"/taxii2/hub/collections/{site.world.collection_ids['government']}/objects/",
        headers={
            "Authorization": f"Bearer {cert.secret}",
            "Accept": "application/taxii+json;version=2.1",
        },
    )
    site.console().sign_in(ADMIN[0], "a wrong password here")
    console = analyst(site)
    page = console.get("/console/audit?action=console.sign_in_failed").get_data(as_text=True)
    assert "console.sign_in_failed" in page
    assert "console.sign_in</code>" not in page
    exported = console.get("/console/audit?action=console.*&format=csv")
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    lines = exported.get_data(as_text=True).splitlines()
    assert lines[0] == "time,actor,actor_kind,member_id,action,target,detail"
    assert any(",console.sign_in_failed," in line for line in lines)
    reads = console.get("/console/audit/reads?kind=government&format=csv").get_data(as_text=True)
    (header, row) = reads.splitlines()
    assert header.startswith("time,member_id,member,kind")
    assert "National CERT,government" in row
    assert "government" in console.get("/console/audit/reads?kind=government").get_data(
        as_text=True
    )
    exports = audit_actions(site.hub, "audit.export")
    assert [e["target"] for e in exports] == ["audit", "feed-reads"]


def test_dashboard_counts_and_charts(site: Site) -> None:
    acme, northwind = site.world.acme, site.world.northwind
    submit(site.app, acme.secret, indicator("198.51.100.81"), held_indicator("203.0.113.81"))
    submit(site.app, northwind.secret, indicator("198.51.100.82"))
    page = analyst(site).get("/console/dashboard").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 5
    assert "<title>finance: 1</title>" in page
    assert "<title>energy: 1</title>" in page
    assert "<title>TLP:AMBER: 4</title>" in page  # two objects, each to members and government
    assert '<div class="value"><a href="/console/review">1</a></div>' in page
    assert 'Pipeline health: <span class="health ok">ok</span>' in page


def test_dashboard_lists_the_workers_and_what_each_works_on(site: Site) -> None:
    from hub.services.heartbeat import Heartbeat

    busy, idle = Heartbeat(site.hub, "worker"), Heartbeat(site.hub, "worker")
    busy.working_on("8a4e5c5e-0d6f-4f7e-9a54-2f0f3c1d7b10")
    busy.processed_objects(700)
    busy.beat()
    idle.beat(stopped=True)
    page = analyst(site).get("/console/dashboard").get_data(as_text=True)
    table = page.split('<table aria-labelledby="workers-title" id="workers">')[1].split("</table>")[
        0
    ]
    assert table.count("<tr>") == 3  # the header and two workers
    assert "<code>8a4e5c5e-0d6f-4f7e-9a54-2f0f3c1d7b10</code>" in table
    assert '<td class="num">700</td>' in table
    assert '<span class="badge alive">alive</span>' in table
    assert '<span class="badge stopped">stopped</span>' in table


def test_object_browser_search_and_detail(site: Site) -> None:
    acme = site.world.acme
    wanted = indicator("192.0.2.55")
    submit(site.app, acme.secret, wanted, indicator("192.0.2.66"))
    console = analyst(site)
    page = console.get("/console/objects?q=192.0.2.55").get_data(as_text=True)
    link = f'href="/console/objects/{wanted["id"]}"'
    assert page.count(link) == 3  # inbox, government and members feeds
    assert "192.0.2.66" not in page
    only_feed = console.get("/console/objects?q=192.0.2.55&collection=members").get_data(
        as_text=True
    )
    assert only_feed.count(link) == 1
    assert wanted["id"] not in console.get("/console/objects?q=192.0.2.55&tlp=clear").get_data(
        as_text=True
    )
    assert wanted["id"] in console.get("/console/objects?q=192.0.2.55&tlp=amber").get_data(
        as_text=True
    )
    assert wanted["id"] not in console.get(
        "/console/objects?q=192.0.2.55&since=2099-01-01"
    ).get_data(as_text=True)
    detail = console.get(f"/console/objects/{wanted['id']}").get_data(as_text=True)
    assert "a pseudonym" in detail
    assert detail.count("TLP:AMBER") == 2
    assert "Acme Bank" in detail
    (viewed,) = audit_actions(site.hub, "object.view")
    assert (viewed["actor"], viewed["target"]) == ("analyst@hub.local", wanted["id"])


def test_admin_adds_a_member_admin_who_can_then_sign_in(site: Site) -> None:
    console = admin(site)
    response = console.post(
        "/console/users/new",
        {
            "email": "ops@acme.example",
            "role": "member-admin",
            "member_id": site.world.acme.member.id,
        },
    )
    password = re.search(
        r'id="new-password" class="secret">([^<]+)<', response.get_data(as_text=True)
    )
    assert password is not None
    other = site.console()
    assert other.sign_in("ops@acme.example", password.group(1)).status_code == 302
    assert other.get("/console/").location == f"/console/members/{site.world.acme.member.id}"
    missing = console.post("/console/users/new", {"email": "x@y.example", "role": "member-admin"})
    assert missing.status_code == 302
    assert membership.find_user(site.hub, "x@y.example") is None
    # The last admin cannot be demoted.
    me = membership.find_user(site.hub, ADMIN[0])
    assert me is not None
    console.post(f"/console/users/{me.id}", {"role": "analyst"})
    found = membership.find_user(site.hub, ADMIN[0])
    assert found is not None and found.role == "admin"
    assert [e["action"] for e in audit_actions(site.hub, "user.*")] == ["user.add"]


def test_audit_trail_pages_newest_first(tmp_path: Path) -> None:
    from hub.app import create_app
    from hub.services.accountability import audit

    hub = make_hub(tmp_path / "var", console={"page_size": 2})
    for number in range(5):
        audit(hub, f"test.event{number}", actor="cli:ops", actor_kind="cli")
    console = Console(create_app(hub.settings, hub, start_worker=False))
    console.sign_in(*ADMIN)
    seen = []
    for page in (1, 2, 3):
        text = console.get(f"/console/audit?action=test.*&page={page}").get_data(as_text=True)
        seen.append(re.findall(r"<code>(test\.event\d)</code>", text))
        assert ('rel="next"' in text) == (page < 3)
    assert seen == [["test.event4", "test.event3"], ["test.event2", "test.event1"], ["test.event0"]]
    hub.close()
