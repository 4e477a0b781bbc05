"""Every HTTP route of the member-facing API, for every kind of caller: the status each cell must
answer, from one table. A collection a caller may neither read nor write is a 404 to it; one
it may see but not use that way is a 403; bad or withdrawn credentials are a 401, and so is a
console session, which opens nothing here. Every route of the app outside the console must be
reached by a row (the console's own table is test_authorization_matrix_console.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from hub.services import Hub, membership
from tests.support.console import ADMIN, LiveConsole
from tests.support.hubs import Account, LiveServer, add_account, make_hub, make_world
from tests.support.stix import TAXII, envelope, indicator

CALLERS = (
    "anonymous",
    "wrong-secret",
    "revoked",
    "expired",
    "suspended",
    "industry",  # Acme Bank: industry, finance, read+write
    "industry-read-only",  # Acme Bank's read-only key
    "industry-other-sector",  # Northwind Energy: industry, energy
    "government",  # National CERT
    "console-session",  # an admin signed in to the console: its session cookie, no key
)
COLLECTIONS = ("inbox", "members", "government", "public", "finance-tg")


@dataclass
class Matrix:
    hub: Hub
    live: LiveServer
    auth: dict[str, tuple[str, str] | None]
    ids: dict[str, str]
    object_id: str  # in finance-tg, submitted by Acme
    status_id: str  # Acme's
    submission_id: str  # Acme's
    console_cookie: str  # an admin's console session


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    hub = make_hub(tmp_path_factory.mktemp("matrix") / "var", limits={"requests_per_minute": 0})
    world = make_world(hub)
    read_only = membership.issue_key(hub, world.acme.member.id, "read")
    revoked = membership.issue_key(hub, world.acme.member.id, "read,write")
    membership.revoke_key(hub, revoked.key.id)
    expired = membership.issue_key(hub, world.acme.member.id, "read,write", expires_us=1)
    suspended: Account = add_account(hub, "Dormant Bank", "industry", sector="finance")
    membership.set_member_status(hub, suspended.member.id, "suspended")
    live = LiveServer(hub)
    obj = indicator("198.51.100.200")
    posted = requests.post(
        live.collection_url(world.trust_group_id) + "objects/",
        json=envelope(obj),
        headers={"Accept": TAXII, "Content-Type": TAXII},
        auth=world.acme.basic,
        timeout=30,
    )
    submitted = requests.post(
        f"{live.url}/api/v1/submissions",
        json={"objects": [indicator("198.51.100.201")]},
        auth=world.acme.basic,
        timeout=30,
    )
    console = LiveConsole(live.url)
    assert console.sign_in(*ADMIN).status_code == 302
    cookie = console.http.cookies.get("hub_console", path="/console")
    assert cookie
    auth: dict[str, tuple[str, str] | None] = {
        "anonymous": None,
        "wrong-secret": (world.acme.key_id, "hks_not-the-secret"),
        "revoked": (revoked.key.id, revoked.secret),
        "expired": (expired.key.id, expired.secret),
        "suspended": suspended.basic,
        "industry": world.acme.basic,
        "industry-read-only": (read_only.key.id, read_only.secret),
        "industry-other-sector": world.northwind.basic,
        "government": world.cert.basic,
        "console-session": None,
    }
    yield Matrix(
        hub,
        live,
        auth,
        world.collection_ids,
        obj["id"],
        posted.json()["id"],
        submitted.json()["id"],
        cookie,
    )
    live.stop()
    hub.close()


# Who may read / write each collection (from the default configuration and the trust group).
READERS = {
    "inbox": set(),
    "members": {"industry", "industry-read-only", "industry-other-sector"},
    "government": {"government"},
    "public": {"industry", "industry-read-only", "industry-other-sector", "government"},
    "finance-tg": {"industry", "industry-read-only", "government"},
}
WRITERS = {
    "inbox": {"industry", "industry-other-sector"},
    "members": set(),
    "government": set(),
    "public": set(),
    "finance-tg": {"industry"},
}
VALID = {"industry", "industry-read-only", "industry-other-sector", "government"}


def _collection_status(caller: str, alias: str, need: str) -> int:
    if caller not in VALID:
        return 401
    readable, writable = caller in READERS[alias], caller in WRITERS[alias]
    if not (readable or writable):
        return 404
    if need == "read":
        return 200 if readable else 403
    return 202 if writable else 403


Route = tuple[str, str, Callable[[Matrix], str], Callable[[str], int]]


def _routes() -> list[Route]:
    routes: list[Route] = [
        ("GET", "discovery", lambda m: "/taxii2/", lambda c: 200 if c in VALID else 401),
        ("GET", "api root", lambda m: "/taxii2/hub/", lambda c: 200 if c in VALID else 401),
        (
            "GET",
            "collections",
            lambda m: "/taxii2/hub/collections/",
            lambda c: 200 if c in VALID else 401,
        ),
        (
            "GET",
            "status (Acme's)",
            lambda m: f"/taxii2/hub/status/{m.status_id}/",
            lambda c: (
                401
                if c not in VALID
                else 200
                if c.startswith("industry") and c != "industry-other-sector"
                else 404
            ),
        ),
        (
            "GET",
            "submission (Acme's)",
            lambda m: f"/api/v1/submissions/{m.submission_id}",
            lambda c: (
                401 if c not in VALID else 200 if c in ("industry", "industry-read-only") else 404
            ),
        ),
        (
            "GET",
            "receipts (Acme's)",
            lambda m: f"/api/v1/submissions/{m.submission_id}/receipts",
            lambda c: (
                401 if c not in VALID else 200 if c in ("industry", "industry-read-only") else 404
            ),
        ),
        (
            "GET",
            "government access",
            lambda m: "/api/v1/receipts/government-access",
            lambda c: 200 if c in VALID else 401,
        ),
        (
            "POST",
            "REST submission to the inbox",
            lambda m: "/api/v1/submissions",
            lambda c: _collection_status(c, "inbox", "write"),
        ),
        ("GET", "health", lambda m: "/healthz", lambda c: 200),
        ("GET", "readiness", lambda m: "/readyz", lambda c: 200),
        ("GET", "metrics (loopback)", lambda m: "/metrics", lambda c: 200),
        ("GET", "transparency report", lambda m: "/transparency.json", lambda c: 200),
        ("GET", "transparency page", lambda m: "/transparency", lambda c: 200),
        ("GET", "root: to the console", lambda m: "/", lambda c: 302),
        ("GET", "OpenAPI description", lambda m: "/api/openapi.json", lambda c: 200),
    ]
    for alias in COLLECTIONS:

        def url(m: Matrix, alias: str = alias, tail: str = "") -> str:
            return f"/taxii2/hub/collections/{m.ids[alias]}/{tail}"

        routes += [
            ("GET", f"{alias}: collection", url, lambda c, a=alias: _seen(c, a)),
            (
                "GET",
                f"{alias}: objects",
                lambda m, a=alias: url(m, a, "objects/"),
                lambda c, a=alias: _collection_status(c, a, "read"),
            ),
            (
                "GET",
                f"{alias}: manifest",
                lambda m, a=alias: url(m, a, "manifest/"),
                lambda c, a=alias: _collection_status(c, a, "read"),
            ),
            (
                "POST",
                f"{alias}: add objects",
                lambda m, a=alias: url(m, a, "objects/"),
                lambda c, a=alias: _collection_status(c, a, "write"),
            ),
        ]
    routes += [
        (
            "GET",
            "finance-tg: one object",
            lambda m: _group_object(m, m.object_id),
            lambda c: _collection_status(c, "finance-tg", "read"),
        ),
        (
            "GET",
            "finance-tg: versions",
            lambda m: (
                f"/taxii2/hub/collections/{m.ids['finance-tg']}/objects/{m.object_id}/versions/"
            ),
            lambda c: _collection_status(c, "finance-tg", "read"),
        ),
        (
            "DELETE",
            "finance-tg: delete an object that is not the caller's",
            lambda m: (
                f"/taxii2/hub/collections/{m.ids['finance-tg']}/objects/indicator--5d0c1c43-4a54-4ef8-9f73-7f9d2a2b6f10/"
            ),
            lambda c: {202: 404}.get(
                _collection_status(c, "finance-tg", "write"),
                _collection_status(c, "finance-tg", "write"),
            ),
        ),
    ]
    return routes


def _acme_only(caller: str) -> int:
    """Acme's own status, submission and receipts: Acme's keys only; hidden from others."""
    if caller not in VALID:
        return 401
    return 200 if caller in ("industry", "industry-read-only") else 404


def _group_object(m: Matrix, object_id: str) -> str:
    return f"/taxii2/hub/collections/{m.ids['finance-tg']}/objects/{object_id}/"


def _delete_unowned(caller: str) -> int:
    """A writer deleting what it did not submit finds nothing of its own to delete: 404."""
    allowed = _collection_status(caller, "finance-tg", "write")
    return 404 if allowed == 202 else allowed


def _seen(caller: str, alias: str) -> int:
    if caller not in VALID:
        return 401
    return 200 if caller in READERS[alias] | WRITERS[alias] else 404


ROUTES = _routes()


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("method", "name", "path", "expected"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES]
)
def test_route_answers_each_caller_as_the_table_says(
    matrix: Matrix,
    caller: str,
    method: str,
    name: str,
    path: Callable[[Matrix], str],
    expected: Callable[[str], int],
) -> None:
    body = None
    headers = {"Accept": TAXII}
    if method == "POST":
        body = envelope(indicator("203.0.113.250"))
        headers["Content-Type"] = TAXII if "/taxii2/" in path(matrix) else "application/json"
    if "/api/" in path(matrix) or not path(matrix).startswith("/taxii2/"):
        headers.pop("Accept")
    if caller == "console-session":
        # Sent even where a browser would not (the cookie's path is /console).
        headers["Cookie"] = f"hub_console={matrix.console_cookie}"
    response = requests.request(
        method,
        matrix.live.url + path(matrix),
        json=body,
        headers=headers,
        auth=matrix.auth[caller],
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == expected(caller), f"{name} as {caller}: {response.text}"
    if response.status_code == 401:
        assert "WWW-Authenticate" in response.headers
    if response.status_code in (401, 403, 404) and path(matrix).startswith("/taxii2/"):
        assert response.headers["Content-Type"].startswith("application/taxii+json")


def test_every_route_outside_the_console_has_a_row(matrix: Matrix) -> None:
    app = matrix.live.app
    adapter = app.url_map.bind("127.0.0.1")
    reached = {
        (method, adapter.match(path(matrix), method=method)[0]) for method, _, path, _ in ROUTES
    }
    every = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("console.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert sorted(every - reached) == [], "routes no row of the table reaches"
