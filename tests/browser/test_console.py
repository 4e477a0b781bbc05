"""The console in a real browser (Chromium through Playwright), against a live hub: what an
admin, an analyst and a member's client do and see."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Locator, Page, expect
from taxii2client.v21 import Server, as_pages

from hub.auth import totp
from hub.services import review, users
from hub.services.users import Actor
from hub.stix.markings import TLP2_MARKING_IDS
from tests.browser.conftest import Live, screenshot
from tests.support.console import ADMIN, PASSWORD, held_indicator
from tests.support.stix import indicator

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def post_objects(live: Live, secret: str, *objects: dict[str, object]) -> dict[str, object]:
    response = requests.post(
        f"{live.url}/api/v1/submissions",
        json={"objects": list(objects)},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    result: dict[str, object] = response.json()
    return result


def downloaded(page: Page, control: Locator) -> str:
    """Click a control that downloads a file: the file's text."""
    with page.expect_download() as download:
        control.click()
    return Path(download.value.path()).read_text(encoding="utf-8")


def feed_ids(live: Live, key_id: str, secret: str, alias: str) -> set[str]:
    server = Server(f"{live.url}/taxii2/", user=key_id, password=secret)
    (feed,) = [c for c in server.default.collections if c.alias == alias]
    return {
        o["id"]
        for page in as_pages(feed.get_objects, per_request=100)
        for o in page.get("objects", [])
    }


def test_sign_in_with_a_password_and_with_a_totp_code(page: Page, live: Live) -> None:
    sign_in(page, ADMIN[0], "a wrong password entirely")
    expect(page.get_by_role("alert")).to_contain_text("not right")
    screenshot(page, "sign-in-refused")
    sign_in(page, *ADMIN)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    secret = totp.new_secret()
    analyst = live.staff.analyst
    users.enrol_totp(
        live.hub, Actor(ADMIN[0]), analyst.id, secret, totp.code_at(secret, time.time() - 30)
    )
    sign_in(page, analyst.email, PASSWORD)
    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    screenshot(page, "sign-in-code")
    page.get_by_label("Code").fill(totp.code_at(secret, time.time()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("analyst")
    # An analyst reads but does not manage: no Users page in the navigation, 403 if typed.
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    assert page.goto("/console/users").status == 403  # type: ignore[union-attr]


def test_setting_up_totp_from_the_account_page(page: Page, live: Live) -> None:
    sign_in(page, live.staff.analyst.email, PASSWORD)
    page.goto("/console/account")
    page.get_by_role("link", name="Set up two-step sign-in").click()
    expect(page.get_by_role("img", name="QR code of the key")).to_be_visible()
    screenshot(page, "totp-enrol")
    shown = page.locator("#totp-secret").inner_text()
    secret = base64.b32decode(shown + "=" * (-len(shown) % 8))
    page.get_by_label("Code from the app").fill(totp.code_at(secret, time.time()))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("status")).to_contain_text("Two-step sign-in is on")
    screenshot(page, "account")
    assert users.get_user(live.hub, live.staff.analyst.id).totp_secret


def test_member_key_taxii_client_and_suspension(page: Page, live: Live) -> None:
    sign_in(page, *ADMIN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_role("link", name="Add a member").click()
    page.get_by_label("Name", exact=True).fill("Ministry of Defence CERT")
    page.get_by_label("government", exact=True).check()
    page.get_by_label("Sector", exact=True).fill("defence")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("heading", name="Ministry of Defence CERT")).to_be_visible()

    page.get_by_label("Label").fill("MISP connector")
    page.get_by_role("button", name="Issue key").click()
    expect(
        page.get_by_role("heading", name="New API key for Ministry of Defence CERT")
    ).to_be_visible()
    key_id = page.locator("#key-id").inner_text()
    secret = page.locator("#key-secret").inner_text()

    page.locator("button.copy[data-copy='#key-secret']").click()
    expect(page.locator("button.copy[data-copy='#key-secret']")).to_have_text("Copied")
    screenshot(page, "key-issued")

    # The key works with a stock TAXII 2.1 client against the same server.
    submitted = indicator("198.51.100.77")
    post_objects(live, live.world.acme.secret, submitted)
    assert submitted["id"] in feed_ids(live, key_id, secret, "government")

    page.get_by_role("link", name="I have copied it").click()
    expect(page.locator("#keys")).to_contain_text(key_id)
    expect(page.locator("#keys")).not_to_contain_text(secret)
    expect(page.get_by_role("table").filter(has_text="What it received")).to_have_count(0)
    expect(page.locator("section", has_text="What it received")).to_contain_text("government")
    screenshot(page, "member")

    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("status")).to_contain_text("is suspended")
    with pytest.raises(requests.HTTPError) as refused:
        feed_ids(live, key_id, secret, "government")
    assert refused.value.response.status_code == 401
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_label("Status").select_option("suspended")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Ministry of Defence CERT")).to_be_visible()
    screenshot(page, "members")


def test_approving_a_held_object_releases_it_to_the_feed(page: Page, live: Live) -> None:
    held = held_indicator("203.0.113.50")
    post_objects(live, live.world.acme.secret, held)
    cert = live.world.cert
    assert held["id"] not in feed_ids(live, cert.key_id, cert.secret, "government")

    sign_in(page, live.staff.analyst.email, PASSWORD)
    page.get_by_role("link", name="Review queue").click()
    page.get_by_role("row", name=str(held["id"])).get_by_role("link").click()
    mark = page.locator("mark")
    expect(mark).to_contain_text("jane.doe@victim.example")
    expect(mark).to_contain_text("[email]")
    screenshot(page, "review-item")
    page.get_by_label("Note (optional)").first.fill("victim address is redacted on release")
    page.get_by_role("button", name="Approve as submitted").click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    screenshot(page, "review-queue")

    assert held["id"] in feed_ids(live, cert.key_id, cert.secret, "government")
    (item,) = review.list_items(live.hub, None)
    assert (item.state, item.decided_by) == ("approved", live.staff.analyst.email)


def test_object_browser_finds_an_indicator_and_where_it_went(page: Page, live: Live) -> None:
    post_objects(live, live.world.acme.secret, indicator("192.0.2.123"), indicator("192.0.2.200"))
    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Objects").click()
    page.get_by_label("Value, name or id").fill("192.0.2.123")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table")
    expect(results).to_contain_text("192.0.2.123")
    expect(results).not_to_contain_text("192.0.2.200")
    screenshot(page, "objects")
    results.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Where it was released, and as what")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("members")
    expect(page.locator("table").first).to_contain_text("a pseudonym")
    screenshot(page, "object")


def test_changing_the_matrix_shows_its_effect_then_makes_a_version(page: Page, live: Live) -> None:
    amber = indicator(
        "198.51.100.99",
        object_marking_refs=["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
    )
    post_objects(live, live.world.acme.secret, amber)
    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Feeds & policy").click()
    screenshot(page, "feeds")
    page.get_by_label("members takes TLP:AMBER", exact=True).uncheck()
    page.get_by_role("button", name="Review the change…").click()
    expect(page.get_by_role("heading", name="Confirm the policy change")).to_be_visible()
    effect = page.get_by_role("row", name="members")
    expect(effect).to_contain_text(str(amber["id"]))
    screenshot(page, "policy-confirm")
    page.get_by_label("Why (kept with the version)").fill("AMBER to government only")
    page.get_by_role("button", name="Make it policy version").click()
    expect(page.get_by_role("heading", name="Policy versions")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("members no longer takes AMBER")
    expect(page.get_by_role("table")).to_contain_text(ADMIN[0])
    screenshot(page, "policy-versions")


def test_changing_the_sharing_rules_shows_their_effect_then_makes_a_version(
    page: Page, live: Live
) -> None:
    held = held_indicator("203.0.113.98")  # held: this hub holds e-mail addresses
    post_objects(live, live.world.acme.secret, held)
    sign_in(page, *ADMIN)
    page.get_by_role("link", name="Feeds & policy").click()
    page.get_by_role("link", name="Sharing rules").first.click()
    expect(page.get_by_role("heading", name="Sharing rules")).to_be_visible()
    # A wrong value is refused with what is wrong, and what was typed stays to be corrected.
    page.get_by_label("Host names under these domains are internal (one a line)").fill(
        "corp\nnot a_domain"
    )
    page.get_by_role("button", name="Review the change…").click()
    expect(page.get_by_role("alert")).to_contain_text("'a_domain' is not a domain name")
    screenshot(page, "policy-rules-refused")
    page.get_by_label("Host names under these domains are internal (one a line)").fill(
        "corp\nacme.internal"
    )
    page.get_by_label("What the email detector does").select_option("redact")
    page.get_by_text("types listed").click()  # open the per-type lists
    expect(page.get_by_label("indicator", exact=True)).to_be_visible()
    screenshot(page, "policy-rules")
    page.get_by_role("button", name="Review the change…").click()
    expect(page.get_by_role("heading", name="Confirm the policy change")).to_be_visible()
    expect(page.locator("#policy-changes")).to_contain_text("detector email: hold → redact")
    expect(page.get_by_role("row", name="members")).to_contain_text(str(held["id"]))
    expect(page.get_by_role("row", name="held for review")).to_contain_text("1")
    screenshot(page, "policy-rules-confirm")
    page.get_by_label("Why (kept with the version)").fill("redact addresses rather than hold")
    page.get_by_role("button", name="Make it policy version").click()
    expect(page.get_by_role("heading", name="Policy versions")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("detector email: hold → redact")
    expect(page.get_by_role("table")).to_contain_text("internal domains: added acme.internal")
    # An analyst reads the rules, and cannot change them.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live.staff.analyst.email, PASSWORD)
    page.goto("/console/policy/rules")
    expect(page.get_by_label("What the email detector does")).to_be_disabled()
    expect(page.get_by_role("button", name="Review the change…")).to_have_count(0)


def test_audit_trail_filters_and_exports(page: Page, live: Live) -> None:
    sign_in(page, live.staff.analyst.email, PASSWORD)
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Action").fill("console.*")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("table")).to_contain_text("console.sign_in")
    screenshot(page, "audit")
    text = downloaded(page, page.get_by_role("button", name="Export CSV"))
    assert text.startswith("time,actor,actor_kind,member_id,action,target,detail")
    assert "console.sign_in" in text
    page.get_by_role("link", name="Feed reads (government access)").click()
    screenshot(page, "audit-reads")
    page.goto("/console/users")
    assert users.list_users(live.hub)


def test_member_admin_reads_its_receipts_and_exports_them(page: Page, live: Live) -> None:
    green = indicator("192.0.2.44", object_marking_refs=[TLP2_MARKING_IDS["green"]])
    red = indicator("192.0.2.45", object_marking_refs=[TLP2_MARKING_IDS["red"]])
    post_objects(live, live.world.acme.secret, green, red)
    cert = live.world.cert
    assert green["id"] in feed_ids(live, cert.key_id, cert.secret, "government")

    sign_in(page, live.staff.acme_admin.email, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Receipts").click()
    expect(page.get_by_role("heading", name="Receipts of Acme Bank")).to_be_visible()
    expect(page.locator("#government-objects")).to_have_text("1")
    expect(page.locator("#government-organisations")).to_have_text("1")
    screenshot(page, "receipts")

    page.locator("#submissions tbody a").first.click()
    expect(page.get_by_role("heading", name="Receipts of the submission of")).to_be_visible()
    pulled = page.locator(f'tr[data-object="{green["id"]}"][data-feed="government"]')
    expect(pulled.locator("td.organisations")).to_have_text("1")
    expect(pulled.locator("td.by-kind")).to_have_text("government 1")
    expect(pulled.locator("td.appears-as")).to_contain_text("a pseudonym identity--")
    not_yet = page.locator(f'tr[data-object="{green["id"]}"][data-feed="members"]')
    expect(not_yet.locator("td.organisations")).to_have_text("0")
    expect(page.locator(f'tr[data-object="{red["id"]}"] td.state')).to_contain_text(
        "withheld TLP:RED is never released"
    )
    expect(page.locator("body")).not_to_contain_text("National CERT")
    screenshot(page, "receipt")
    text = downloaded(page, page.get_by_role("link", name="Export CSV"))
    assert text.startswith("object_id,object_version,state,reason,feed")
    assert f"{green['id']}," in text
