"""The client address behind a reverse proxy: X-Forwarded-For is believed only from as many
proxies as `server.trusted_proxies` says, through a live server on loopback, as seen by the
sign-in lock-out and the audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from hub.services import Hub
from tests.support.console import ADMIN, audit_actions
from tests.support.hubs import LiveServer, make_hub

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
# Three failures from one address lock it; accounts are never locked here.
LOCKOUT = {"lockout_address_threshold": 3, "lockout_threshold": 100}


def sign_in(
    server: LiveServer, email: str, password: str, headers: dict[str, str]
) -> requests.Response:
    """One browser's sign-in attempt, through the proxy headers given."""
    with requests.Session() as browser:
        page = browser.get(f"{server.url}/console/sign-in", headers=headers, timeout=30)
        found = _TOKEN.search(page.text)
        assert found is not None
        return browser.post(
            f"{server.url}/console/sign-in",
            data={"csrf_token": found.group(1), "email": email, "password": password},
            headers=headers,
            allow_redirects=False,
            timeout=30,
        )


def session_cookie_is_secure(server: LiveServer, headers: dict[str, str]) -> bool:
    page = requests.get(f"{server.url}/console/sign-in", headers=headers, timeout=30)
    cookie = page.headers["Set-Cookie"].lower()
    assert cookie.startswith("hub_console=")
    return "; secure" in cookie


def addresses(hub: Hub, action: str) -> list[str]:
    return [orjson.loads(e["detail"])["address"] for e in audit_actions(hub, action)]


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Hub, LiveServer]]:
    hub = make_hub(tmp_path / "var", server={"trusted_proxies": request.param}, console=LOCKOUT)
    server = LiveServer(hub)
    yield hub, server
    server.stop()
    hub.close()


@pytest.mark.parametrize("served", [0], indirect=True)
def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(
    served: tuple[Hub, LiveServer],
) -> None:
    hub, server = served
    # A client guessing passwords cannot dodge the address lock-out by claiming addresses.
    for number in range(3):
        forged = {"X-Forwarded-For": f"198.51.100.{number}"}
        assert (
            sign_in(server, f"guess{number}@hub.local", "not anyone's", forged).status_code == 401
        )
    locked = sign_in(server, *ADMIN, {"X-Forwarded-For": "198.51.100.99"})
    assert locked.status_code == 429
    assert addresses(hub, "console.sign_in_failed") == ["127.0.0.1"] * 4
    # Nor does a forwarded scheme make plain http look like https.
    assert not session_cookie_is_secure(server, {"X-Forwarded-Proto": "https"})


@pytest.mark.parametrize("served", [1], indirect=True)
def test_behind_one_trusted_proxy_the_address_it_saw_is_the_client(
    served: tuple[Hub, LiveServer],
) -> None:
    hub, server = served
    # The proxy appends the address it saw to whatever the client sent: only that one counts.
    through = {"X-Forwarded-For": "203.0.113.66, 198.51.100.7"}
    for number in range(3):
        assert (
            sign_in(server, f"guess{number}@hub.local", "not anyone's", through).status_code == 401
        )
    assert sign_in(server, *ADMIN, through).status_code == 429  # that address is locked out
    # Another client behind the same proxy is not.
    assert sign_in(server, *ADMIN, {"X-Forwarded-For": "198.51.100.8"}).status_code == 302
    assert addresses(hub, "console.sign_in_failed") == ["198.51.100.7"] * 4
    assert addresses(hub, "console.sign_in") == ["198.51.100.8"]
    # TLS ends at the proxy: the session cookie is still sent only over https.
    assert session_cookie_is_secure(server, {"X-Forwarded-Proto": "https"})
    assert not session_cookie_is_secure(server, {"X-Forwarded-Proto": "http"})
