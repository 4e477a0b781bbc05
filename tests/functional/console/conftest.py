"""Fixtures for the console's functional tests: an app on SQLite with one user per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from hub.app import create_app
from hub.services import Hub
from tests.support.console import Console, Staff, add_staff
from tests.support.hubs import World, make_hub, make_world


@dataclass
class Site:
    hub: Hub
    app: Flask
    world: World
    staff: Staff

    def console(self) -> Console:
        return Console(self.app)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    hub = make_hub(tmp_path / "var", sharing={"detect_email": "hold"})
    world = make_world(hub)
    staff = add_staff(world)
    yield Site(hub, create_app(hub.settings, hub, start_worker=False), world, staff)
    hub.close()
