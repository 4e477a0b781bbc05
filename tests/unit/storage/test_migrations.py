"""The Alembic migrations build exactly the schema tables.py declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.services import Hub
from hub.storage import migrate
from hub.storage.tables import metadata


def test_migrations_match_the_declared_tables(any_hub: Hub) -> None:
    with any_hub.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_current(any_hub: Hub) -> None:
    migrate.upgrade(any_hub.db)
    assert migrate.is_current(any_hub.db)
