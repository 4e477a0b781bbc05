"""Building hubs, members and keys for tests, and serving them on loopback."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from hub.app import create_app
from hub.config import Settings, load_settings, replace
from hub.services import Hub, membership, setup
from hub.services import collections as collection_service
from hub.storage.membership import Member


def make_settings(data_dir: Path, database_url: str = "", **sections: dict[str, Any]) -> Settings:
    settings = load_settings(None, env={})
    storage = {"data_dir": str(data_dir), "url": database_url, **sections.pop("storage", {})}
    return replace(settings, storage=storage, **sections)


def make_hub(data_dir: Path, database_url: str = "", **sections: dict[str, Any]) -> Hub:
    hub = Hub.open(make_settings(data_dir, database_url, **sections))
    setup.init(hub, admin_password="an admin password for tests")
    return hub


@dataclass
class Account:
    """A member with one API key, as a TAXII client would use it."""

    member: Member
    key_id: str
    secret: str

    @property
    def basic(self) -> tuple[str, str]:
        return (self.key_id, self.secret)


def add_account(
    hub: Hub,
    name: str,
    kind: str,
    *,
    sector: str | None = None,
    scope: str = "read,write",
    consent: str = "none",
) -> Account:
    member = membership.add_member(hub, name, kind, sector=sector, consent=consent)
    issued = membership.issue_key(hub, member.id, scope)
    return Account(member, issued.key.id, issued.secret)


@dataclass
class World:
    """A hub with three members and a finance trust group, ready to serve."""

    hub: Hub
    acme: Account  # industry, finance
    northwind: Account  # industry, energy
    cert: Account  # government
    trust_group_id: str
    collection_ids: dict[str, str] = field(default_factory=dict)


def make_world(hub: Hub) -> World:
    acme = add_account(hub, "Acme Bank", "industry", sector="finance")
    northwind = add_account(hub, "Northwind Energy", "industry", sector="energy")
    cert = add_account(hub, "National CERT", "government", sector="government")
    group = collection_service.add_collection(
        hub,
        "finance-tg",
        "Finance trust group",
        readers=["industry:finance", "government"],
        writers=["industry:finance"],
    )
    ids = {c.alias: c.id for c in collection_service.list_all(hub)}
    return World(hub, acme, northwind, cert, group.id, ids)


class LiveServer:
    """The hub's WSGI app on a loopback port, in a thread (threaded, like the real server)."""

    def __init__(self, hub: Hub) -> None:
        self.app = create_app(hub.settings, hub)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def api_root(self) -> str:
        return f"{self.url}/taxii2/hub/"

    def collection_url(self, collection_id: str) -> str:
        return f"{self.api_root}collections/{collection_id}/"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        worker = self.app.extensions.get("hub.worker")
        if worker is not None:
            worker.stop()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
