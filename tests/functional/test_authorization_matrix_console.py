"""Every console route, for every kind of console caller: what each cell must answer, from one
table (test_authorization_matrix.py is the same for the member-facing API, and checks that a
console session opens none of it).

The routes come from the app's URL map: a route without a row here, or a row without a route,
fails. The callers are a visitor who has not signed in, an admin, an analyst, a member-admin on
its own organisation's pages, a member-admin on another organisation's, a member-admin whose
organisation was suspended after it signed in, an admin whose account was suspended after it
signed in, and a member's API key (which the console ignores). One live hub on loopback serves
them all, each caller with one session for the whole walk.

What a cell can say:
- ok: the page answered, or the form was taken (and perhaps answered that something in it was
  wrong: the forms are sent empty, or name a key that does not exist, so nothing changes);
- sign-in: sent to the sign-in page;
- 403: the role does not allow it; 404: another organisation's, answered as if missing;
- csrf: refused before anything ran, the form's token not being the session's;
- 401: the sign-in form refusing the (empty) credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.services import Hub, membership, review, users
from hub.services.users import Actor
from hub.storage.sharing import EpochRepository, PolicyRepository
from tests.support.console import ADMIN, PASSWORD, LiveConsole, held_indicator
from tests.support.hubs import Account, LiveServer, add_account, make_hub, make_world
from tests.support.stix import indicator

SIGNED_IN = ("admin", "analyst", "own", "other")
SHUT_OUT = ("anonymous", "member-suspended", "disabled", "api-key")
CALLERS = SIGNED_IN + SHUT_OUT
EMAILS = {
    "admin": ADMIN[0],
    "analyst": "analyst@hub.local",
    "own": "soc@acme.example",  # member-admin of Acme Bank, whose data the URLs name
    "other": "it@northwind.example",  # member-admin of Northwind Energy, on Acme's URLs
    "member-suspended": "it@dormant.example",  # member-admin of Dormant Bank, on its own URLs
    "disabled": "former-admin@hub.local",
}

# Per route: admin, analyst, own, other. The callers who are shut out answer as SHUT_OUT_CELLS
# says for every route not listed in PUBLIC.
ROUTES = {
    "GET /console/": "ok ok ok ok",
    "GET /console/account": "ok ok ok ok",
    "POST /console/account/password": "ok ok ok ok",
    "GET /console/account/totp": "ok ok ok ok",
    "POST /console/account/totp": "ok ok ok ok",
    "POST /console/account/totp/disable": "ok ok ok ok",
    "GET /console/audit": "ok ok 403 403",
    "GET /console/audit/reads": "ok ok 403 403",
    "GET /console/connectors": "ok ok 403 403",
    "GET /console/dashboard": "ok ok 403 403",
    "GET /console/feeds": "ok ok 403 403",
    "POST /console/feeds/apply": "ok 403 403 403",
    "POST /console/feeds/propose": "ok 403 403 403",
    "GET /console/members": "ok ok 403 403",
    "GET /console/members/new": "ok 403 403 403",
    "POST /console/members/new": "ok 403 403 403",
    "GET /console/members/<member_id>": "ok ok ok 404",
    "GET /console/members/<member_id>/edit": "ok 403 403 403",
    "POST /console/members/<member_id>/edit": "ok 403 403 403",
    "POST /console/members/<member_id>/status": "ok 403 403 403",
    "POST /console/members/<member_id>/keys": "ok 403 ok 404",
    "POST /console/members/<member_id>/keys/<key_id>/revoke": "ok 403 ok 404",
    "POST /console/members/<member_id>/keys/<key_id>/rotate": "ok 403 ok 404",
    "GET /console/members/<member_id>/submissions/<submission_id>": "ok ok ok 404",
    "GET /console/members/<member_id>/receipts": "ok ok ok 404",
    "GET /console/members/<member_id>/receipts/<submission_id>": "ok ok ok 404",
    "GET /console/members/<member_id>/receipts/government-access.csv": "ok ok ok 404",
    "GET /console/objects": "ok ok ok ok",
    "GET /console/objects/<path:object_id>": "ok ok ok 404",
    "GET /console/policy/pseudonyms/rotate": "ok 403 403 403",
    "POST /console/policy/pseudonyms/rotate": "ok 403 403 403",
    "GET /console/policy/rules": "ok ok 403 403",
    "POST /console/policy/rules/apply": "ok 403 403 403",
    "POST /console/policy/rules/propose": "ok 403 403 403",
    "GET /console/policy/versions": "ok ok 403 403",
    "GET /console/review": "ok ok 403 403",
    "GET /console/review/<item_id>": "ok ok 403 403",
    "POST /console/review/<item_id>/approve": "ok ok 403 403",
    "POST /console/review/<item_id>/reject": "ok ok 403 403",
    "GET /console/users": "ok 403 403 403",
    "POST /console/users/new": "ok 403 403 403",
    "POST /console/users/<user_id>": "ok 403 403 403",
    "POST /console/users/<user_id>/totp-reset": "ok 403 403 403",
}
# Open to anyone, every caller's cell given: signing in and out, and the console's own files.
PUBLIC = {
    "GET /console/sign-in": "ok ok ok ok ok ok ok ok",
    "POST /console/sign-in": "ok ok ok ok 401 csrf csrf csrf",
    "GET /console/sign-in/code": "sign-in sign-in sign-in sign-in sign-in sign-in sign-in sign-in",
    "POST /console/sign-in/code": "sign-in sign-in sign-in sign-in sign-in csrf csrf csrf",
    "GET /console/sign-in/enrol": "sign-in sign-in sign-in sign-in sign-in sign-in sign-in sign-in",
    "POST /console/sign-in/enrol": "sign-in sign-in sign-in sign-in sign-in csrf csrf csrf",
    "POST /console/sign-out": "sign-in sign-in sign-in sign-in sign-in csrf csrf csrf",
    "GET /console/static/<path:filename>": "ok ok ok ok ok ok ok ok",
}
# Nobody signed in: a page sends it to sign in. A form from a visitor with a token of its own
# gets as far as the sign-in check; the ended sessions' old tokens, and API keys (no session),
# are refused at the token.
SHUT_OUT_CELLS = {
    "GET": {"anonymous": "sign-in", "member-suspended": "sign-in", "disabled": "sign-in"}
    | {"api-key": "sign-in"},
    "POST": {"anonymous": "sign-in", "member-suspended": "csrf", "disabled": "csrf"}
    | {"api-key": "csrf"},
}


def expected(route: str, caller: str) -> str:
    if route in PUBLIC:
        return PUBLIC[route].split()[CALLERS.index(caller)]
    if caller in SHUT_OUT:
        return SHUT_OUT_CELLS[route.split()[0]][caller]
    return ROUTES[route].split()[SIGNED_IN.index(caller)]


@dataclass
class Console:
    hub: Hub
    live: LiveServer
    sessions: dict[str, LiveConsole]  # one per caller but the API key
    values: dict[str, dict[str, str]]  # per caller: a value for each URL argument
    acme: Account
    dormant: Account

    def routes(self) -> set[str]:
        """Every console route of the app, as "METHOD rule"."""
        found = set()
        for rule in self.live.app.url_map.iter_rules():
            if rule.endpoint.startswith("console."):
                for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
                    found.add(f"{method} {rule.rule}")
        return found


def _values(account: Account, submission: dict[str, Any], item_id: str, user_id: str) -> dict:
    return {
        "member_id": account.member.id,
        "key_id": "hk_no-such-key",  # revoking or rotating it changes nothing
        "submission_id": submission["id"],
        "object_id": submission["status"]["successes"][0]["id"],
        "item_id": item_id,  # already decided: deciding it again is refused, nothing changes
        "user_id": user_id,  # a spare user nobody signs in as
        "filename": "console.css",
    }


def _submit(live: LiveServer, account: Account, *objects: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{live.url}/api/v1/submissions",
        json={"objects": list(objects)},
        auth=account.basic,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    directory: Path = tmp_path_factory.mktemp("console-matrix")
    hub = make_hub(
        directory / "var", sharing={"detect_email": "hold"}, limits={"requests_per_minute": 0}
    )
    world = make_world(hub)
    dormant = add_account(hub, "Dormant Bank", "industry", sector="finance")
    add = membership.add_user
    add(hub, EMAILS["analyst"], PASSWORD, "analyst")
    add(hub, EMAILS["own"], PASSWORD, "member-admin", member_id=world.acme.member.id)
    add(hub, EMAILS["other"], PASSWORD, "member-admin", member_id=world.northwind.member.id)
    add(hub, EMAILS["member-suspended"], PASSWORD, "member-admin", member_id=dormant.member.id)
    disabled = add(hub, EMAILS["disabled"], PASSWORD, "admin")
    spare = add(hub, "spare@hub.local", PASSWORD, "analyst")
    live = LiveServer(hub)

    acme_sent = _submit(live, world.acme, indicator("198.51.100.40"), held_indicator())
    dormant_sent = _submit(live, dormant, indicator("198.51.100.41"))
    (item,) = review.list_items(hub)
    review.reject(hub, item.id, ADMIN[0])
    acme_values = _values(world.acme, acme_sent, item.id, spare.id)
    values = dict.fromkeys(CALLERS, acme_values)
    values["member-suspended"] = _values(dormant, dormant_sent, item.id, spare.id)

    sessions = {}
    for caller, email in EMAILS.items():
        sessions[caller] = LiveConsole(live.url)
        password = ADMIN[1] if caller == "admin" else PASSWORD
        assert sessions[caller].sign_in(email, password).status_code == 302, caller
    sessions["anonymous"] = LiveConsole(live.url)
    sessions["anonymous"].get("/console/sign-in")  # a visitor with a session and its token
    # Signed in, then shut out: its organisation suspended; its own account suspended.
    membership.set_member_status(hub, dormant.member.id, "suspended")
    users.update_user(hub, Actor(ADMIN[0]), disabled.id, status="suspended")
    for caller in ("member-suspended", "disabled"):
        sessions[caller].frozen = True  # it keeps sending its signed-in session's token
    yield Console(hub, live, sessions, values, world.acme, dormant)
    live.stop()
    hub.close()


def _url(rule: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        rule = rule.replace(f"<{name}>", value).replace(f"<path:{name}>", value)
    assert "<" not in rule, rule
    return rule


def _outcome(response: requests.Response) -> str:
    status = response.status_code
    if status in (302, 303) and response.headers["Location"].startswith("/console/sign-in"):
        return "sign-in"
    if status == 400 and "The form could not be accepted" in response.text:
        return "csrf"
    if status in (200, 302, 303, 400, 409):
        return "ok"
    return str(status)


def _requests(console: Console, caller: str, method: str, url: str) -> list[requests.Response]:
    """The caller's request (an API key sends two: HTTP Basic, and Bearer)."""
    if caller == "api-key":  # a member's client: its key, and no cookie at all
        key = console.acme
        return [
            requests.request(
                method,
                console.live.url + url,
                allow_redirects=False,
                timeout=30,
                **auth,  # type: ignore[arg-type]
            )
            for auth in (
                {"auth": key.basic},
                {"headers": {"Authorization": f"Bearer {key.secret}"}},
            )
        ]
    session = console.sessions[caller]
    if url == "/console/sign-out" and caller in ("anonymous", *SIGNED_IN):
        # Signing out ends the session: do it in a session of its own.
        session = LiveConsole(console.live.url)
        if caller == "anonymous":
            session.get("/console/sign-in")
        else:
            session.sign_in(EMAILS[caller], ADMIN[1] if caller == "admin" else PASSWORD)
    return [session.get(url) if method == "GET" else session.post(url, {})]


def test_the_table_has_a_row_for_every_console_route(console: Console) -> None:
    routes = console.routes()
    assert len(routes) > 40
    table = set(ROUTES) | set(PUBLIC)
    assert sorted(routes - table) == [], "console routes without a row in the table"
    assert sorted(table - routes) == [], "rows of the table for routes that do not exist"
    assert not set(ROUTES) & set(PUBLIC)
    for cells in ROUTES.values():
        assert len(cells.split()) == len(SIGNED_IN)
    for cells in PUBLIC.values():
        assert len(cells.split()) == len(CALLERS)


def test_every_console_route_answers_every_caller_as_the_table_says(console: Console) -> None:
    wrong = []
    cells = 0
    for route in sorted(console.routes()):
        method, rule = route.split(" ", 1)
        for caller in CALLERS:
            want = expected(route, caller)
            for response in _requests(console, caller, method, _url(rule, console.values[caller])):
                got = _outcome(response)
                if got != want:
                    wrong.append(f"{route} as {caller}: {got} ({response.status_code}), not {want}")
                cells += 1
    assert wrong == []
    assert cells > 400

    # Nothing was done along the way: the forms were empty or named nothing that exists.
    hub = console.hub
    acme = membership.find_member(hub, console.acme.member.id)
    assert (acme.name, acme.status) == ("Acme Bank", "active")
    assert membership.authenticate(hub, console.acme.key_id, console.acme.secret)
    with hub.db.read() as conn:
        assert PolicyRepository(conn).latest_number() == 1
        assert len(EpochRepository(conn).all()) == 1
    assert [item.state for item in review.list_items(hub, state=None)] == ["rejected"]
    assert {u.email for u in users.list_users(hub)} == {*EMAILS.values(), "spare@hub.local"}


def test_shut_out_users_cannot_sign_in_again(console: Console) -> None:
    for caller in ("member-suspended", "disabled"):
        fresh = LiveConsole(console.live.url)
        response = fresh.sign_in(EMAILS[caller])
        assert response.status_code == 401, caller
        assert "not right" in response.text  # the same answer as a wrong password
    from hub.services.accountability import audit_trail

    reasons = {
        e["target"]: e["detail"]
        for e in audit_trail(console.hub, action="console.sign_in_failed")
        if e["target"] in (EMAILS["member-suspended"], EMAILS["disabled"])
    }
    assert '"member-suspended"' in reasons[EMAILS["member-suspended"]]
    assert '"suspended"' in reasons[EMAILS["disabled"]]
