"""Bring a database to the newest schema with the Alembic migrations shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.storage.engine import Database

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Apply every migration not yet applied, up to `revision` (idempotent)."""
    config = _config()
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(database: Database, revision: str) -> None:
    """Undo the migrations after `revision`."""
    config = _config()
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def is_current(database: Database) -> bool:
    """True if the database has every migration applied."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head
