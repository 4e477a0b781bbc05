"""Driving the console in tests: a test client that signs in and sends the CSRF token, and a
hub with one console user of each role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import orjson
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from hub.services import Hub, membership
from hub.storage.membership import User
from tests.support.hubs import World
from tests.support.stix import indicator

PASSWORD = "a console password for tests"
ADMIN = ("admin@hub.local", "an admin password for tests")
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """One browser's worth of console: cookies, and the CSRF token of its session."""

    def __init__(self, app: Flask) -> None:
        self.client: FlaskClient = app.test_client()
        self._token: str | None = None

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.get(path, **kwargs)
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self._token = found.group(1)
        return response

    def token(self) -> str:
        """The CSRF token of this session (a new session, or a new sign-in, has a new one)."""
        if self._token is None:
            self.get("/console/sign-in")
        if self._token is None:  # signed in already: the sign-in page redirects
            self.get("/console/account")
        assert self._token is not None
        return self._token

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token())
        response = self.client.post(path, data=form, **kwargs)
        if response.status_code == 302 and "/sign-in" in path:
            self._token = None
        found = _TOKEN.search(response.get_data(as_text=True))
        if found:
            self._token = found.group(1)
        return response

    def sign_in(self, email: str, password: str = PASSWORD) -> TestResponse:
        self._token = None
        response = self.post("/console/sign-in", {"email": email, "password": password})
        if response.status_code == 302:
            self._token = None  # signing in starts a new session, with a new token
        return response

    def cookie(self) -> str | None:
        found = self.client.get_cookie("hub_console", path="/console")
        return found.value if found else None


@dataclass
class Staff:
    analyst: User
    member_admin: User  # of Northwind Energy
    acme_admin: User  # member-admin of Acme Bank


def add_staff(world: World) -> Staff:
    hub = world.hub
    analyst = membership.add_user(hub, "analyst@hub.local", PASSWORD, "analyst")
    northwind = membership.add_user(
        hub, "it@northwind.example", PASSWORD, "member-admin", member_id=world.northwind.member.id
    )
    acme = membership.add_user(
        hub, "soc@acme.example", PASSWORD, "member-admin", member_id=world.acme.member.id
    )
    return Staff(analyst, northwind, acme)


def submit(app: Flask, secret: str, *objects: dict[str, Any]) -> dict[str, Any]:
    """POST objects to the inbox through the REST API, as a member's client would."""
    response = app.test_client().post(
        "/api/v1/submissions",
        data=orjson.dumps({"objects": list(objects)}),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201, 202), response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def held_indicator(value: str = "203.0.113.9") -> dict[str, Any]:
    """An indicator the e-mail detector holds when detect_email is "hold"."""
    return indicator(value, description=f"Seen by jane.doe@victim.example near {value}")


def version_made(hub: Hub, number: int) -> tuple[str, str | None, str | None]:
    """Where policy version `number` came from, who made it and why: (source, author, note)."""
    from hub.storage.sharing import PolicyRepository

    with hub.db.read() as conn:
        stored = PolicyRepository(conn).get(number)
    assert stored is not None, number
    return stored.source, stored.author, stored.note


def audit_actions(hub: Hub, action: str | None = None) -> list[dict[str, Any]]:
    from hub.services.accountability import audit_trail

    return audit_trail(hub, action=action)


class LiveConsole:
    """A browser's worth of console against a live server (requests, over loopback): its
    cookie and the CSRF token of its session. Redirects are returned, not followed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self._token: str | None = None
        self.frozen = False  # keep sending the token it has, whatever the pages carry

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        response = self.http.get(self.base_url + path, allow_redirects=False, timeout=30, **kwargs)
        self._remember(response)
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> requests.Response:
        form = dict(data or {})
        if csrf and self._token is not None:
            form.setdefault("csrf_token", self._token)
        response = self.http.post(
            self.base_url + path, data=form, allow_redirects=False, timeout=30, **kwargs
        )
        self._remember(response)
        return response

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        self.get("/console/sign-in")
        response = self.post("/console/sign-in", {"email": email, "password": password})
        if response.status_code == 302:
            self.get("/console/account")  # a new session: pick up its token
        return response

    def _remember(self, response: requests.Response) -> None:
        if not self.frozen and "text/html" in response.headers.get("Content-Type", ""):
            found = _TOKEN.search(response.text)
            if found:
                self._token = found.group(1)


@dataclass
class Row:
    """One row of an HTML table: the row's attributes and its cells (classes, text)."""

    attrs: dict[str, str]
    cells: list[tuple[set[str], str]] = field(default_factory=list)

    def cell(self, cls: str) -> str:
        """The text of the row's cell with this class."""
        for classes, text in self.cells:
            if cls in classes:
                return text
        raise KeyError(f"no cell of class {cls!r} in {self.attrs}")


def table_rows(html: str, table_id: str) -> list[Row]:
    """The body rows of the table with this id, as a person reads them (text, whitespace
    collapsed)."""
    parser = _TableParser(table_id)
    parser.feed(html)
    return parser.rows


class _TableParser(HTMLParser):
    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.inside = False
        self.in_body = False
        self.rows: list[Row] = []
        self._cell: list[str] | None = None
        self._classes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "table" and values.get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tbody":
            self.in_body = True
        elif self.in_body and tag == "tr":
            self.rows.append(Row(values))
        elif self.in_body and tag == "td":
            self._cell, self._classes = [], set(values.get("class", "").split())

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = self.in_body = False
        elif tag == "td" and self._cell is not None and self.rows:
            self.rows[-1].cells.append((self._classes, " ".join("".join(self._cell).split())))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
