"""Every console route checks the role, and refuses a form without its CSRF token; a
member-admin never sees another member's data."""

from __future__ import annotations

from typing import Any

import pytest

from hub.auth.roles import allows
from hub.services import review
from tests.functional.console.conftest import Site
from tests.support.console import ADMIN, PASSWORD, Console, held_indicator, submit
from tests.support.stix import indicator

ROLES = {
    "admin": ADMIN,
    "analyst": ("analyst@hub.local", PASSWORD),
    "member-admin": ("it@northwind.example", PASSWORD),
}


def _routes(site: Site) -> list[tuple[str, str, tuple[str, ...], set[str]]]:
    """(endpoint, rule, permissions, methods) of every console view."""
    found = []
    for rule in site.app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint == "console.static":
            continue
        view = site.app.view_functions[rule.endpoint]
        found.append(
            (
                rule.endpoint,
                rule.rule,
                view.console_permissions,
                set(rule.methods or ()) - {"HEAD", "OPTIONS"},
            )
        )
    return found


def _values(site: Site) -> dict[str, str]:
    """A value for every URL argument, all of them Acme Bank's (not Northwind's)."""
    acme = site.world.acme
    result = submit(site.app, acme.secret, held_indicator(), indicator("198.51.100.20"))
    (item,) = review.list_items(site.hub)
    return {
        "member_id": acme.member.id,
        "key_id": acme.key_id,
        "submission_id": result["id"],
        "item_id": item.id,
        "object_id": item.object_id,
        "user_id": site.staff.analyst.id,
    }


def _url(rule: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        rule = rule.replace(f"<{name}>", value).replace(f"<path:{name}>", value)
    assert "<" not in rule, rule
    return rule


def test_every_console_view_declares_who_may_use_it(site: Site) -> None:
    routes = _routes(site)
    assert len(routes) > 30
    public = sorted(endpoint for endpoint, _, permissions, _ in routes if not permissions)
    assert public == [
        "console.sign_in",
        "console.sign_in_code",
        "console.sign_in_enrol",
        "console.sign_out",
    ]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_gets_exactly_the_pages_it_may_see(site: Site, role: str) -> None:
    values = _values(site)
    console = site.console()
    assert console.sign_in(*ROLES[role]).status_code == 302
    checked = 0
    for _endpoint, rule, permissions, methods in _routes(site):
        if not permissions:
            continue
        url = _url(rule, values)
        allowed = any(allows(role, p) for p in permissions)
        for method in sorted(methods):
            if method == "GET":
                status = console.get(url).status_code
            else:
                if allowed:
                    continue  # doing it is tested on its own; here only refusals
                status = console.post(url, {}).status_code
            if not allowed:
                assert status == 403, (role, method, url)
            elif role == "member-admin" and ("member_id>" in rule or "object_id>" in rule):
                assert status == 404, (role, method, url)  # Acme's data: as if missing
            else:
                assert status in (200, 302), (role, method, url, status)
            checked += 1
    assert checked >= 19


def test_every_form_is_refused_without_its_csrf_token(site: Site) -> None:
    values = _values(site)
    console = site.console()
    console.sign_in(ADMIN[0], ADMIN[1])
    posts = [(rule, m) for _, rule, _, methods in _routes(site) for m in methods if m == "POST"]
    assert len(posts) > 15
    for rule, _ in posts:
        response = console.post(_url(rule, values), {}, csrf=False)
        assert response.status_code == 400, rule
    # Nothing was done: the admin is still signed in, Acme still active, the item pending.
    assert console.get("/console/members").status_code == 200
    assert review.get_item(site.hub, values["item_id"]).state == "pending"


def test_signed_out_visitors_are_sent_to_sign_in(site: Site) -> None:
    values = _values(site)
    visitor = Console(site.app)
    for _, rule, permissions, methods in _routes(site):
        if permissions and "GET" in methods:
            response = visitor.get(_url(rule, values))
            assert response.status_code == 302, rule
            assert response.location.startswith("/console/sign-in"), rule


def test_member_admin_sees_and_manages_only_its_own_organisation(site: Site) -> None:
    acme, northwind = site.world.acme, site.world.northwind
    theirs = submit(site.app, acme.secret, indicator("198.51.100.30"))
    ours = submit(site.app, northwind.secret, indicator("198.51.100.31"))
    console = site.console()
    console.sign_in("it@northwind.example")
    assert console.get("/console/").location == f"/console/members/{northwind.member.id}"
    own = console.get(f"/console/members/{northwind.member.id}").get_data(as_text=True)
    assert northwind.key_id in own
    assert acme.key_id not in own
    assert console.get(f"/console/members/{acme.member.id}").status_code == 404
    assert (
        console.get(f"/console/members/{acme.member.id}/submissions/{theirs['id']}").status_code
        == 404
    )
    assert (
        console.get(
            f"/console/members/{northwind.member.id}/submissions/{theirs['id']}"
        ).status_code
        == 404
    )
    assert (
        console.get(f"/console/members/{northwind.member.id}/submissions/{ours['id']}").status_code
        == 200
    )
    # Keys: its own, yes; Acme's, no (404, and the key still works).
    issued = console.post(
        f"/console/members/{northwind.member.id}/keys", {"scope_read": "1", "label": "siem"}
    )
    assert issued.status_code == 200
    assert "hks_" in issued.get_data(as_text=True)
    assert (
        console.post(f"/console/members/{acme.member.id}/keys/{acme.key_id}/revoke").status_code
        == 404
    )
    assert (
        console.post(
            f"/console/members/{northwind.member.id}/keys/{acme.key_id}/revoke"
        ).status_code
        == 302
    )
    from hub.services import membership

    assert membership.authenticate(site.hub, acme.key_id, acme.secret).member_id == acme.member.id
    # The object browser shows its own submissions, never Acme's or the feeds.
    page = console.get("/console/objects?q=198.51.100.3").get_data(as_text=True)
    assert "198.51.100.31" in page
    assert "198.51.100.30" not in page
    acme_object = theirs["status"]["successes"][0]["id"]
    assert console.get(f"/console/objects/{acme_object}").status_code == 404
    for page_path in ("/console/members", "/console/audit", "/console/review", "/console/feeds"):
        assert console.get(page_path).status_code == 403
