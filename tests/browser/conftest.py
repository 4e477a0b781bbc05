"""Browser tests: Playwright driving Debian's Chromium (package `chromium`) against the hub
served on loopback. No browser is ever downloaded: the executable is the system's, and a
missing one fails the run with the line that says what to install.

Screenshots of the pages visited are written to $HUB_TEST_ARTEFACTS (default
test-artefacts/browser/), for people to look at after a run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from hub.services import Hub
from tests.support.console import Staff, add_staff
from tests.support.hubs import LiveServer, World, make_hub, make_world

pytestmark = pytest.mark.browser

CHROMIUM_NAMES = ("chromium", "chromium-browser")
ARTEFACTS = Path(os.environ.get("HUB_TEST_ARTEFACTS", "test-artefacts")) / "browser"


def chromium_path() -> str:
    configured = os.environ.get("HUB_TEST_CHROMIUM")
    if configured:
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("browser tests need Debian's Chromium: apt-get install chromium", pytrace=False)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
    launched = playwright.chromium.launch(
        executable_path=chromium_path(), args=["--no-sandbox", "--disable-dev-shm-usage"]
    )
    yield launched
    launched.close()


@dataclass
class Live:
    hub: Hub
    server: LiveServer
    world: World
    staff: Staff

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    hub = make_hub(tmp_path / "var", sharing={"detect_email": "hold"})
    world = make_world(hub)
    staff = add_staff(world)
    server = LiveServer(hub)
    yield Live(hub, server, world, staff)
    server.stop()
    hub.close()


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    # Confirmation dialogs (data-confirm) are accepted, as a person clicking OK would.
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
