"""PostgreSQL's planner statistics follow the store as it grows, autovacuum or not."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.storage.engine import Database
from tests.support.hubs import make_hub


def last_analyzed(db: Database) -> dict[str, datetime]:
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, last_analyze FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema() AND last_analyze IS NOT NULL"
            )
        )
        return {str(name): when for name, when in rows}


@pytest.mark.postgres
def test_init_and_growth_analyze_the_tables(pg_schema_url: str, tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "var", pg_schema_url)
    try:
        at_init = last_analyzed(hub.db)
        assert {"object_versions", "submissions", "status_details"} <= at_init.keys()
        hub.db.wrote(999)
        assert last_analyzed(hub.db) == at_init  # not yet grown enough to matter
        hub.db.wrote(1)
        assert last_analyzed(hub.db)["object_versions"] > at_init["object_versions"]
    finally:
        hub.close()


def test_sqlite_needs_no_statistics(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "var")
    try:
        hub.db.wrote(10_000)  # nothing to do, and no error
    finally:
        hub.close()
