"""First-run setup: schema, secrets, configured collections, the admin account, demo data."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from hub.services import membership
from hub.services.collections import sync_configured
from hub.services.context import Hub, ensure_secret_files
from hub.services.sharing import sync_policy
from hub.storage import migrate

DEMO_MEMBERS = (
    ("Acme Bank", "industry", "finance", "government"),
    ("Northwind Energy", "industry", "energy", "none"),
    ("National CERT", "government", "government", "everyone"),
)


@dataclass
class InitReport:
    database: str
    secrets_created: list[str] = field(default_factory=list)
    collections_created: list[str] = field(default_factory=list)
    admin_email: str | None = None
    admin_password: str | None = None  # only when generated here, to be shown once
    demo_keys_file: str | None = None


def prepare(hub: Hub) -> list[str]:
    """Schema up to date, configured collections and policy in place; what `hub serve` and
    `hub worker` run first."""
    migrate.upgrade(hub.db)
    created = sync_configured(hub)
    sync_policy(hub)
    hub.db.analyze()
    return created


def init(
    hub: Hub,
    *,
    admin_email: str | None = None,
    admin_password: str | None = None,
    demo: bool = False,
) -> InitReport:
    """Idempotent: creates what is missing and leaves what exists alone."""
    report = InitReport(database=hub.db.url.render_as_string(hide_password=True))
    report.secrets_created = [str(p) for p in ensure_secret_files(hub.settings)]
    report.collections_created = prepare(hub)
    email = (admin_email or "admin@hub.local").strip().lower()
    if membership.find_user(hub, email) is None:
        password = admin_password or secrets.token_urlsafe(18)
        membership.add_user(hub, email, password, "admin")
        report.admin_email = email
        if admin_password is None:
            report.admin_password = password
    if demo:
        report.demo_keys_file = str(_demo(hub))
    return report


def _demo(hub: Hub) -> Path:
    """Demo members, each with a read,write key, written to a 0600 file in the data dir."""
    path = hub.settings.data_dir / "demo-keys.json"
    if path.exists():
        return path
    keys = []
    for name, kind, sector, consent in DEMO_MEMBERS:
        existing = [m for m in membership.list_members(hub) if m.name == name]
        member = (
            existing[0]
            if existing
            else membership.add_member(hub, name, kind, sector=sector, consent=consent)
        )
        issued = membership.issue_key(hub, member.id, "read,write", label="demo")
        keys.append(
            {"member": name, "kind": kind, "key_id": issued.key.id, "secret": issued.secret}
        )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(orjson.dumps(keys, option=orjson.OPT_INDENT_2))
    return path
